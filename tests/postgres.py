"""A throw-away PostgreSQL server for tests: initdb in a temp dir, a unix socket, no TCP."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def server_bindir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(os.path.realpath(found)).parent if found else None


def _runner() -> tuple[list[str], int | None, int | None]:
    """How to run server commands: as ourselves, or (as root) as the postgres/nobody user."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server, create database ``gradebook``, yield its SQLAlchemy URL, stop and delete it."""
    bindir = server_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    prefix, uid, gid = _runner()
    base = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    data, sock = base / "data", base / "s"
    sock.mkdir()
    if uid is not None:
        for path in (base, sock):
            os.chown(path, uid, gid)
    env = {**os.environ, "LC_ALL": "C"}

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, env=env, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader", "--no-sync", "-E", "UTF8")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
            "-o", f"-k {sock} -c listen_addresses='' -c fsync=off", "start")
        try:
            run(str(bindir / "createdb"), "-h", str(sock), "-U", "grader", "gradebook")
            yield f"postgresql+psycopg2://grader@/gradebook?host={sock}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)
