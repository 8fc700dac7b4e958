"""Prove that a from-scratch exercise does not call the PyTorch operator it re-implements.

The student's function runs under a ``TorchDispatchMode`` that records every ATen
operator reached. Python-level tricks (aliases, ``getattr``, ``nn.Conv2d``) all end in
the same ATen operators, so they are seen too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

from cnnlab import diagnosis as dx

# Regular expressions over ATen operator names, by family.
CONVOLUTION = r"conv"
POOLING = r"pool"
UNPOOLING = r"unpool"
INTERPOLATION = r"upsample|interpolate|grid_sampler"
BATCH_NORM = r"batch_norm|native_norm"
DROPOUT = r"dropout|bernoulli_p"


class _OpRecorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.ops.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def aten_ops_called(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, set[str]]:
    """Call ``fn`` and return its result with the names of the ATen operators it reached."""
    recorder = _OpRecorder()
    with recorder:
        result = fn(*args, **kwargs)
    return result, recorder.ops


def forbid_builtin(exercise: str, fn: Callable[..., Any], args: tuple, kwargs: dict,
                   pattern: str, what: str, *, visible: bool = False) -> None:
    """Fail with ``[used-builtin]`` if ``fn`` reaches an operator matching ``pattern``."""
    _, ops = aten_ops_called(fn, *args, **kwargs)
    used = sorted(op for op in ops if re.search(pattern, op))
    if used:
        raise dx.CheckFailed(
            exercise, dx.USED_BUILTIN,
            f"calls PyTorch's own {what}; this exercise asks you to build it yourself",
            f"operators reached: {', '.join(used)}", visible=visible,
        )
