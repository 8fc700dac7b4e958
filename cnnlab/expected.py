"""Expected results of the visible checks, recorded when the course is released.

One file per notebook, ``cnnlab/expected/<notebook>.pt``, holding plain data only (loaded
with ``torch.load(weights_only=True)``)::

    {"format": 1, "exercises": {name: {"digest": str, "results": [
        {"raises": "ValueError"} | {"expected": value, "variants": [{"tag", "hint", "value"}]}, ...]}}}

``digest`` fingerprints the visible cases, so inputs that drifted from the recording are
reported instead of judged against the wrong answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

FORMAT = 1
EXPECTED_DIR = Path(__file__).parent / "expected"


class ExpectedMissing(RuntimeError):
    """The recorded results for a notebook are absent or unreadable."""


def expected_path(notebook: str) -> Path:
    return EXPECTED_DIR / f"{notebook}.pt"


def load_expected(notebook: str) -> dict[str, Any]:
    """The recorded visible results of ``notebook``, by exercise name."""
    path = expected_path(notebook)
    try:
        data = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise ExpectedMissing(f"the visible checks of {notebook} are missing ({path.name}); reinstall cnnlab "
                              "from the course's student kit (instructors: run `make release`)") from None
    except Exception as exc:
        raise ExpectedMissing(f"cannot read {path}: {exc}; reinstall cnnlab from the course's student kit") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExpectedMissing(f"{path.name} was written by another version of the course; reinstall cnnlab")
    return data["exercises"]


def save_expected(notebook: str, exercises: dict[str, Any], directory: Path = EXPECTED_DIR) -> Path:
    """Write one notebook's recorded results (used by ``autograder release``)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{notebook}.pt"
    torch.save({"format": FORMAT, "exercises": exercises}, path)
    return path
