"""A call of an exercise (:class:`Case`) and seeded random inputs (:class:`RandomInputs`)."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnlab.comparing import describe_value


@dataclass
class Case:
    """One call of an exercise: positional and keyword arguments.

    ``raises`` names the exception type the call must raise instead of returning.
    ``note`` says what the case is about; it is shown when the case fails.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    note: str = ""
    raises: type[BaseException] | None = None

    def cloned(self) -> Case:
        """A deep copy, so that a call cannot change this case's tensors."""
        return Case(_clone(self.args), _clone(self.kwargs), self.note, self.raises)

    def call(self, fn: Callable[..., Any]) -> Any:
        """Call ``fn`` on a fresh copy of the arguments."""
        c = self.cloned()
        return fn(*c.args, **c.kwargs)

    def describe(self, name: str) -> str:
        """The call as text, e.g. ``conv_output_size(7, kernel_size=3)``."""
        parts = [describe_value(a) for a in self.args]
        parts += [f"{k}={describe_value(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value)
    return value


@dataclass
class RandomInputs:
    """Seeded random numbers (``rng``) and tensors (``gen``), placed on ``device``."""

    seed: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rng: random.Random = field(init=False)
    gen: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.gen = torch.Generator().manual_seed(self.seed)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal values of ``shape`` on ``device``."""
        return torch.randn(shape, generator=self.gen, dtype=dtype).to(self.device)

    def rand(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform [0, 1) values of ``shape`` on ``device``."""
        return torch.rand(shape, generator=self.gen, dtype=dtype).to(self.device)

    def randint(self, low: int, high: int, *shape: int) -> torch.Tensor:
        """Integers in [low, high) of ``shape`` on ``device``."""
        return torch.randint(low, high, shape, generator=self.gen).to(self.device)

    def pair(self, value: tuple[int, int]) -> int | tuple[int, int]:
        """``value`` as given, or as one int when both entries agree and a coin says so."""
        if value[0] == value[1] and self.rng.random() < 0.5:
            return value[0]
        return value
