"""A grading job: everything a worker needs to execute one submission, as plain data.

Jobs and results are JSON-friendly dicts, so the same :func:`run_job` runs in a local
thread pool or on a Dask worker on another machine.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.forkserver import ServerGone, kill_group, server_for_this_thread, set_death_signal
from autograder.limits import Limits

WORKER_CRASHED = "worker-crashed"
KERNEL_START_FAILED = "kernel-start-failed"  # set by autograder.execute: no student code ran
FORK_SERVER_ENV = "AUTOGRADER_FORK_SERVER"  # "0": a fresh interpreter per job (slower; for comparison)
# Environment passed through to the kernel.
PASSED_ENV = ("COURSE_DATA_DIR", "COURSE_DEVICE", "COURSE_SEED", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
              "OMP_WAIT_POLICY")


@dataclass
class Job:
    """One submission to execute."""

    student: str
    assignment: str
    notebook: str  # sanitized notebook JSON
    limits: Limits = field(default_factory=Limits)
    kernel_name: str = "cnn-course"
    files: dict[str, str] = field(default_factory=dict)  # relative path -> base64 content
    env: dict[str, str] = field(default_factory=dict)
    gpu: bool = False
    policy: dict = field(default_factory=dict)  # autograder.sandbox.Policy as a dict

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"

    def to_dict(self) -> dict:
        return {
            "student": self.student, "assignment": self.assignment, "notebook": self.notebook,
            "limits": self.limits.to_dict(), "kernel_name": self.kernel_name, "files": self.files,
            "env": self.env, "gpu": self.gpu, "policy": self.policy,
        }


def write_job_files(work: Path, job: dict) -> None:
    """The assignment's data files (besides the notebook), into the job's work directory."""
    for rel, content in job.get("files", {}).items():
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(content))


def default_env() -> dict[str, str]:
    """The grader's environment variables that the kernel needs."""
    return {k: os.environ[k] for k in PASSED_ENV if k in os.environ}


def run_job(job: dict, scratch: str | None = None) -> dict:
    """Execute ``job`` in a fresh directory and a fresh process; return the result dict.

    Never raises for a misbehaving submission: a crash becomes ``status='worker-crashed'``.
    """
    limits = Limits.from_dict(job["limits"])
    workdir = Path(tempfile.mkdtemp(prefix=f"g{os.getpid()}-", dir=scratch or _scratch_root()))
    started = time.monotonic()
    try:
        (workdir / "work").mkdir()  # the worker mounts its scratch here, then writes the job's files
        (workdir / "job.json").write_text(json.dumps(job))
        log_path = workdir / "worker.log"
        returncode = _execute(workdir, limits.notebook_timeout_s + 120)
        result_path = workdir / "result.json"
        if result_path.exists():
            result = json.loads(result_path.read_text())
        else:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            result = {"status": WORKER_CRASHED, "notebook": None,
                      "reason": f"worker exited with code {returncode}: {_last_line(tail)}"}
        result.setdefault("seconds", round(time.monotonic() - started, 3))
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _execute(workdir: Path, timeout_s: float) -> int:
    """Run the worker on ``workdir`` (forked by this thread's fork server); return its exit code."""
    if os.environ.get(FORK_SERVER_ENV) == "0":
        return _execute_in_subprocess(workdir, timeout_s)
    try:
        server = server_for_this_thread()
    except OSError:
        return _execute_in_subprocess(workdir, timeout_s)
    try:
        return server.run(workdir, timeout_s)
    except ServerGone as exc:
        server.close()
        with open(workdir / "worker.log", "a") as log:
            log.write(f"\n{exc}\n")
        return -9


def _execute_in_subprocess(workdir: Path, timeout_s: float) -> int:
    """Run the worker as a fresh interpreter (the fallback: imports cost ~3.5 s per job)."""
    with open(workdir / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "autograder.worker", str(workdir)],
                                cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=set_death_signal,
                                env={**os.environ, "AUTOGRADER_PARENT_PID": str(os.getpid())})
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()
    return proc.returncode


def remove_stale_job_dirs(scratch: str | None = None) -> None:
    """Delete job directories left by a grader process that no longer exists (e.g. killed)."""
    root = Path(scratch or _scratch_root())
    for path in root.glob("g[0-9]*-*"):
        pid = path.name[1:].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _scratch_root() -> str:
    # Unix socket paths are limited to ~107 bytes: keep the job directory short.
    return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"
