"""A warm process that forks one fresh worker per grading job.

Starting ``python -m autograder.worker`` costs about 3.5 CPU seconds of imports (nbgrader,
nbformat and jsonschema's format checkers) per job, a quarter of a short notebook's run. The
fork server pays that once: it imports the worker, then for each job directory it reads on
stdin it forks a child that runs :func:`autograder.worker.run` in a new session, with its
output in ``worker.log``, and reports ``<pid>`` and then ``exit <code>`` on stdout. Each job
still gets a process of its own; nothing of one job can reach the next. The server holds no
threads when it forks.

One server per grader thread (``PR_SET_PDEATHSIG`` fires when the *thread* that started a
process ends, so a server must belong to the thread that uses it). Servers and their
children die with the grader.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_LOCAL = threading.local()

try:
    import ctypes

    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not Linux/glibc: workers then outlive a killed grader until their own limits
    _LIBC = None


def set_death_signal() -> None:
    """Have the kernel SIGKILL this process when the thread that started it ends (PR_SET_PDEATHSIG)."""
    if _LIBC is not None:
        _LIBC.prctl(1, 9)


def kill_group(pid: int) -> None:
    """SIGKILL the process group (session) led by ``pid``, if it still exists."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class ServerGone(RuntimeError):
    """The fork server died or answered nonsense; the caller falls back or retries."""


class ForkServer:
    """The grader's handle on one server process (``python -m autograder.forkserver``)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.forkserver", f"/g{os.getpid()}-server"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=set_death_signal,
            env={**os.environ, "AUTOGRADER_PARENT_PID": str(os.getpid())})
        self._pending = b""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, workdir: Path, timeout_s: float) -> int:
        """Run the worker on ``workdir``; return its exit code (-9 when killed at ``timeout_s``)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(f"{workdir}\n".encode())
            self.proc.stdin.flush()
        except OSError as exc:
            raise ServerGone(f"fork server gone: {exc}") from None
        pid = int(self._line(60.0) or "0")
        if pid <= 0:
            raise ServerGone("fork server could not start a worker")
        line = self._line(timeout_s)
        if line is None:  # past the limit: kill the worker's session; the server reports its exit
            kill_group(pid)
            line = self._line(30.0)
        if not line or not line.startswith("exit "):
            raise ServerGone(f"fork server sent {line!r}")
        return int(line.split()[1])

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()

    def _line(self, timeout_s: float) -> str | None:
        """The next line from the server; ``None`` on timeout; ``""`` if it died."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return ""
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode().strip()


def server_for_this_thread() -> ForkServer:
    """This thread's fork server, started (again) when needed."""
    server = getattr(_LOCAL, "server", None)
    if server is None or not server.alive():
        server = _LOCAL.server = ForkServer()
    return server


# ---- the server side ------------------------------------------------------------------------

def _child(workdir: str, server_pid: int) -> None:
    """In the forked child: a new session that dies with the server, output to worker.log."""
    code = 1
    try:
        os.setsid()
        set_death_signal()
        if os.getppid() != server_pid:
            os._exit(1)
        log = os.open(os.path.join(workdir, "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from autograder import worker

        code = worker.run(Path(workdir))
    except BaseException:  # noqa: BLE001 - report it in worker.log and exit non-zero
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Read job directories on stdin; fork a worker for each; report pid and exit code."""
    from autograder import worker  # the imports every child shares
    from autograder.sandbox import detect

    worker.die_with_parent()
    detect()  # probe bubblewrap and cgroups once, not in every job
    me = os.getpid()
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        workdir = raw.decode().strip()
        if not workdir:
            continue
        assert threading.active_count() == 1, "the fork server must not hold threads"
        pid = os.fork()
        if pid == 0:
            _child(workdir, me)
        out.write(f"{pid}\n".encode())
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
