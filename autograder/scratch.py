"""A size-limited scratch directory for one grading job: a tmpfs in the worker's own mount namespace.

The worker (root) unshares its mount namespace and mounts a tmpfs of the job's quota on its
work directory, so the kernel, which inherits the namespace through bubblewrap, cannot fill
the grading machine's disk: a full scratch fails that job alone. Nothing is mounted for any
other process, and the mount disappears with the worker. Where this is not allowed (not root),
:func:`limit_scratch` returns False and the grader says the scratch is not limited.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000


def limit_scratch(path: Path, size_bytes: int) -> bool:
    """Mount a ``size_bytes`` tmpfs on ``path`` in a new private mount namespace of this process.

    Call it while the process is single-threaded (``unshare`` refuses otherwise).
    """
    if not size_bytes or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    options = f"size={int(size_bytes)},mode=0755".encode()
    return libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options) == 0


def can_limit_scratch() -> bool:
    """Whether :func:`limit_scratch` works on this machine (tried in a throw-away process)."""
    probe = ("import sys, tempfile, pathlib; from autograder.scratch import limit_scratch; "
             "sys.exit(0 if limit_scratch(pathlib.Path(tempfile.mkdtemp()), 1 << 20) else 1)")
    try:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
