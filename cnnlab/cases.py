"""Random inputs for checks: seeded generators, and case builders shared by notebooks."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from cnnlab.exercise import Case


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


def conv2d_case(r: RandomInputs, *, groups: bool = True, max_stride: int = 3,
                max_dilation: int = 2, max_padding: int = 2, max_kernel: int = 4,
                max_extra: int = 6) -> Case:
    """A random valid ``F.conv2d`` call: ``Case((x, weight, bias), {stride, padding, dilation, groups})``.

    Shapes stay small (a naive loop must finish quickly): batch 1-2, at most 6 channels,
    kernels up to ``max_kernel``, inputs at most ``max_extra`` larger than the dilated kernel.
    """
    rng = r.rng
    g = rng.choice([1, 1, 2, 3]) if groups else 1
    cin = g * rng.randint(1, 2 if g > 1 else 3)
    cout = g * rng.randint(1, 2 if g > 1 else 3)
    k = (rng.randint(1, max_kernel), rng.randint(1, max_kernel))
    s = (rng.randint(1, max_stride), rng.randint(1, max_stride))
    d = (rng.randint(1, max_dilation), rng.randint(1, max_dilation))
    p = (rng.randint(0, max_padding), rng.randint(0, max_padding))
    span = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    hw = [rng.randint(max(1, span[i] - 2 * p[i]), span[i] + max_extra) for i in range(2)]
    x = r.randn(rng.randint(1, 2), cin, *hw)
    weight = r.randn(cout, cin // g, *k)
    bias = r.randn(cout) if rng.random() < 0.7 else None
    kwargs = {"stride": r.pair(s), "padding": r.pair(p), "dilation": r.pair(d), "groups": g}
    return Case((x, weight, bias), kwargs)
