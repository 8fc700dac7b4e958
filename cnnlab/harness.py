"""Objects the hidden tests hand to a student's function: they record how it was used.

They hold no answer. The grader builds them, sends them to the student's kernel with the
inputs of a call, and reads their counters back afterwards (``cnnlab.remote``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from cnnlab import pristine


class ProbeNet(nn.Module):
    """A tiny classifier for 8x8 inputs: conv 1->3 k3, ReLU, max-pool 2, linear 27->10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(27, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(pristine.relu(self.conv(x))).flatten(1))


class Recorder(nn.Module):
    """Wraps a model; records, for every forward call, (training mode, grad enabled, batch size)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[bool, bool, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled(), int(x.shape[0])))
        return self.inner(x)


class CountingScheduler:
    """A learning-rate scheduler that counts its ``step`` calls."""

    def __init__(self, inner: Any) -> None:
        self.__dict__["inner"] = inner
        self.__dict__["steps"] = 0

    def step(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["steps"] += 1
        self.inner.step(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("inner")
        if inner is None:  # while unpickling, before __dict__ is filled
            raise AttributeError(name)
        return getattr(inner, name)


class InverseDecay:
    """``lr_lambda`` for ``LambdaLR``: 1 / (1 + rate * step) (a class, so it can be sent to a kernel)."""

    def __init__(self, rate: float = 0.5) -> None:
        self.rate = rate

    def __call__(self, step: int) -> float:
        return 1.0 / (1.0 + self.rate * step)
