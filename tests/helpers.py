"""Shared helpers for the test suite: graded classes, notebook outputs, solution code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import Course, Workspace
from autograder.engine import GradeRun
from autograder.solutions import solution_namespace  # noqa: F401  (re-exported for tests)
from cnnlab.diagnosis import tags_in

COURSE = Course()
EXAMPLES = COURSE.root / "examples"


def selected_assignments() -> list[str]:
    """All assignments, or those named in ``$COURSE_ONLY`` (comma-separated) to test a few quickly."""
    only = [a.strip() for a in os.environ.get("COURSE_ONLY", "").split(",") if a.strip()]
    return [COURSE.require(a) for a in only] or COURSE.assignments()


@dataclass
class GradedClass:
    """A class graded into a workspace, with ways to look at the result."""

    workspace: Workspace
    run: GradeRun

    def outcome(self, student: str, assignment: str):  # noqa: ANN201
        for o in self.run.all:
            if (o.student, o.assignment) == (student, assignment):
                return o
        raise KeyError(f"{student}/{assignment} was not graded")

    def notebook(self, student: str, assignment: str) -> nbformat.NotebookNode:
        return nbformat.read(self.workspace.autograded_notebook(student, assignment), as_version=4)

    def cell_scores(self, student: str, assignment: str) -> dict[str, tuple[float, float]]:
        """``{grade_id: (score, max)}`` from the gradebook."""
        from nbgrader.api import Gradebook

        with Gradebook(self.workspace.gradebook_url) as gb:
            sub = gb.find_submission_notebook(assignment, assignment, student)
            return {g.name: (float(g.score), float(g.max_score)) for g in sub.grades}

    def cell_text(self, student: str, assignment: str, grade_id: str) -> str:
        """All output text (streams and errors) of one cell of the autograded notebook."""
        for cell in self.notebook(student, assignment).cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                return outputs_text(cell)
        raise KeyError(grade_id)

    def cell_tags(self, student: str, assignment: str, grade_id: str) -> list[str]:
        return tags_in(self.cell_text(student, assignment, grade_id))


def trimmed_copy(source: Path, target: Path) -> Path:
    """Copy a submission without its ungraded demo cells (a student may delete them): quicker to grade."""
    nb = nbformat.read(source, as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown" or c.get("metadata", {}).get("nbgrader")]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def stderr_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells that wrote to stderr."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and any(o.output_type == "stream" and o.name == "stderr" for o in c.get("outputs", []))]


def marker(workspace: Workspace, student: str, assignment: str) -> dict:
    return json.loads((workspace.autograded / student / assignment / ".grading.json").read_text())


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` from the repository root, with extra environment variables."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=COURSE.root, timeout=900, env={**os.environ, **(env or {})})


def assignment_scores(workspace: Workspace, assignment: str) -> dict[str, float]:
    """``{student: score after the late penalty}`` for one assignment in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(workspace.gradebook_url) as gb:
        return {s.student.id: float(s.score) - float(s.late_submission_penalty or 0)
                for s in gb.assignment_submissions(assignment)}


def diagnosed_tags(exercise, wrong, cases, *, until: str | None = None) -> list[str]:  # noqa: ANN001
    """The diagnosis tag of each case on which ``exercise`` rejects the wrong implementation ``wrong``.

    Cases that must raise are skipped; stops after the first ``until`` tag.
    """
    from cnnlab.diagnosis import CheckFailed

    tags = []
    for case in cases:
        if case.raises:
            continue
        try:
            exercise.check_case(wrong, case)
        except CheckFailed as failure:
            tags.append(failure.tag)
            if failure.tag == until:
                break
    return tags
