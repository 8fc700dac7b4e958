"""Issue 8, faults: a killed grading run resumes, a dying worker costs only a retry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import COURSE, EXAMPLES, GradedClass, trimmed_copy
from nbgrader.api import Gradebook

from autograder.backends import DaskBackend, LocalBackend
from autograder.course import Workspace
from autograder.engine import grade
from autograder.submissions import discover_layout

pytestmark = pytest.mark.grading
NB01 = "01_conv_arithmetic"
EXPECTED = {"student-full": 12.0, "student-partial": 5.0, "student-untouched": 0.0}


def _class_of(n: int, root: Path) -> Path:
    """``n`` students of notebook 01 (demo cells removed), cycling through the three example students."""
    names = list(EXPECTED)
    for i in range(n):
        source = names[i % 3]
        trimmed_copy(EXAMPLES / "submissions" / source / NB01 / f"{NB01}.ipynb",
                     root / f"s{i:02d}-{source}" / NB01 / f"{NB01}.ipynb")
    return root


def _expected_score(student: str) -> float:
    return EXPECTED[student.split("-", 1)[1]]


def _markers(ws: Path) -> list[Path]:
    return list(ws.glob(f"autograded/*/{NB01}/.grading.json"))


def _worker_pids(grader_pid: int | None = None, forked_only: bool = False) -> list[int]:
    """Worker processes: fork servers and the per-job workers they fork (of one grader, if given).

    A fork server's command line names its grader (``/g<pid>-server``) and its forked workers
    share that command line; a fallback worker names its job dir (``/tmp/g<pid>-*``).
    ``forked_only``: just the per-job workers (whose parent is a fork server).
    """
    found: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if any(b"autograder.worker" in part or b"autograder.forkserver" in part for part in cmd) and (
                    grader_pid is None or any(f"/g{grader_pid}-".encode() in part for part in cmd)):
                found[int(proc.name)] = ppid
    if forked_only:
        return [pid for pid, ppid in found.items() if ppid in found]
    return list(found)


def test_a_run_killed_mid_class_resumes_and_grades_each_submission_once(tmp_path) -> None:
    subs = _class_of(4, tmp_path / "class")
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "autograder", "--workspace", str(ws), "grade", str(subs), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=COURSE.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 600
    while not _markers(ws) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.parent.name for p in _markers(ws)}
    assert 1 <= len(done_before) < 4
    time.sleep(1)
    assert not _worker_pids(proc.pid), "workers must die with the grader"

    again = subprocess.run(cmd, cwd=COURSE.root, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(done_before)} already graded, skipped" in again.stdout
    assert f"graded {4 - len(done_before)} in" in again.stdout
    with Gradebook(f"sqlite:///{ws / 'gradebook.db'}") as gb:
        students = {s.id for s in gb.students}
        assert len(students) == 4
        for student in students:
            sub = gb.find_submission(NB01, student)
            assert sub.score == _expected_score(student), student
            assert len(sub.notebooks) == 1
    for marker in _markers(ws):
        assert json.loads(marker.read_text())["status"] == "ok"


def test_a_worker_that_dies_costs_only_a_retry(tmp_path) -> None:
    subs, _ = discover_layout(_class_of(3, tmp_path / "class"), COURSE)
    killed: list[int] = []

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 300
        while not killed and time.monotonic() < deadline:
            pids = _worker_pids(os.getpid(), forked_only=True)
            if pids:
                time.sleep(2)  # let it get going
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.1)

    threading.Thread(target=kill_first_worker, daemon=True).start()
    ws = Workspace(tmp_path / "ws")
    run = grade(COURSE, ws, subs, backend=LocalBackend(2), progress=False)
    assert killed, "no worker was seen"
    graded = GradedClass(ws, run)
    for sub in subs:
        outcome = graded.outcome(sub.student, NB01)
        assert outcome.status == "ok" and outcome.score == _expected_score(sub.student)


def test_a_lost_dask_worker_costs_only_a_retry(tmp_path) -> None:
    subs, _ = discover_layout(_class_of(2, tmp_path / "class"), COURSE)
    ws = Workspace(tmp_path / "ws")
    with DaskBackend(local_workers=2) as backend:
        pids = list(backend.client.run(os.getpid).values())
        victim = pids[0]

        def kill_a_dask_worker() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if _worker_pids(victim):
                    time.sleep(2)
                    os.kill(victim, signal.SIGKILL)
                    return
                time.sleep(0.1)

        threading.Thread(target=kill_a_dask_worker, daemon=True).start()
        run = grade(COURSE, ws, subs, backend=backend, progress=False)
    graded = GradedClass(ws, run)
    for sub in subs:
        outcome = graded.outcome(sub.student, NB01)
        assert outcome.status == "ok" and outcome.score == _expected_score(sub.student)
