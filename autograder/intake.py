"""Collect submissions from what an instructor has: an nbgrader-layout folder (LMS exports: issue 7)."""

from __future__ import annotations

from pathlib import Path

from autograder.course import Course
from autograder.submissions import Rejection, Submission, discover_layout


def collect(path: Path, course: Course, pattern: str | None = None) -> tuple[list[Submission], list[Rejection]]:
    """Find submissions under ``path``; problems come back as rejections, not exceptions."""
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return discover_layout(path, course)
