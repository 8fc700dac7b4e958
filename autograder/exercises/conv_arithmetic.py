"""Notebook 01, convolution arithmetic: output sizes, naive and unfold convolutions, C."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch

from autograder.exercises.base import Exercise, register
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import conv_arithmetic as visible
from cnnlab.diagnosis import Misconception

IntOrTuple = int | Sequence[int]


# ----------------------------------------------------------------------------- sizes
def _spread(args: Sequence[IntOrTuple]) -> tuple[list[tuple[int, ...]], bool]:
    """Broadcast int/tuple arguments to tuples of one common length."""
    lengths = {len(a) for a in args if isinstance(a, (tuple, list))}
    if len(lengths) > 1:
        raise ValueError(f"tuple arguments must all have the same length, got lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    spread = [tuple(a) if isinstance(a, (tuple, list)) else (a,) * n for a in args]
    return spread, bool(lengths) or any(isinstance(a, (tuple, list)) for a in args)


def conv_output_size_reference(size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                               padding: IntOrTuple = 0, dilation: IntOrTuple = 1) -> int | tuple[int, ...]:
    """PyTorch's own answer: run ``conv1d/2d/3d`` on shape-only (meta) tensors."""
    (size_t, k, s, p, d), as_tuple = _spread((size, kernel_size, stride, padding, dilation))
    conv = {1: pristine.conv1d, 2: pristine.conv2d, 3: pristine.conv3d}.get(len(size_t))
    if conv is None:
        raise ValueError("only 1, 2 or 3 spatial dimensions are supported")
    x = torch.empty((1, 1, *size_t), device="meta")
    w = torch.empty((1, 1, *k), device="meta")
    try:
        out = tuple(conv(x, w, stride=s, padding=p, dilation=d).shape[2:])
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    return out if as_tuple else out[0]


def _size_formula(rounding, pad_factor: int = 2, span=lambda k, d: d * (k - 1) + 1, plus_one: int = 1):
    """A size formula with one knob changed, for building wrong variants."""

    def size_fn(size, kernel_size, stride=1, padding=0, dilation=1):
        (n, k, s, p, d), as_tuple = _spread((size, kernel_size, stride, padding, dilation))
        out = tuple(
            int(rounding((n[i] + pad_factor * p[i] - span(k[i], d[i])) / s[i])) + plus_one
            for i in range(len(n))
        )
        return out if as_tuple else out[0]

    return size_fn


SIZE_MISCONCEPTIONS = (
    Misconception("ceil-vs-floor", "output size used ceil where PyTorch floors: a window that would "
                  "run past the padded edge is dropped", variant=_size_formula(math.ceil)),
    Misconception("dilation-ignored", "dilation left out of the size: a dilated kernel spans d*(k-1)+1 pixels",
                  variant=_size_formula(math.floor, span=lambda k, d: k)),
    Misconception("dilation-times-k", "a dilated kernel spans d*(k-1)+1 pixels, not d*k",
                  variant=_size_formula(math.floor, span=lambda k, d: d * k)),
    Misconception("padding-one-side", "padding is added on both sides, so it counts 2*padding",
                  variant=_size_formula(math.floor, pad_factor=1)),
    Misconception("missing-plus-one", "forgot the +1: the first window is counted before any stride",
                  variant=_size_formula(math.floor, plus_one=0)),
    Misconception("float-size", "returned a float; sizes are whole numbers, use // (floor division)",
                  detect=lambda case, got, expected: isinstance(got, float)
                  or (isinstance(got, tuple) and any(isinstance(v, float) for v in got))),
)


register(Exercise.from_spec(visible.OUTPUT_SIZE, conv_output_size_reference, misconceptions=SIZE_MISCONCEPTIONS))


