"""Build the example class in ``examples/submissions`` from ``course/`` and ``solutions/``.

Three students with every notebook, and two who submit the Chinese release:

- ``student-full``: the release with every answer cell filled from the solutions;
- ``student-untouched``: the release as students receive it;
- ``student-partial``: the release with the answers listed in ``examples/partial/<assignment>.py``
  (``ANSWERS``: ``"solution"`` or replacement code, keyed by answer-cell id). That file
  also states ``EXPECTED_SCORE`` and the diagnosis tags the tests expect;
- ``student-full-zh``: every notebook of the Chinese release (``course-zh/``) with the solutions:
  the Chinese solutions must earn every autograded point;
- ``student-partial-zh``: the partial student's answers to notebook 01 in the Chinese release: the
  same code must earn the same score, cell by cell, with its feedback in Chinese.

``python -m autograder.examples`` rewrites the folder; a test proves it is in sync.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import nbformat

from autograder.course import REPO_ROOT, Course

EXAMPLES = REPO_ROOT / "examples"
STUDENTS = ("student-full", "student-partial", "student-untouched", "student-full-zh", "student-partial-zh")
ZH_TWIN = {"student-full-zh": "student-full", "student-partial-zh": "student-partial"}  # Chinese -> English twin
ZH_PARTIAL = ("01_conv_arithmetic",)  # the Chinese partial student's notebooks (one keeps the demo quick)
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def partial_spec(assignment: str, examples: Path = EXAMPLES) -> dict:
    """The partial student's plan for ``assignment`` (empty dict if there is none)."""
    path = examples / "partial" / f"{assignment}.py"
    return runpy.run_path(str(path)) if path.exists() else {}


def _source(course: Course, assignment: str, lang: str) -> nbformat.NotebookNode:
    nb = nbformat.read(course.source_notebook(assignment), as_version=4)
    if lang == "zh":
        from autograder.translation.build import translated
        from autograder.translation.catalogs import catalog_path, load

        nb = translated(nb, load(catalog_path(course.root, assignment)), assignment)
    return nb


def _release(course: Course, assignment: str, lang: str) -> nbformat.NotebookNode:
    from autograder.translation.build import ZH_RELEASE_DIR

    folder = course.root / ZH_RELEASE_DIR if lang == "zh" else course.release_dir
    return nbformat.read(folder / assignment / f"{assignment}.ipynb", as_version=4)


def solution_sources(course: Course, assignment: str, lang: str = "en") -> dict[str, str]:
    """Each answer cell's full solution (in ``lang``), markers removed, keyed by grade id."""
    nb = _source(course, assignment, lang)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [ln for ln in cell.source.splitlines() if ln.strip() not in SOLUTION_MARKERS]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def filled(course: Course, assignment: str, answers: dict[str, str], lang: str = "en") -> nbformat.NotebookNode:
    """The released notebook (in ``lang``) with the given answer cells replaced."""
    nb = _release(course, assignment, lang)
    solutions = solution_sources(course, assignment, lang)
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
        everything = dict.fromkeys(solution_sources(course, assignment), "solution")
        partial = partial_spec(assignment).get("ANSWERS", {})
        notebooks = {
            "student-full": filled(course, assignment, everything),
            "student-untouched": nbformat.read(course.release_notebook(assignment), as_version=4),
            "student-partial": filled(course, assignment, partial),
            "student-full-zh": filled(course, assignment, everything, "zh"),
        }
        if assignment in ZH_PARTIAL:
            notebooks["student-partial-zh"] = filled(course, assignment, partial, "zh")
        for student, nb in notebooks.items():
            path = target / student / assignment / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    course = Course()
    names = [course.require(a) for a in (sys.argv[1:] if argv is None else argv)]
    target = EXAMPLES / "submissions"
    if not names and target.is_dir():  # a full rebuild leaves no stale student or notebook behind
        import shutil

        shutil.rmtree(target)
    paths = build(course, target, names or None)
    print(f"wrote {len(paths)} notebooks under {EXAMPLES / 'submissions'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
