"""Notebook 05, upsampling: the visible cases of its six exercises."""

from __future__ import annotations

import torch

from cnnlab.cases import Case, RandomInputs
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import EXACT, Tolerance
from cnnlab.sources import cite

NOTEBOOK = "05_upsampling"
CONV_T_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-4)
INTERP_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)


def _t_size_visible() -> list[Case]:
    return [
        Case((2, 3), note=f"{cite(4)}: a 2x2 map back to 4x4 with a 3x3 kernel"),
        Case((512, 3), {"stride": 2}, note=f"{cite(4)}: 512 -> 1025 with k=3, s=2"),
        Case((7, 4), {"stride": 2, "padding": 1}, note="k=4, s=2, p=1 doubles the size exactly"),
        Case((7, 3), {"stride": 2, "padding": 1, "output_padding": 1},
             note="output_padding picks 14 instead of 13"),
        Case((4, 3), {"dilation": 2}),
        Case((3, 3), {"stride": 1, "output_padding": 1, "dilation": 2},
             note="output_padding < dilation is allowed too"),
        Case(((3, 5), (4, 3)), {"stride": (2, 1), "padding": (1, 0)}, note="tuple arguments"),
        Case((5, 3), {"stride": 2, "output_padding": 2},
             note="output_padding must be smaller than stride or dilation", raises=ValueError),
        Case((1, 1), {"padding": 1}, note="nothing left after removing the padding", raises=ValueError),
    ]


def _t_conv_visible() -> list[Case]:
    r = RandomInputs(seed=7)
    two = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    asym = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    return [
        Case((two, torch.ones(1, 1, 3, 3)), note="a 2x2 input, ones kernel: the overlaps add up"),
        Case((two, asym), {"stride": 2}, note="an asymmetric kernel, stride 2: no flipping"),
        Case((r.randn(2, 3, 3, 4), r.randn(3, 2, 3, 3), r.randn(2)), note="C_in=3 -> C_out=2, bias"),
        Case((r.randn(1, 2, 4, 4), r.randn(2, 2, 3, 3), r.randn(2)), {"stride": 2, "padding": 1,
                                                                     "output_padding": 1},
             note="the usual x2 upsampling: 4 -> 8"),
        Case((r.randn(1, 1, 3, 3), r.randn(1, 2, 2, 3), None), {"dilation": 2, "stride": (1, 2)}),
        Case((r.randn(1, 4, 3, 3), r.randn(4, 1, 3, 2), r.randn(2)), {"groups": 2, "padding": (1, 0)}),
    ]


def _matrix_visible() -> list[Case]:
    r = RandomInputs(seed=8)
    return [
        Case((torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]), torch.ones(1, 1, 3, 3)),
             note=f"{cite(4)}'s example: a 2x2 map, a 3x3 kernel, C is 4x16 and Cᵀ is 16x4"),
        Case((r.randn(1, 2, 2), r.randn(1, 1, 3, 3)), note="a random 3x3 kernel"),
        Case((r.randn(2, 3, 2), r.randn(2, 3, 2, 3)), note="2 output channels of the conv, 3 input channels"),
    ]


def _ramp(*shape: int) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    return torch.arange(float(n)).reshape(shape)


def _nearest_visible() -> list[Case]:
    r = RandomInputs(seed=9)
    return [
        Case((_ramp(1, 1, 2, 3),), {"scale_factor": 2}, note="every pixel becomes a 2x2 block"),
        Case((_ramp(1, 1, 3, 3),), {"size": (5, 7)}, note="a size that is not a multiple"),
        Case((_ramp(1, 1, 5, 5),), {"size": 2}, note="downsampling by nearest: floor(i * 5/2)"),
        Case((_ramp(1, 1, 5, 5),), {"scale_factor": 1.75},
             note="scale_factor 1.75: 5 -> 8, and output i reads input floor(i / 1.75)"),
        Case((_ramp(1, 1, 4, 6),), {"scale_factor": (1.5, 0.5)}, note="one factor per dimension"),
        Case((r.randn(2, 3, 4, 3),), {"size": (6, 5)}, note="a batch with channels"),
        Case((_ramp(1, 1, 2, 2),), note="neither size nor scale_factor", raises=ValueError),
        Case((_ramp(1, 1, 2, 2),), {"size": 4, "scale_factor": 2}, note="both given", raises=ValueError),
    ]


def _bilinear_visible() -> list[Case]:
    r = RandomInputs(seed=10)
    return [
        Case((_ramp(1, 1, 2, 2), (4, 4)), note="2x2 -> 4x4, align_corners=False"),
        Case((_ramp(1, 1, 2, 2), (4, 4)), {"align_corners": True}, note="2x2 -> 4x4, corners aligned"),
        Case((_ramp(1, 1, 1, 4), (1, 7)), note="one row: only the width is interpolated"),
        Case((r.randn(1, 2, 5, 4), (3, 2)), note="downsampling"),
        Case((r.randn(2, 1, 3, 3), 5), {"align_corners": True}, note="size as one int"),
        Case((r.randn(1, 1, 4, 3), (1, 6)), {"align_corners": True}, note="an output of height 1"),
    ]


def _overlap_visible() -> list[Case]:
    return [
        Case((3, 2, 4), note="k=3, s=2: odd and even pixels are touched 2 and 1 times, a checkerboard"),
        Case((4, 2, 3), note="k=4, s=2: every inner pixel is touched twice, evenly"),
        Case((3, 1, 3), note="stride 1"),
        Case((2, 3, 2), note="stride larger than the kernel: gaps of zeros"),
        Case(((3, 4), (2, 2), (2, 3)), note="pairs: (kH, kW), (sH, sW), (H, W)"),
    ]


T_SIZE, T_CONV, T_MATRIX, NEAREST, BILINEAR, OVERLAP = declare(
    VisibleSpec("conv_transpose_output_size", NOTEBOOK, _t_size_visible, tolerance=EXACT),
    VisibleSpec("conv_transpose2d_naive", NOTEBOOK, _t_conv_visible, tolerance=CONV_T_TOLERANCE),
    VisibleSpec("transposed_conv_via_matrix", NOTEBOOK, _matrix_visible, tolerance=CONV_T_TOLERANCE),
    VisibleSpec("interpolate_nearest", NOTEBOOK, _nearest_visible, tolerance=INTERP_TOLERANCE),
    VisibleSpec("interpolate_bilinear", NOTEBOOK, _bilinear_visible, tolerance=INTERP_TOLERANCE),
    VisibleSpec("overlap_map", NOTEBOOK, _overlap_visible, tolerance=EXACT),
)
