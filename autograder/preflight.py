"""Before a class is graded: can this machine grade it at all?

One job runs every graded assignment's setup cell in a sandboxed kernel, through the same
backend, worker and sandbox as the real grading, and checks that the data each assignment
reads is there. If that fails, the fault is the machine's, not a student's:
:class:`PreflightFailed` stops the run before anything is recorded.
"""

from __future__ import annotations

import nbformat

from autograder.backends import Backend
from autograder.course import Course, CourseError
from autograder.jobs import Job, default_env
from autograder.limits import Limits
from autograder.sandbox import Policy

SETUP_ID = "setup"
DATA_CHECKS = {"mnist": "from cnnlab.data import require_mnist\nrequire_mnist()"}
_PASSED: set[tuple] = set()  # checks passed in this process (a test session grades many times)


class PreflightFailed(CourseError):
    """This machine cannot grade the class; nothing was recorded."""


def preflight_notebook(course: Course, assignment: str) -> nbformat.NotebookNode:
    """The release's cells up to its setup cell, then a check of each data set the notebook reads."""
    nb = nbformat.read(course.release_notebook(assignment), as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source))
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == SETUP_ID:
            break
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code").lower()
    cells += [nbformat.v4.new_code_cell(check) for name, check in DATA_CHECKS.items() if name in code]
    nb.cells = cells
    return nb


def preflight(course: Course, assignments: list[str], backend: Backend, policy: Policy,
              kernel_name: str, limits: Limits | None = None) -> None:
    """Raise :class:`PreflightFailed` with one line if a setup cell or a data check fails here.

    All the assignments' checks run in one kernel, one after another: one kernel start per run.
    """
    limits = limits or Limits()
    env = default_env()
    key = lambda a: (a, kernel_name, repr(policy.to_dict()), repr(sorted(env.items())))  # noqa: E731
    todo = [a for a in assignments if key(a) not in _PASSED]
    if not todo:
        return
    nb = nbformat.v4.new_notebook()
    owner: list[str] = []
    for assignment in todo:
        cells = preflight_notebook(course, assignment).cells
        nb.cells += cells
        owner += [assignment] * len(cells)
    job = Job("preflight", todo[0], nbformat.writes(nb), limits, kernel_name, {}, env, False, policy.to_dict())
    for _, result in backend.run([job.to_dict()]):
        where, problem = _problem(result, owner)
        if problem:
            raise PreflightFailed(f"preflight: {where} cannot be graded on this machine: {problem}. "
                                  "Nothing was recorded; fix it and run the same command again")
    _PASSED.update(key(a) for a in todo)


def _problem(result: dict, owner: list[str]) -> tuple[str, str | None]:
    """(the assignment whose check failed, why), or ``(.., None)`` when every check passed."""
    if result.get("status") != "ok" and not result.get("notebook"):
        return owner[0], f"{result.get('status')}: {result.get('reason', '')}".strip().rstrip(":")
    nb = nbformat.reads(result["notebook"], as_version=4)
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                where = owner[index] if index < len(owner) else owner[0]
                if result.get("status") != "ok":
                    return where, f"{result.get('status')}: {result.get('reason', '')}".strip().rstrip(":")
                return where, f"{out.get('ename')}: {out.get('evalue')}"[:400]
    if result.get("status") != "ok":
        return owner[0], f"{result.get('status')}: {result.get('reason', '')}".strip().rstrip(":")
    return owner[0], None
