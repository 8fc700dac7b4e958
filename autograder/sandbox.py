"""Run each grading kernel in a sandbox, with resource limits.

What a submission's kernel gets when bubblewrap (``bwrap``) is available:

- no network (its own network namespace), its own PID/IPC/UTS namespaces;
- a read-only view of the system, the Python installation, the virtual environment, the
  ``cnnlab`` library and the data directory; nothing else of the course (no ``solutions/``,
  no gradebook, no other submission);
- one writable directory: the job's own scratch directory (and a private ``/tmp``).

Limits (set by :mod:`autograder.sandbox_exec` before ``bwrap`` starts, so the kernel inherits
them): address space, CPU seconds, file size, and the number of processes (a cgroup ``pids``
controller when the machine allows it; ``RLIMIT_NPROC`` does not work for root). The output
size and the wall clock are enforced by the grader (:mod:`autograder.execute`).

Without bubblewrap, grading falls back to the limits alone and says so loudly;
``--require-sandbox`` refuses to grade instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

GIB = 2**30
SANDBOX_UID = SANDBOX_GID = 65534  # "nobody": the kernel's uid and gid inside the sandbox
# The kernel's whole environment: nothing else of the grader's reaches it (see kernel_env).
KERNEL_ENV_PASSED = ("COURSE_DATA_DIR", "COURSE_DEVICE", "COURSE_LANG", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
                     "OMP_WAIT_POLICY")
CGROUP_V1_PIDS = Path("/sys/fs/cgroup/pids")
CGROUP_PARENT = "cnn-grader"


@dataclass(frozen=True)
class Policy:
    """What a grading kernel may use. ``memory_bytes=0`` (or any 0) means no limit of that kind."""

    sandbox: bool = True  # use bubblewrap when it is available
    require_sandbox: bool = False  # refuse to grade without it
    memory_bytes: int = 8 * GIB  # RLIMIT_AS (torch needs about 4 GiB of address space to import)
    cpu_seconds: int = 1800  # RLIMIT_CPU
    file_size_bytes: int = 512 * 2**20  # RLIMIT_FSIZE
    max_processes: int = 256  # threads count too (cgroup pids.max)
    scratch_bytes: int = 2 * GIB  # the job's work directory (a tmpfs, where the machine allows it)
    tmp_bytes: int = 1 * GIB  # the sandbox's private /tmp
    extra_ro_binds: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["extra_ro_binds"] = list(self.extra_ro_binds)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> Policy:
        data = dict(data)
        data["extra_ro_binds"] = tuple(data.get("extra_ro_binds", ()))
        return cls(**data)


class SandboxUnavailable(RuntimeError):
    """``--require-sandbox`` was given but bubblewrap cannot run here."""


@dataclass(frozen=True)
class Capabilities:
    """What this machine can enforce."""

    bwrap: str | None
    cgroup_pids: Path | None
    scratch_quota: bool = False

    def describe(self, policy: Policy) -> str:
        """One line saying exactly what is enforced."""
        parts = []
        if policy.sandbox and self.bwrap:
            parts.append("bubblewrap sandbox (no network, read-only system, scratch dir only)")
        else:
            parts.append("NO SANDBOX (bubblewrap unavailable): the kernel runs with your permissions")
        if policy.memory_bytes:
            parts.append(f"memory {policy.memory_bytes / GIB:g} GiB (address space)")
        if policy.cpu_seconds:
            parts.append(f"CPU {policy.cpu_seconds} s")
        if policy.file_size_bytes:
            parts.append(f"files {policy.file_size_bytes // 2**20} MiB")
        if policy.max_processes:
            parts.append(f"processes {policy.max_processes} (cgroup pids)" if self.cgroup_pids
                         else "processes: NOT limited (no writable cgroup pids controller)")
        if policy.scratch_bytes:
            parts.append(f"scratch {policy.scratch_bytes / GIB:g} GiB" if self.scratch_quota
                         else "scratch: NOT limited (cannot mount a tmpfs here)")
        if policy.sandbox and self.bwrap:
            parts.append(f"/tmp {policy.tmp_bytes / GIB:g} GiB; uid {SANDBOX_UID}, no capabilities, "
                         "minimal environment")
        return "; ".join(parts)


@lru_cache(maxsize=1)
def detect() -> Capabilities:
    """Probe bubblewrap (by running it) and the cgroup pids controller."""
    from autograder.scratch import can_limit_scratch

    return Capabilities(_probe_bwrap(), _probe_cgroup(), can_limit_scratch())


def _probe_bwrap() -> str | None:
    path = shutil.which("bwrap")
    if not path:
        return None
    try:
        subprocess.run([path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                       check=True, capture_output=True, timeout=20)
    except (subprocess.SubprocessError, OSError):
        return None
    return path


def _probe_cgroup() -> Path | None:
    parent = CGROUP_V1_PIDS / CGROUP_PARENT
    try:
        parent.mkdir(exist_ok=True)
        probe = parent / f"probe-{uuid.uuid4().hex[:8]}"
        probe.mkdir()
        (probe / "pids.max").write_text("8")
        probe.rmdir()
        return parent
    except OSError:
        return None


def check_policy(policy: Policy, caps: Capabilities | None = None) -> Capabilities:
    """Raise ``SandboxUnavailable`` if the policy demands a sandbox this machine cannot give."""
    caps = caps or detect()
    if policy.require_sandbox and not caps.bwrap:
        raise SandboxUnavailable("--require-sandbox: bubblewrap is not available here "
                                 "(install the Debian package 'bubblewrap'); refusing to grade")
    return caps


def readonly_paths(extra: tuple[str, ...] = ()) -> list[str]:
    """Everything the kernel may read: the system, Python, the venv, cnnlab, the data directory."""
    paths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", sys.base_prefix, sys.prefix]
    spec = importlib.util.find_spec("cnnlab")
    if spec and spec.submodule_search_locations:
        paths += list(spec.submodule_search_locations)
    data = os.environ.get("COURSE_DATA_DIR")
    if data:
        paths.append(os.path.realpath(data))
    paths += list(extra)
    seen, out = set(), []
    for p in paths:
        real = os.path.realpath(p)
        for candidate in (p, real):
            if candidate not in seen and os.path.exists(candidate):
                seen.add(candidate)
                out.append(candidate)
    return out


def grader_only_paths(readable: list[str] | None = None) -> list[str]:
    """The grader's package (answer key, evaluator) when it lies under a path the kernel may read.

    ``cnnlab`` holds no answers; the references live in ``autograder.exercises``, which must stay
    out of the kernel's reach even when this checkout sits inside a bound folder.
    """
    own = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    readable = readonly_paths() if readable is None else readable
    inside = any(own == r or own.startswith(os.path.realpath(r).rstrip("/") + "/") for r in readable)
    return [own] if inside else []


TEST_LABELS = ("MNIST", "raw", "t10k-labels-idx1-ubyte")
WITHHELD_LABEL = 255


def withheld_labels(jobdir: Path) -> tuple[Path, Path] | None:
    """``(stand-in, real path)``: an IDX file of the test set's size whose every label is 255.

    Bound over the real labels inside the sandbox, so a kernel can load the test images (to
    predict them) but never read their labels; ``cnnlab.data`` says so when it sees them.
    """
    data = os.environ.get("COURSE_DATA_DIR")
    if not data:
        return None
    real = Path(os.path.realpath(data)).joinpath(*TEST_LABELS)
    try:
        header = real.open("rb").read(8)
    except OSError:
        return None
    if len(header) != 8:
        return None
    count = int.from_bytes(header[4:8], "big")
    stand_in = jobdir / "withheld-t10k-labels-idx1-ubyte"
    stand_in.write_bytes(header + bytes([WITHHELD_LABEL]) * count)
    return stand_in, real


def bwrap_args(bwrap: str, workdir: Path, policy: Policy) -> list[str]:
    """The bubblewrap command line, up to (not including) the kernel command."""
    args = [bwrap, "--clearenv", "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_GID), "--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    if policy.tmp_bytes:
        args += ["--size", str(int(policy.tmp_bytes))]
    args += ["--tmpfs", "/tmp"]  # before any bind under /tmp: later mounts hide earlier ones
    readable = readonly_paths(policy.extra_ro_binds)
    for path in readable:
        args += ["--ro-bind", path, path]
    for path in grader_only_paths(readable):  # the answer key stays with the evaluator
        args += ["--tmpfs", path, "--remount-ro", path]
    labels = withheld_labels(workdir.parent)
    if labels is not None:  # the test set's labels stay with the evaluator too
        args += ["--ro-bind", str(labels[0]), str(labels[1])]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for dev in sorted(Path("/dev").glob("nvidia*")):  # GPUs, when the machine has them
        args += ["--dev-bind", str(dev), str(dev)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    for name, value in kernel_env(workdir).items():
        args += ["--setenv", name, value]
    return args


def kernel_env(workdir: Path) -> dict[str, str]:
    """The kernel's entire environment: where it lives, and the course's own settings."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir),
           "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLCONFIGDIR": str(workdir / ".config" / "matplotlib"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in KERNEL_ENV_PASSED if k in os.environ})
    return env


