"""Probes: an identity layer that records how a student's function ran a model.

Hidden tests put a :class:`Probe` inside the models they pass to a student's function. After
the call, the probe says whether the model was run at all, whether the input carried a
gradient (so autograd could trace it), whether ``FlopCounterMode`` was active, and whether the
call went through the course's own reference code instead of the student's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

# The course's reference code sets this while it runs (nested calls allowed).
_REFERENCE_DEPTH = [0]


@contextlib.contextmanager
def reference_running() -> Iterator[None]:
    """Mark the course's own reference code as running."""
    _REFERENCE_DEPTH[0] += 1
    try:
        yield
    finally:
        _REFERENCE_DEPTH[0] -= 1


def reference_is_running() -> bool:
    """True while :func:`reference_running` is active."""
    return _REFERENCE_DEPTH[0] > 0


def flop_counter_active() -> bool:
    """True inside ``torch.utils.flop_counter.FlopCounterMode`` (by any name or alias)."""
    return any("FlopCounter" in type(mode).__name__ for mode in _get_current_dispatch_mode_stack())


class Probe(nn.Module):
    """An identity layer that counts its calls and how each call was made."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.grad_calls = 0
        self.reference_calls = 0
        self.flop_counter_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.grad_calls += int(torch.is_grad_enabled() and x.requires_grad)
        self.reference_calls += int(reference_is_running())
        self.flop_counter_calls += int(flop_counter_active())
        return x


def probes_in(model: nn.Module) -> list[Probe]:
    """Every probe inside ``model``."""
    return [m for m in model.modules() if isinstance(m, Probe)]
