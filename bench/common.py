"""Shared pieces of the benchmarks: timing, synthetic classes, bare notebook execution."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

from autograder.course import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions"
STUDENTS = ("student-full", "student-partial", "student-untouched")


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bare_execute(notebook: Path, kernel: str = "cnn-course") -> float:
    """Seconds for a plain nbclient run of ``notebook`` (kernel start included), errors allowed."""
    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        cfg = Config()
        cfg.KernelManager.transport = "ipc"
        cfg.KernelManager.ip = f"{tmp}/k"
        client = NotebookClient(nb, kernel_name=kernel, timeout=600, allow_errors=True, config=cfg,
                                resources={"metadata": {"path": tmp}})
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start


def synthetic_class(root: Path, assignment: str, n: int) -> Path:
    """``n`` students for ``assignment`` cycling through the example students, in nbgrader layout."""
    for i in range(n):
        source = EXAMPLES / STUDENTS[i % len(STUDENTS)] / assignment / f"{assignment}.ipynb"
        target = root / f"s{i:03d}" / assignment
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{assignment}.ipynb").write_bytes(source.read_bytes())
    return root
