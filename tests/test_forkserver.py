"""The fork server: one warm process per grader thread, a fresh forked worker per job."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from autograder.forkserver import ForkServer, server_for_this_thread

pytestmark = pytest.mark.grading


def _broken_job(root: Path, name: str) -> Path:
    workdir = root / name
    (workdir / "work").mkdir(parents=True)
    (workdir / "job.json").write_text("{ not json")
    return workdir


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_crashing_job_is_reported_and_the_server_serves_the_next(tmp_path) -> None:
    server = ForkServer()
    try:
        for name in ("a", "b"):
            workdir = _broken_job(tmp_path, name)
            assert server.run(workdir, timeout_s=120) == 1
            log = (workdir / "worker.log").read_text()
            assert "Traceback" in log and "JSONDecodeError" in log, log
            assert server.alive(), "a crashing job must not take the server with it"
    finally:
        server.close()


def test_a_job_past_its_limit_is_killed_and_the_server_lives_on(tmp_path) -> None:
    workdir = tmp_path / "hang"
    (workdir / "work").mkdir(parents=True)
    os.mkfifo(workdir / "job.json")  # the worker blocks opening it: a job that never ends
    server = ForkServer()
    try:
        server.run(_broken_job(tmp_path, "warm-up"), timeout_s=120)  # imports done before timing
        start = time.monotonic()
        assert server.run(workdir, timeout_s=1) == -9
        assert time.monotonic() - start < 10
        assert server.run(_broken_job(tmp_path, "after"), timeout_s=120) == 1
    finally:
        server.close()


def test_one_server_per_thread_and_it_dies_with_its_thread() -> None:
    seen: list[ForkServer] = []

    def use_twice() -> None:
        seen.append(server_for_this_thread())
        seen.append(server_for_this_thread())

    thread = threading.Thread(target=use_twice)
    thread.start()
    thread.join()
    assert seen[0] is seen[1], "a thread reuses its server"
    pid = seen[0].proc.pid
    deadline = time.monotonic() + 10
    while seen[0].proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the server must die with the grader thread that started it"
