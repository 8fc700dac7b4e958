"""Notebook 08, backward passes: the visible cases of its six exercises.

Every expected gradient was recorded at release from PyTorch's autograd; nothing here
computes one. :class:`SmoothScalar` is the test function that ``numeric_gradient`` is
asked to differentiate: a module, so that the grader can hand it to the kernel as data.
"""

from __future__ import annotations

import math

import torch

from cnnlab.cases import Case, RandomInputs
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import Tolerance

NOTEBOOK = "08_backward"

NUMERIC_TOLERANCE = Tolerance(rtol=1e-5, atol=1e-7)
GRAD_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)


class SmoothScalar(torch.nn.Module):
    """``f(x) = sum(c * tanh(a * x + b)) + 0.25 * v^T M v`` with ``v = x.flatten()``: a scalar, smooth in ``x``.

    ``a``, ``b`` and ``c`` have the shape of ``x``, ``M`` is ``(x.numel(), x.numel())``; all are
    buffers (no autograd graph is built when it is called).
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, m: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("a", a)
        self.register_buffer("b", b)
        self.register_buffer("c", c)
        self.register_buffer("m", m)

    @classmethod
    def random(cls, r: RandomInputs, shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> SmoothScalar:
        """A random instance for inputs of ``shape``, on ``r.device``."""
        n = math.prod(shape)
        return cls(r.randn(*shape, dtype=dtype), r.randn(*shape, dtype=dtype), r.randn(*shape, dtype=dtype),
                   r.randn(n, n, dtype=dtype) / n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.reshape(-1)
        return (self.c * torch.tanh(self.a * x + self.b)).sum() + 0.25 * (v @ self.m @ v)


def _numeric_visible() -> list[Case]:
    r = RandomInputs(seed=81)
    x3 = r.randn(3, dtype=torch.float64)
    x23 = r.randn(2, 3, dtype=torch.float64)
    x4 = r.randn(1, 1, 2, 2, dtype=torch.float64)
    return [
        Case((SmoothScalar.random(r, (3,)), x3), note="three inputs, the default eps"),
        Case((SmoothScalar.random(r, (2, 3)), x23), {"eps": 1e-4}, note="a 2x3 input: one difference per element"),
        Case((SmoothScalar.random(r, (1, 1, 2, 2)), x4), {"eps": 1e-2},
             note="a large eps: the central difference stays accurate, a one-sided one does not"),
    ]


def _conv_visible() -> list[Case]:
    r = RandomInputs(seed=82)
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    return [
        Case((torch.ones(1, 1, 2, 2), x, w), note="one channel, stride 1: dx is dout convolved with the flipped "
             "kernel (a 'full' convolution)"),
        Case((r.randn(2, 4, 4, 4), r.randn(2, 3, 7, 7), r.randn(4, 3, 3, 3)), {"stride": 2, "padding": 1},
             note="stride 2, padding 1: gradients land on every second position; the padding is cropped"),
        Case((r.randn(1, 2, 3, 4), r.randn(1, 2, 7, 8), r.randn(2, 2, 3, 3)), {"dilation": 2},
             note="dilation 2: the kernel's taps are two pixels apart"),
        Case((r.randn(2, 4, 5, 5), r.randn(2, 4, 5, 5), r.randn(4, 2, 3, 3)), {"padding": 1, "groups": 2},
             note="groups=2: each half of the output only sees its half of the input"),
        Case((r.randn(1, 3, 4, 2), r.randn(1, 2, 8, 6), r.randn(3, 2, 3, 2)),
             {"stride": (2, 3), "padding": (1, 0), "dilation": (1, 2)}, note="pairs: height and width differ"),
    ]


def _max_pool_visible() -> list[Case]:
    r = RandomInputs(seed=83)
    grid = torch.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0], [9.0, 0.0, 1.0, 2.0],
                           [6.0, 2.0, 3.0, 4.0]]]])
    ties = torch.tensor([[[[2.0, 2.0, 1.0, 3.0], [2.0, 0.0, 3.0, 3.0]]]])
    return [
        Case((torch.ones(1, 1, 2, 2), grid, 2), note="each window's gradient goes to its maximum, zeros elsewhere"),
        Case((torch.tensor([[[[1.0, 10.0]]]]), ties, 2),
             note="ties: PyTorch sends the gradient to the first maximum in the window (row by row)"),
        Case((r.randn(2, 3, 3, 3), r.randn(2, 3, 7, 7), 3), {"stride": 2},
             note="overlapping windows: a pixel that wins twice collects both gradients"),
        Case((r.randn(1, 2, 3, 3), -r.rand(1, 2, 5, 5) - 0.1, 3), {"stride": 2, "padding": 1},
             note="all inputs negative: the padding is -inf and never wins"),
    ]


def _avg_pool_visible() -> list[Case]:
    r = RandomInputs(seed=84)
    return [
        Case((torch.ones(1, 1, 2, 2), torch.arange(16.0).reshape(1, 1, 4, 4), 2),
             note="every pixel of a 2x2 window gets dout / 4"),
        Case((r.randn(2, 2, 3, 3), r.randn(2, 2, 6, 6), 3), {"stride": 2, "padding": 1},
             note="padding 1, count_include_pad=True: border windows still divide by 9"),
        Case((r.randn(2, 2, 3, 3), r.randn(2, 2, 6, 6), 3), {"stride": 2, "padding": 1, "count_include_pad": False},
             note="count_include_pad=False: border windows divide by the real pixels they cover"),
        Case((r.randn(1, 3, 5, 5), r.randn(1, 3, 7, 7), 3), {"stride": 1},
             note="overlapping windows: a pixel collects a share from every window it is in"),
    ]


def _bn_visible() -> list[Case]:
    r = RandomInputs(seed=85)
    return [
        Case((r.randn(4, 2, 3, 3), r.randn(4, 2, 3, 3), torch.ones(2)),
             note="weight 1: dx sums three terms (direct, through the mean, through the variance)"),
        Case((r.randn(2, 3, 4, 4), 2.0 + 3.0 * r.randn(2, 3, 4, 4), r.randn(3)),
             note="an input with mean 2 and std 3: the normalisation matters"),
        Case((r.randn(8, 1, 2, 2), r.randn(8, 1, 2, 2), r.randn(1)), {"eps": 1e-3}, note="eps=1e-3"),
    ]


def _ce_visible() -> list[Case]:
    r = RandomInputs(seed=86)
    return [
        Case((torch.zeros(2, 3), torch.tensor([0, 2])), note="equal logits: softmax is 1/3 everywhere"),
        Case((r.randn(5, 4), torch.tensor([3, 0, 1, 1, 2])), note="a batch of 5: the mean divides by 5"),
        Case((torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 200.0]]), torch.tensor([0, 1])),
             note="huge logits: softmax must not overflow"),
        Case((r.randn(16, 10), torch.arange(16) % 10), note="MNIST-sized: 10 classes"),
    ]


NUMERIC_GRADIENT, CONV_BACKWARD, MAX_POOL_BACKWARD, AVG_POOL_BACKWARD, BN_BACKWARD, CE_BACKWARD = declare(
    VisibleSpec("numeric_gradient", NOTEBOOK, _numeric_visible, tolerance=NUMERIC_TOLERANCE),
    VisibleSpec("conv2d_backward", NOTEBOOK, _conv_visible, tolerance=GRAD_TOLERANCE),
    VisibleSpec("max_pool2d_backward", NOTEBOOK, _max_pool_visible, tolerance=GRAD_TOLERANCE),
    VisibleSpec("avg_pool2d_backward", NOTEBOOK, _avg_pool_visible, tolerance=GRAD_TOLERANCE),
    VisibleSpec("batch_norm2d_backward", NOTEBOOK, _bn_visible, tolerance=GRAD_TOLERANCE),
    VisibleSpec("cross_entropy_backward", NOTEBOOK, _ce_visible, tolerance=GRAD_TOLERANCE),
)
