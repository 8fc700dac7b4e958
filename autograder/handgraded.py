"""Written answers graded by hand: which are still waiting for a grader, and their model answers.

A think question is a markdown cell that nbgrader marks ``grade`` and ``solution``: autograding
leaves it at 0 with ``needs_manual_grade`` set, and the formgrader's manual score replaces that.
The source notebook's copy of the cell holds the model answer and the rubric.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat

from autograder.course import Course

STUB = "YOUR ANSWER HERE"


@dataclass(frozen=True)
class Pending:
    """Answers of one submission that no one has graded yet: how many, and their points."""

    answers: int = 0
    points: float = 0.0

    def __add__(self, other: Pending) -> Pending:
        return Pending(self.answers + other.answers, self.points + other.points)

    def describe(self) -> str:
        """E.g. ``"3 written answers (5 points) to grade by hand"``; '' when nothing waits."""
        if not self.answers:
            return ""
        noun = "answer" if self.answers == 1 else "answers"
        return f"{self.answers} written {noun} ({self.points:g} points) to grade by hand"


def pending(submission) -> Pending:  # noqa: ANN001 - an nbgrader SubmittedAssignment or SubmittedNotebook
    """The hand-graded answers of a gradebook submission that still have no manual score."""
    notebooks = getattr(submission, "notebooks", None) or [submission]
    found = Pending()
    for notebook in notebooks:
        for grade in notebook.grades:
            if grade.cell.cell_type == "markdown" and grade.manual_score is None:
                found += Pending(1, float(grade.max_score))
    return found


def model_answers(course: Course, assignment: str, lang: str = "en") -> dict[str, str]:
    """``grade_id -> model answer and rubric`` (markdown) of every think question, in ``lang``."""
    nb = nbformat.read(course.source_notebook(assignment), as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.cells
               if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade")}
    if lang == "zh":
        from autograder.translation.catalogs import catalog_path, load

        catalog = load(catalog_path(course.root, assignment))
        answers = {k: str(getattr(catalog.get(v), "string", "") or v) for k, v in answers.items()}
    return answers


def written(source: str) -> bool:
    """Whether a student replaced the blank of an answer cell with text of their own."""
    text = source.replace(STUB, "").strip()
    return len(text) >= 10
