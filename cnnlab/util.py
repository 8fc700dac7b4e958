"""Small helpers that several notebooks use."""

from __future__ import annotations

from collections.abc import Sequence


def as_pair(value: int | Sequence[int]) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5) -> (3, 5)``. Raises ``ValueError`` for other lengths."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"expected an int or a pair, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)
