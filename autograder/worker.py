"""Execute one grading job in its own directory and process: ``python -m autograder.worker DIR``.

``DIR/job.json`` names the notebook and the limits; the worker writes ``DIR/result.json``
with the executed notebook and a status. It never touches the gradebook.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
from traitlets.config import Config

from autograder import settings
from autograder.execute import GuardedExecute
from autograder.jobs import write_job_files
from autograder.kernel import SandboxedKernelManager
from autograder.limits import Limits
from autograder.sandbox import Policy, ProcessGroupLimit, detect
from autograder.scratch import limit_scratch


def execute_job(workdir: Path, job: dict) -> dict:
    """Run the job's notebook with the course kernel, sandboxed; return the result dict."""
    limits = Limits.from_dict(job["limits"])
    policy = Policy.from_dict(job.get("policy", {}))
    nb = nbformat.reads(job["notebook"], as_version=4)
    caps = detect()
    group = ProcessGroupLimit(caps.cgroup_pids, policy.max_processes)
    cfg = Config()
    settings.apply(cfg)
    cfg.Execute.kernel_name = job["kernel_name"]
    cfg.Execute.timeout = limits.cell_timeout_s
    cfg.GuardedExecute.max_output_chars = limits.max_output_chars
    cfg.GuardedExecute.notebook_timeout = limits.notebook_timeout_s
    # IPC sockets and the connection file in this job's own directory: no TCP ports, so parallel
    # kernels cannot clash, and the sandboxed kernel can reach them.
    cfg.KernelManager.transport = "ipc"
    cfg.KernelManager.ip = str(workdir / "k")
    cfg.KernelManager.connection_file = str(workdir / "kernel.json")
    cfg.SandboxedKernelManager.sandbox_workdir = str(workdir)
    cfg.SandboxedKernelManager.sandbox_policy = json.dumps(policy.to_dict())
    cfg.SandboxedKernelManager.sandbox_cgroup = str(group.path or "")
    executor = GuardedExecute(config=cfg, kernel_manager_class=SandboxedKernelManager)
    resources = {"metadata": {"path": str(workdir)}}
    start = time.monotonic()
    try:
        status, reason = executor.run_guarded(nb, resources)
    finally:
        group.kill_all()
    return {
        "status": status,
        "reason": reason,
        "seconds": round(time.monotonic() - start, 3),
        "notebook": nbformat.writes(nb),
        "host": os.uname().nodename,
        "sandbox": caps.describe(policy),
    }


def die_with_parent() -> None:
    """Exit if the grader that started this worker is already gone.

    The grader sets PR_SET_PDEATHSIG on it (``autograder.forkserver.set_death_signal``), so a grader killed later
    takes this worker, and its sandboxed kernel, with it.
    """
    expected = os.environ.get("AUTOGRADER_PARENT_PID")
    if expected and os.getppid() != int(expected):
        os._exit(1)


def run(workdir: Path) -> int:
    """Execute ``workdir/job.json`` and write ``workdir/result.json``; return the exit code."""
    workdir = workdir.resolve()
    job = json.loads((workdir / "job.json").read_text())
    limit_scratch(workdir / "work", Policy.from_dict(job.get("policy", {})).scratch_bytes)  # before any thread
    write_job_files(workdir / "work", job)
    os.chdir(workdir / "work")
    os.environ.update(job.get("env", {}))
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.setdefault("MPLCONFIGDIR", str(workdir / "mpl"))
    result = execute_job(workdir / "work", job)
    tmp = workdir / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(workdir / "result.json")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m autograder.worker JOBDIR", file=sys.stderr)
        return 2
    die_with_parent()
    return run(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
