"""Before a class is graded: can this machine grade it at all?

One job per assignment runs the released notebook's setup cell in a sandboxed kernel, through
the same backend, worker and sandbox as the real grading, and checks that the data the
assignment reads is there. If that fails, the fault is the machine's, not a student's:
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
    """Raise :class:`PreflightFailed` with one line if a setup cell or a data check fails here."""
    limits = limits or Limits()
    env = default_env()
    key = lambda a: (a, kernel_name, repr(policy.to_dict()), repr(sorted(env.items())))  # noqa: E731
    todo = [a for a in assignments if key(a) not in _PASSED]
    jobs = [Job("preflight", a, nbformat.writes(preflight_notebook(course, a)), limits, kernel_name, {}, env,
                False, policy.to_dict()).to_dict() for a in todo]
    for job, result in backend.run(jobs):
        problem = _problem(result)
        if problem:
            raise PreflightFailed(f"preflight: {job['assignment']} cannot be graded on this machine: {problem}. "
                                  "Nothing was recorded; fix it and run the same command again")
        _PASSED.add(key(job["assignment"]))


def _problem(result: dict) -> str | None:
    if result.get("status") != "ok":
        return f"{result.get('status')}: {result.get('reason', '')}".strip().rstrip(":")
    nb = nbformat.reads(result["notebook"], as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"{out.get('ename')}: {out.get('evalue')}"[:400]
    return None
