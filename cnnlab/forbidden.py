"""Prove that a from-scratch exercise does not call the PyTorch function it re-implements.

The student's function runs under two recorders: a ``TorchFunctionMode`` that sees every
``torch``/``torch.nn.functional`` call made with tensors (``F.dropout``, ``F.linear``,
``torch.norm``...), and a ``TorchDispatchMode`` that sees every ATen operator reached
(so ``nn.Conv2d``, aliases and ``getattr`` tricks all end up visible too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from cnnlab import diagnosis as dx

# Regular expressions over recorded names (torch function names and ATen operator names).
CONVOLUTION = r"conv"
POOLING = r"pool"
UNPOOLING = r"unpool"
INTERPOLATION = r"upsample|interpolate|grid_sampler"
BATCH_NORM = r"batch_norm|native_norm"
DROPOUT = r"dropout|bernoulli"
# Autograd in any form: .backward(), torch.autograd.grad, torch.func, ATen's *_backward kernels, x.grad.
AUTOGRAD = r"backward|autograd|^grad$|vjp|jvp|jacrev|jacfwd|jacobian|hessian|requires_grad|functional_call"


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.names.add(getattr(func, "__name__", type(func).__name__))
        return func(*args, **(kwargs or {}))


class _OpRecorder(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise the first use imports torch._dynamo: seconds of a notebook's time budget,
        # for a mode that is never compiled.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.names.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def torch_calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, set[str]]:
    """Call ``fn``; return its result and the names of every torch function and ATen operator reached."""
    functions, ops = _FunctionRecorder(), _OpRecorder()
    with functions, ops:
        result = fn(*args, **kwargs)
    return result, functions.names | ops.names


# Kept for callers of the first version: same behaviour, ATen and torch-function names.
aten_ops_called = torch_calls


def forbid_builtin(exercise: str, fn: Callable[..., Any], args: tuple, kwargs: dict,
                   pattern: str, what: str, *, visible: bool = False) -> None:
    """Fail with ``[used-builtin]`` if ``fn`` reaches a torch function or operator matching ``pattern``.

    A call that raises proves nothing here (value checks report errors), so it passes.
    """
    try:
        _, names = torch_calls(fn, *args, **kwargs)
    except Exception:
        return
    used = sorted(name for name in names if re.search(pattern, name))
    if used:
        raise dx.CheckFailed(
            exercise, dx.USED_BUILTIN,
            f"calls PyTorch's own {what}; this exercise asks you to build it yourself",
            f"torch functions or operators reached: {', '.join(used)}", visible=visible,
        )
