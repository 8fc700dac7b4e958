"""The course's grader, built from nbgrader's parts: release, validate, grade, feedback, export, report."""

import os
import sys
from pathlib import Path

# nbgrader shells out to `alembic` (and we to `jupyter`): make this interpreter's bin/ win.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

# jsonschema imports rfc3987_syntax, when installed, only to check the "iri" string format, which
# no notebook schema uses; building that package's grammar costs ~2 CPU seconds in every process
# that reads a notebook (the CLI, each fork server). Blocked here, jsonschema skips that format.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
