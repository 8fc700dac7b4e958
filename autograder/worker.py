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
from autograder.limits import Limits


def execute_job(workdir: Path, job: dict) -> dict:
    """Run the job's notebook with the course kernel; return the result dict."""
    limits = Limits.from_dict(job["limits"])
    nb = nbformat.reads(job["notebook"], as_version=4)
    cfg = Config()
    settings.apply(cfg)
    cfg.Execute.kernel_name = job["kernel_name"]
    cfg.Execute.timeout = limits.cell_timeout_s
    cfg.GuardedExecute.max_output_chars = limits.max_output_chars
    cfg.GuardedExecute.notebook_timeout = limits.notebook_timeout_s
    # IPC sockets in this job's own directory: no TCP ports, so parallel kernels cannot clash.
    cfg.KernelManager.transport = "ipc"
    cfg.KernelManager.ip = str(workdir / "k")
    executor = GuardedExecute(config=cfg)
    resources = {"metadata": {"path": str(workdir)}}
    start = time.monotonic()
    status, reason = executor.run_guarded(nb, resources)
    return {
        "status": status,
        "reason": reason,
        "seconds": round(time.monotonic() - start, 3),
        "notebook": nbformat.writes(nb),
        "host": os.uname().nodename,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m autograder.worker JOBDIR", file=sys.stderr)
        return 2
    workdir = Path(argv[0]).resolve()
    job = json.loads((workdir / "job.json").read_text())
    os.chdir(workdir / "work")
    os.environ.update(job.get("env", {}))
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.setdefault("MPLCONFIGDIR", str(workdir / "mpl"))
    result = execute_job(workdir / "work", job)
    tmp = workdir / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(workdir / "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
