"""Notebook 01, convolution arithmetic: the visible cases of its five exercises."""

from __future__ import annotations

import torch

from cnnlab.cases import Case, RandomInputs
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import EXACT, Tolerance
from cnnlab.sources import cite

NOTEBOOK = "01_conv_arithmetic"


def _size_cases() -> list[Case]:
    return [
        Case((28, 5), note="MNIST's first conv layer"),
        Case((7, 3), {"stride": 2}),
        Case((8, 3), {"stride": 2}, note="the last window would run past the edge"),
        Case((32, 3), {"padding": 1}, note="'same' padding for k=3"),
        Case((10, 3), {"dilation": 2}),
        Case((9, 3), {"stride": 2, "padding": 1, "dilation": 2}),
        Case(((28, 32), (5, 3)), {"stride": (1, 2), "padding": (0, 1)}, note="tuple arguments"),
        Case((2, 5), note="kernel larger than the input", raises=ValueError),
    ]


def _same_padding_cases() -> list[Case]:
    return [
        Case((3,), note="the usual 3x3 kernel: one pixel on each side"),
        Case((7,), note=f"the 7x7 stem of {cite(2)}: three pixels on each side"),
        Case((3,), {"dilation": 2}, note="a dilated 3x3 kernel spans 5 pixels: two on each side"),
        Case((1,), note="a 1x1 kernel needs no padding"),
        Case((4,), note="an even kernel: 3 pixels of padding in all, the extra one on the right (bottom)"),
        Case((2,), {"dilation": 3}, note="spans 4 pixels: 3 of padding, 1 left and 2 right"),
        Case((0,), note="there is no kernel of size 0", raises=ValueError),
    ]


def _conv_cases() -> list[Case]:
    r = RandomInputs(seed=1)
    ramp = torch.arange(25.0).reshape(1, 1, 5, 5)
    edge = torch.tensor([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]])
    return [
        Case((ramp, edge), note="one channel, no padding: a Sobel filter on a ramp"),
        Case((ramp, torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])), note="an asymmetric kernel: no flipping"),
        Case((r.randn(2, 3, 6, 5), r.randn(4, 3, 3, 3), r.randn(4)), note="3 input channels, bias"),
        Case((r.randn(1, 2, 7, 7), r.randn(3, 2, 3, 2), None), {"stride": 2, "padding": 1}),
        Case((r.randn(1, 1, 9, 9), r.randn(2, 1, 3, 3), r.randn(2)), {"dilation": 2}),
        Case((r.randn(1, 4, 5, 5), r.randn(6, 2, 3, 3), r.randn(6)), {"groups": 2, "padding": (1, 0)}),
    ]


def _matrix_cases() -> list[Case]:
    r = RandomInputs(seed=2)
    return [
        Case((torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]), 3), note="the 4x9 matrix from the notebook"),
        Case((r.randn(1, 1, 3, 3), 4), note=f"{cite(4)}'s example: 4x4 input, 3x3 kernel, C is 4x16"),
        Case((r.randn(2, 3, 2, 3), (4, 5)), note="several channels, rectangular kernel"),
    ]


CONV_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-4)

OUTPUT_SIZE, SAME_PADDING, CONV2D_NAIVE, CONV2D_UNFOLD, CONV_MATRIX = declare(
    VisibleSpec("conv_output_size", NOTEBOOK, _size_cases, tolerance=EXACT),
    VisibleSpec("same_padding", NOTEBOOK, _same_padding_cases, tolerance=EXACT),
    VisibleSpec("conv2d_naive", NOTEBOOK, _conv_cases, tolerance=CONV_TOLERANCE),
    VisibleSpec("conv2d_unfold", NOTEBOOK, _conv_cases, tolerance=CONV_TOLERANCE),
    VisibleSpec("conv_matrix", NOTEBOOK, _matrix_cases, tolerance=Tolerance(rtol=1e-5, atol=1e-5)),
)
