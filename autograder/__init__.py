"""The course's grader, built from nbgrader's parts: release, validate, grade, feedback, export, report."""

import os
import sys
from pathlib import Path

# nbgrader shells out to `alembic` (and we to `jupyter`): make this interpreter's bin/ win.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")
