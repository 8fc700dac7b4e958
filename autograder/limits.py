"""Limits on one grading run: time per cell and per notebook, output size."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from autograder import settings


@dataclass(frozen=True)
class Limits:
    """What one notebook's execution may use."""

    cell_timeout_s: int = settings.CELL_TIMEOUT_S
    notebook_timeout_s: int = settings.NOTEBOOK_TIMEOUT_S
    max_output_chars: int = settings.MAX_OUTPUT_CHARS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Limits:
        return cls(**data)
