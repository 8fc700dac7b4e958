"""Notebook 04, pooling: the visible cases of its four exercises."""

from __future__ import annotations

import torch

from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import EXACT, Tolerance

NOTEBOOK = "04_pooling"
POOL_TOLERANCE = Tolerance(rtol=1e-5, atol=1e-6)


def _size_visible() -> list[Case]:
    return [
        Case((24, 2), note="MNIST after a 5x5 conv, then MaxPool2d(2): stride defaults to kernel_size"),
        Case((7, 3), {"stride": 2}, note="F.avg_pool1d on [1..7] with k=3, s=2 gives 3 values"),
        Case((152, 3), {"stride": 2, "padding": 1}, note="the ResNet stem's max pool"),
        Case((8, 3), {"stride": 2}, note="floor: the last partial window is dropped"),
        Case((8, 3), {"stride": 2, "ceil_mode": True}, note="ceil_mode keeps the partial window"),
        Case((3, 2), {"stride": 2, "padding": 1, "ceil_mode": True},
             note="ceil says 3 windows, but the third would start in the right padding"),
        Case((10, 3), {"stride": 1, "dilation": 2}),
        Case(((28, 9), (2, 3)), {"stride": (2, 2), "padding": (0, 1), "ceil_mode": True},
             note="tuple arguments"),
        Case((5, 3), {"padding": 2}, note="padding above kernel_size // 2 is refused", raises=ValueError),
        Case((2, 5), note="the window does not fit", raises=ValueError),
    ]


def _max_visible() -> list[Case]:
    r = RandomInputs(seed=4)
    grid = torch.arange(16.0).reshape(1, 1, 4, 4)
    negative = -torch.arange(1.0, 26.0).reshape(1, 1, 5, 5)
    return [
        Case((grid, 2), note="a 4x4 ramp, 2x2 windows, stride defaults to 2"),
        Case((grid, 2), {"return_indices": True},
             note="indices are flat positions row * W + col in each plane"),
        Case((negative, 3), {"stride": 2, "padding": 1},
             note="all values negative: padding must act as -inf"),
        Case((r.randn(2, 3, 7, 6), 3), {"stride": 2, "ceil_mode": True, "return_indices": True},
             note="ceil_mode keeps a partial last window"),
        Case((r.randn(1, 2, 3, 5), 2), {"stride": 2, "padding": 1, "ceil_mode": True},
             note="ceil_mode's last-window rule: 2 rows, not 3"),
        Case((r.randn(1, 1, 9, 8), (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1),
                                             "return_indices": True}, note="non-square window with dilation"),
    ]


def _avg_visible() -> list[Case]:
    r = RandomInputs(seed=5)
    grid = torch.arange(16.0).reshape(1, 1, 4, 4)
    return [
        Case((grid, 2), note="a 4x4 ramp, 2x2 windows, stride defaults to 2"),
        Case((torch.ones(1, 1, 4, 4), 3), {"stride": 1, "padding": 1},
             note="ones with padding 1: border windows average in zeros"),
        Case((torch.ones(1, 1, 4, 4), 3), {"stride": 1, "padding": 1, "count_include_pad": False},
             note="count_include_pad=False: divide by the real pixels only"),
        Case((grid, 2), {"divisor_override": 1}, note="divisor_override=1: window sums"),
        Case((r.randn(2, 2, 7, 5), 3), {"stride": 2, "ceil_mode": True},
             note="ceil_mode: partial last windows"),
        Case((r.randn(1, 3, 3, 6), (2, 3)), {"stride": (2, 2), "padding": (1, 1), "ceil_mode": True},
             note="ceil_mode's last-window rule, non-square window"),
    ]


def _pooled(x: torch.Tensor, kernel_size, stride=None, padding=0) -> tuple[torch.Tensor, torch.Tensor]:
    return pristine.max_pool2d(x, kernel_size, stride, padding, return_indices=True)


def _unpool_visible() -> list[Case]:
    r = RandomInputs(seed=6)
    grid = torch.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0], [9.0, 0.0, 1.0, 2.0],
                           [6.0, 2.0, 3.0, 4.0]]]])
    x2 = r.randn(2, 3, 4, 4)
    x5 = r.randn(1, 2, 5, 5)
    x3 = r.randn(1, 2, 7, 5)
    x4 = r.randn(1, 1, 7, 7)
    return [
        Case((*_pooled(grid, 2), 2), note="4x4 -> 2x2 -> back to 4x4, zeros where nothing was kept"),
        Case((*_pooled(x2, 2), 2), note="several planes: indices restart at 0 in each (H, W) plane"),
        Case((*_pooled(x5, 2), 2), {"output_size": (5, 5)},
             note="5x5 pooled to 2x2: the default size would be 4x4, output_size restores 5x5"),
        Case((*_pooled(x3, 3, 2, 1), 3), {"stride": 2, "padding": 1},
             note="padding shrinks the default size"),
        Case((*_pooled(x4, (3, 2), (1, 2)), (3, 2)), {"stride": (1, 2), "output_size": (1, 1, 7, 7)},
             note="overlapping windows; output_size given as (N, C, H, W)"),
    ]


OUTPUT_SIZE, MAX_POOL, AVG_POOL, MAX_UNPOOL = declare(
    VisibleSpec("pool_output_size", NOTEBOOK, _size_visible, tolerance=EXACT),
    VisibleSpec("max_pool2d_naive", NOTEBOOK, _max_visible, tolerance=POOL_TOLERANCE),
    VisibleSpec("avg_pool2d_naive", NOTEBOOK, _avg_visible, tolerance=POOL_TOLERANCE),
    VisibleSpec("max_unpool2d_naive", NOTEBOOK, _unpool_visible, tolerance=POOL_TOLERANCE),
)
