"""Load an assignment's solution code (setup and answer cells) as a namespace, for tests and benchmarks."""

from __future__ import annotations

from types import SimpleNamespace

import nbformat

from autograder.course import Course


def solution_namespace(assignment: str, *, setup: bool = True, course: Course | None = None) -> SimpleNamespace:
    """Run a solution notebook's setup and answer cells (not tests, not demos); return its names.

    Lines starting with ``%`` or ``!`` (magics) are skipped.
    """
    course = course or Course()
    nb = nbformat.read(course.source_notebook(assignment), as_version=4)
    namespace: dict = {"__name__": f"solution_{assignment}"}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        wanted = meta.get("solution") or (setup and meta.get("grade_id") == "setup")
        if cell.cell_type == "code" and wanted:
            code = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
            exec(compile(code, f"<{assignment}:{meta['grade_id']}>", "exec"), namespace)  # noqa: S102
    return SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})
