"""Build the example class in ``examples/submissions`` from ``course/`` and ``solutions/``.

Three students, each with every notebook:

- ``student-full``: the release with every answer cell filled from the solutions;
- ``student-untouched``: the release as students receive it;
- ``student-partial``: the release with the answers listed in ``examples/partial/<assignment>.py``
  (``ANSWERS``: ``"solution"`` or replacement code, keyed by answer-cell id). That file
  also states ``EXPECTED_SCORE`` and the diagnosis tags the tests expect.

``python -m autograder.examples`` rewrites the folder; a test proves it is in sync.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import nbformat

from autograder.course import REPO_ROOT, Course

EXAMPLES = REPO_ROOT / "examples"
STUDENTS = ("student-full", "student-partial", "student-untouched")
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def partial_spec(assignment: str, examples: Path = EXAMPLES) -> dict:
    """The partial student's plan for ``assignment`` (empty dict if there is none)."""
    path = examples / "partial" / f"{assignment}.py"
    return runpy.run_path(str(path)) if path.exists() else {}


def solution_sources(course: Course, assignment: str) -> dict[str, str]:
    """Each answer cell's full solution, markers removed, keyed by grade id."""
    nb = nbformat.read(course.source_notebook(assignment), as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [ln for ln in cell.source.splitlines() if ln.strip() not in SOLUTION_MARKERS]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def filled(course: Course, assignment: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given answer cells replaced."""
    nb = nbformat.read(course.release_notebook(assignment), as_version=4)
    solutions = solution_sources(course, assignment)
    unknown = set(answers) - set(solutions)
    if unknown:
        raise KeyError(f"{assignment}: no answer cells named {sorted(unknown)}")
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            answer = answers[grade_id]
            cell.source = solutions[grade_id] if answer == "solution" else answer.strip("\n")
    return nb


def build(course: Course, target: Path, assignments: list[str] | None = None) -> list[Path]:
    """Write every student's notebooks under ``target``; return the paths written."""
    written = []
    for assignment in assignments or course.assignments():
        notebooks = {
            "student-full": filled(course, assignment, dict.fromkeys(solution_sources(course, assignment),
                                                                      "solution")),
            "student-untouched": nbformat.read(course.release_notebook(assignment), as_version=4),
            "student-partial": filled(course, assignment, partial_spec(assignment).get("ANSWERS", {})),
        }
        for student, nb in notebooks.items():
            path = target / student / assignment / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    course = Course()
    names = [course.require(a) for a in (sys.argv[1:] if argv is None else argv)]
    paths = build(course, EXAMPLES / "submissions", names or None)
    print(f"wrote {len(paths)} notebooks under {EXAMPLES / 'submissions'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
