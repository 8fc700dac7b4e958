"""Export the gradebook to CSV with nbgrader's own exporter."""

from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import CsvExportPlugin

from autograder.course import COURSE_ID, Workspace


def export_csv(workspace: Workspace, path: Path | None = None) -> Path:
    """Write one row per (assignment, student) to ``grades.csv``; return its path."""
    target = path or workspace.grades_csv
    target.parent.mkdir(parents=True, exist_ok=True)
    plugin = CsvExportPlugin()
    plugin.to = str(target)
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        plugin.export(gb)
    return target
