"""Set resource limits, join a cgroup, then exec a command (the sandboxed kernel).

``python -m autograder.sandbox_exec --limits JSON [--cgroup DIR] -- command ...``
Limits are inherited by everything the command starts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

RLIMITS = {"as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", required=True)
    parser.add_argument("--cgroup")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    for name, value in json.loads(args.limits).items():
        if value:
            resource.setrlimit(RLIMITS[name], (int(value), int(value)))
    if args.cgroup:
        with open(os.path.join(args.cgroup, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
