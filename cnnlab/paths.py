"""Where things are: the repository and the data directory."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "COURSE_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``$COURSE_DATA_DIR`` when set, else ``data/`` in the repository."""
    configured = os.environ.get(DATA_ENV, "").strip()
    return Path(configured).expanduser().resolve() if configured else REPO_ROOT / "data"
