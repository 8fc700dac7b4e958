"""Validate: every source notebook passes all its tests; every released notebook passes none.

Runs the real ``nbgrader validate`` command and reads its output, because it exits 0
whether or not validation succeeded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import Course

PASS_ALL = "Success! Your notebook passes all the tests."
PASS_NONE = "Success! The notebook does not pass any tests."


@dataclass(frozen=True)
class Validation:
    """The outcome of one ``nbgrader validate`` run."""

    notebook: Path
    inverted: bool
    ok: bool
    output: str
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return ("release passes no test" if self.inverted else "source passes every test")

    def problem(self) -> str:
        """The lines of nbgrader's output that explain a failure."""
        lines = [ln for ln in self.output.splitlines() if ln.strip() and not ln.startswith("[")]
        return "\n".join(lines[:40])


def validate_notebook(course: Course, notebook: Path, *, invert: bool) -> Validation:
    """Run ``nbgrader validate [--invert] notebook`` from the course root and parse the result."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="validate-") as tmp:
        cmd = [sys.executable, "-m", "nbgrader", "validate", str(notebook),
               "--KernelManager.transport=ipc", f"--KernelManager.ip={tmp}/k"]
        if invert:
            cmd.append("--invert")
        proc = subprocess.run(cmd, cwd=course.root, capture_output=True, text=True, timeout=1800)
    output = proc.stdout + proc.stderr
    ok = (PASS_NONE if invert else PASS_ALL) in output
    return Validation(notebook, invert, ok, output, time.perf_counter() - start)


def validate_in_process(course: Course, notebook: Path) -> tuple[Validation, nbformat.NotebookNode]:
    """Validate a source notebook through nbgrader's ``Validator``; also return the executed notebook.

    The time covers the kernel's start and every cell.
    """
    from nbgrader.validator import Validator

    from autograder.settings import make_config

    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix="validate-") as tmp:
        cfg = make_config(course)
        cfg.KernelManager.transport = "ipc"
        cfg.KernelManager.ip = f"{tmp}/k"
        validator = Validator(config=cfg)
        start = time.perf_counter()
        cwd = os.getcwd()
        os.chdir(notebook.parent)
        try:
            executed = validator._preprocess(nb)
        finally:
            os.chdir(cwd)
        seconds = time.perf_counter() - start
    failed = validator._get_failed_cells(executed)
    lines = [f"failed: {validator._extract_error(cell)[-600:]}" for cell in failed]
    return Validation(notebook, False, not failed, "\n".join(lines), seconds), executed


def validate_course(course: Course, assignments: list[str] | None = None, workers: int = 2,
                    sources: bool = True, releases: bool = True) -> list[Validation]:
    """Validate sources (all tests pass) and releases (no test passes), ``workers`` at a time."""
    names = assignments or course.assignments()
    jobs = []
    for name in names:
        if sources:
            jobs.append((course.source_notebook(name), False))
        if releases:
            jobs.append((course.release_notebook(name), True))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(validate_notebook, course, nb, invert=inv) for nb, inv in jobs]
        return [f.result() for f in futures]