def wrap_kernel_command(cmd: list[str], workdir: Path, policy: Policy, cgroup: Path | None,
                        caps: Capabilities | None = None) -> list[str]:
    """Turn a kernel command into: set limits, join the cgroup, then exec bwrap (or the kernel)."""
    caps = caps or detect()
    limits = {"as": policy.memory_bytes, "cpu": policy.cpu_seconds, "fsize": policy.file_size_bytes}
    prefix = [sys.executable, "-m", "autograder.sandbox_exec", "--limits", json.dumps(limits)]
    if cgroup is not None:
        prefix += ["--cgroup", str(cgroup)]
    inner = bwrap_args(caps.bwrap, workdir, policy) + cmd if (policy.sandbox and caps.bwrap) else cmd
    return prefix + ["--"] + inner


class ProcessGroupLimit:
    """A cgroup (v1 ``pids``) for one job: caps its processes and can kill all of them."""

    def __init__(self, parent: Path | None, max_processes: int) -> None:
        self.path: Path | None = None
        if parent is None or not max_processes:
            return
        path = parent / f"job-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_processes))
            self.path = path
        except OSError:
            self.path = None

    def kill_all(self) -> None:
        """SIGKILL every process in the group, then remove it."""
        if self.path is None:
            return
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        try:
            self.path.rmdir()
        except OSError:
            pass


def remove_stale_cgroups(parent: Path | None) -> None:
    """Remove empty job cgroups left behind by a grader that was killed."""
    if parent is None or not parent.is_dir():
        return
    for child in parent.glob("job-*"):
        try:
            if not (child / "cgroup.procs").read_text().strip():
                child.rmdir()
        except OSError:
            pass