# ---------------------------------------------------------------------- same padding
def same_padding_reference(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """PyTorch's own split: the ``(left, right)`` zero padding that reproduces ``padding='same'``.

    Found by trying every split of ``dilation * (kernel_size - 1)`` against ``F.conv1d`` with
    ``padding='same'`` on a random input (float64, so equality is exact).
    """
    if kernel_size < 1 or dilation < 1:
        raise ValueError(f"kernel_size and dilation must be at least 1, got {kernel_size} and {dilation}")
    total = dilation * (kernel_size - 1)
    gen = torch.Generator().manual_seed(kernel_size * 1000 + dilation)
    x = torch.randn(1, 1, total + 5, generator=gen, dtype=torch.float64)
    w = torch.randn(1, 1, kernel_size, generator=gen, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "even kernel lengths and odd dilation may require a copy"
        same = pristine.conv1d(x, w, padding="same", dilation=dilation)
    for left in range(total + 1):
        padded = pristine.conv1d(torch.nn.functional.pad(x, (left, total - left)), w, dilation=dilation)
        if padded.shape == same.shape and pristine.equal(padded, same):
            return left, total - left
    raise AssertionError("no split of the padding reproduces padding='same'")


def _same_variant(*, extra_left: bool = False, use_dilation: bool = True, halves: str = "split"):
    def variant(kernel_size, dilation=1):
        if kernel_size < 1 or dilation < 1:
            raise ValueError("kernel_size and dilation must be at least 1")
        total = (dilation if use_dilation else 1) * (kernel_size - 1)
        if halves == "floor":
            return total // 2, total // 2
        small = total // 2
        return (total - small, small) if extra_left else (small, total - small)

    return variant


_SAME_VARIANTS = {
    "extra-padding-on-left": _same_variant(extra_left=True),
    "dilation-ignored": _same_variant(use_dilation=False),
    "same-padding-floored": _same_variant(halves="floor"),
}

SAME_MISCONCEPTIONS = (
    Misconception("extra-padding-on-left", "when the padding d*(k-1) is odd, PyTorch's padding='same' puts the "
                  "extra pixel on the right (bottom), not the left", variant=_SAME_VARIANTS["extra-padding-on-left"]),
    Misconception("dilation-ignored", "a dilated kernel spans d*(k-1)+1 pixels, so 'same' needs d*(k-1) pixels "
                  "of padding in all, not k-1", variant=_SAME_VARIANTS["dilation-ignored"]),
    Misconception("same-padding-floored", "with an even kernel, d*(k-1) is odd: padding floor(d*(k-1)/2) on "
                  "both sides loses one pixel; the right side needs one more",
                  variant=_SAME_VARIANTS["same-padding-floored"]),
)

register(Exercise.from_spec(visible.SAME_PADDING, same_padding_reference, misconceptions=SAME_MISCONCEPTIONS))


def same_padding_case(r: RandomInputs) -> Case:
    """A random ``same_padding`` question: kernels 1-11, dilation 1-4 (half the time 1)."""
    k = r.rng.randint(1, 11)
    if r.rng.random() < 0.5:
        return Case((k,))
    return Case((k,), {"dilation": r.rng.randint(1, 4)})


# ----------------------------------------------------------------------- convolution
def _flipped(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return pristine.conv2d(x, weight.flip(-1, -2), bias, stride, padding, dilation, groups)


def _no_bias(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return pristine.conv2d(x, weight, None, stride, padding, dilation, groups)


def _groups_interleaved(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Output channel o reads input group o % groups instead of o // (C_out/groups)."""
    cin_g = weight.shape[1]
    outs = []
    for o in range(weight.shape[0]):
        g = o % groups
        b = None if bias is None else bias[o:o + 1]
        outs.append(pristine.conv2d(x[:, g * cin_g:(g + 1) * cin_g], weight[o:o + 1], b, stride, padding, dilation))
    return torch.cat(outs, dim=1)


def _with(**fixed):
    def variant(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups} | fixed
        return pristine.conv2d(x, weight, bias, **kw)

    return variant


CONV_MISCONCEPTIONS = (
    Misconception("flipped-kernel", "the kernel was flipped: that is true convolution, but PyTorch's "
                  "conv2d computes cross-correlation (no flip)", variant=_flipped),
    Misconception("bias-forgotten", "the bias was not added (one bias value per output channel)",
                  variant=_no_bias),
    Misconception("groups-mixed-channels", "groups mixed channels: output channel o belongs to group "
                  "o // (C_out/groups) and sees only that group's C_in/groups input channels",
                  variant=_groups_interleaved),
    Misconception("dilation-ignored", "dilation ignored: kernel taps are dilation pixels apart",
                  variant=_with(dilation=1)),
    Misconception("stride-ignored", "stride ignored: windows start every `stride` pixels",
                  variant=_with(stride=1)),
    Misconception("padding-ignored", "padding ignored: pad the input with zeros on every side first",
                  variant=_with(padding=0)),
)


for _spec in (visible.CONV2D_NAIVE, visible.CONV2D_UNFOLD):
    register(Exercise.from_spec(_spec, pristine.conv2d, misconceptions=CONV_MISCONCEPTIONS))


# ------------------------------------------------------------------ conv as a matrix
def conv_matrix_reference(weight: torch.Tensor, input_size: IntOrTuple) -> torch.Tensor:
    """Build C column by column: column j is the convolution of the j-th basis image."""
    h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    cin = weight.shape[1]
    n = cin * h * w
    basis = torch.eye(n, dtype=weight.dtype, device=weight.device).reshape(n, cin, h, w)
    return pristine.conv2d(basis, weight).reshape(n, -1).T.contiguous()


def _flipped_matrix(weight, input_size):
    return conv_matrix_reference(weight.flip(-1, -2), input_size)


def _is_transpose(case, got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == expected.T.shape and got.shape != expected.shape
            and bool(pristine.allclose(got.T.to(expected.dtype), expected, atol=1e-5)))


MATRIX_MISCONCEPTIONS = (
    Misconception("returned-transpose", "returned Cᵀ: C has one row per output pixel and one column "
                  "per input pixel, shape (C_out*H_out*W_out, C_in*H*W)", detect=_is_transpose),
    Misconception("flipped-kernel", "the kernel was flipped: conv2d is cross-correlation (no flip)",
                  variant=_flipped_matrix),
)


register(Exercise.from_spec(visible.CONV_MATRIX, conv_matrix_reference, misconceptions=MATRIX_MISCONCEPTIONS))


def conv_matrix_case(r: RandomInputs) -> Case:
    """A random ``conv_matrix`` call with a small input (C stays a few hundred wide)."""
    rng = r.rng
    cin, cout = rng.randint(1, 3), rng.randint(1, 3)
    k = (rng.randint(1, 3), rng.randint(1, 3))
    size = (rng.randint(k[0], k[0] + 4), rng.randint(k[1], k[1] + 4))
    return Case((r.randn(cout, cin, *k), r.pair(size)))


def conv_output_size_case(r: RandomInputs) -> Case:
    """A random valid size question; half the time stride does not divide the span evenly."""
    rng = r.rng
    dims = rng.choice([1, 1, 2, 3])
    k = [rng.randint(1, 7) for _ in range(dims)]
    s = [rng.randint(1, 4) for _ in range(dims)]
    d = [rng.randint(1, 3) for _ in range(dims)]
    p = [rng.randint(0, 3) for _ in range(dims)]
    n = [max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]) + rng.randint(0, 40) for i in range(dims)]
    if dims == 1:
        return Case((n[0], k[0]), {"stride": s[0], "padding": p[0], "dilation": d[0]})
    return Case((tuple(n), tuple(k)), {"stride": tuple(s), "padding": tuple(p), "dilation": tuple(d)})


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


__all__ = ["conv2d_case", "conv_matrix_case", "conv_output_size_case", "conv_output_size_reference",
           "conv_matrix_reference", "same_padding_case", "same_padding_reference"]
