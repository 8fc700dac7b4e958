"""Notebook 05, upsampling: transposed convolution (size, loops, as Cᵀ), interpolation, overlap.

References call PyTorch through :mod:`cnnlab.pristine`. ``STUDENT_MISTAKES`` lists every
wrong implementation by exercise and tag, so that the tests can prove each diagnosis fires.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from autograder.exercises.base import Exercise, register
from autograder.exercises.conv_arithmetic import conv_matrix_reference as conv_matrix
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import upsampling as visible
from cnnlab.diagnosis import Misconception

IntOrTuple = int | Sequence[int]
CONV_T_TOLERANCE = visible.CONV_T_TOLERANCE
INTERP_TOLERANCE = visible.INTERP_TOLERANCE


def _spread(args: Sequence[Any]) -> tuple[list[tuple], bool]:
    """Broadcast int/tuple arguments to tuples of one common length; say if any was a tuple."""
    lengths = {len(a) for a in args if isinstance(a, (tuple, list))}
    if len(lengths) > 1:
        raise ValueError(f"tuple arguments must all have the same length, got lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    as_tuple = any(isinstance(a, (tuple, list)) for a in args)
    return [tuple(a) if isinstance(a, (tuple, list)) else (a,) * n for a in args], as_tuple


def _pair(value: Any) -> tuple[Any, Any]:
    return (value[0], value[1]) if isinstance(value, (tuple, list)) else (value, value)


def _returned_float(case, got, expected) -> bool:
    if isinstance(got, (tuple, list)):
        return any(isinstance(v, float) for v in got)
    return isinstance(got, float)


# -------------------------------------------------------------- transposed conv: size
def conv_transpose_output_size_reference(size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                                         padding: IntOrTuple = 0, output_padding: IntOrTuple = 0,
                                         dilation: IntOrTuple = 1) -> int | tuple[int, ...]:
    """PyTorch's own answer: a real ``conv_transpose2d`` on zeros, one dimension at a time.

    (Shape-only meta tensors skip the output_padding check, so real, tiny tensors are used.)
    PyTorch's errors become ``ValueError``.
    """
    (n, k, s, p, op, d), as_tuple = _spread((size, kernel_size, stride, padding, output_padding, dilation))
    out = []
    for i in range(len(n)):
        x = torch.zeros(1, 1, n[i], 1)
        w = torch.zeros(1, 1, k[i], 1)
        try:
            y = pristine.conv_transpose2d(x, w, None, (s[i], 1), (p[i], 0), (op[i], 0), 1, (d[i], 1))
        except RuntimeError as exc:
            raise ValueError(str(exc)) from None
        out.append(int(y.shape[-2]))
    return tuple(out) if as_tuple else out[0]


def _t_size_formula(*, pad_sign: int = -1, op_factor: int = 1, use_dilation: bool = True,
                    minus_one: bool = True) -> Callable[..., Any]:
    """The transposed-conv size formula with one knob changed (no validity checks), for wrong variants."""

    def size_fn(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
        args = (size, kernel_size, stride, padding, output_padding, dilation)
        (n, k, s, p, op, d), as_tuple = _spread(args)
        out = tuple(
            (n[i] - (1 if minus_one else 0)) * s[i] + pad_sign * 2 * p[i]
            + (d[i] if use_dilation else 1) * (k[i] - 1) + op_factor * op[i] + 1
            for i in range(len(n)))
        return out if as_tuple else out[0]

    return size_fn


_T_SIZE_VARIANTS: dict[str, Callable[..., Any]] = {
    "padding-added": _t_size_formula(pad_sign=1),
    "output-padding-ignored": _t_size_formula(op_factor=0),
    "output-padding-both-sides": _t_size_formula(op_factor=2),
    "dilation-ignored": _t_size_formula(use_dilation=False),
    "missing-minus-one": _t_size_formula(minus_one=False),
}

T_SIZE_MISCONCEPTIONS = (
    Misconception("padding-added", "in a transposed convolution the padding is *removed* from the output "
                  "(-2*padding): it undoes the padding of the matching convolution",
                  variant=_T_SIZE_VARIANTS["padding-added"]),
    Misconception("output-padding-ignored", "output_padding adds that many rows/columns to the output "
                  "(on the bottom/right)", variant=_T_SIZE_VARIANTS["output-padding-ignored"]),
    Misconception("output-padding-both-sides", "output_padding is added on one side only, unlike padding",
                  variant=_T_SIZE_VARIANTS["output-padding-both-sides"]),
    Misconception("dilation-ignored", "dilation left out: a dilated kernel spans dilation*(k-1)+1 pixels",
                  variant=_T_SIZE_VARIANTS["dilation-ignored"]),
    Misconception("missing-minus-one", "the input's first pixel places the kernel at 0, so H input pixels "
                  "span (H-1)*stride, not H*stride", variant=_T_SIZE_VARIANTS["missing-minus-one"]),
    Misconception("float-size", "returned a float; sizes are whole numbers", detect=_returned_float),
)



register(Exercise.from_spec(visible.T_SIZE, conv_transpose_output_size_reference, misconceptions=T_SIZE_MISCONCEPTIONS))


def conv_transpose_size_case(r: RandomInputs) -> Case:
    """A random valid ``conv_transpose_output_size`` question (1, 2 or 3 dimensions)."""
    rng = r.rng
    dims = rng.choice([1, 1, 2, 3])
    cols: list[tuple[int, ...]] = []
    for _ in range(dims):
        while True:
            n, k, s, d = rng.randint(1, 40), rng.randint(1, 7), rng.randint(1, 4), rng.randint(1, 3)
            p = rng.randint(0, 3)
            op = rng.randint(0, max(s, d) - 1)
            if (n - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1:
                cols.append((n, k, s, p, op, d))
                break
    n, k, s, p, op, d = (list(t) for t in zip(*cols, strict=True))
    if dims == 1:
        return Case((n[0], k[0]), {"stride": s[0], "padding": p[0], "output_padding": op[0],
                                   "dilation": d[0]})
    return Case((tuple(n), tuple(k)), {"stride": tuple(s), "padding": tuple(p), "output_padding": tuple(op),
                                       "dilation": tuple(d)})


def conv_transpose_size_error_case(r: RandomInputs) -> Case:
    """An invalid question: output_padding not smaller than both stride and dilation."""
    rng = r.rng
    s, d = rng.randint(1, 3), rng.randint(1, 3)
    return Case((rng.randint(2, 20), rng.randint(1, 5)),
                {"stride": s, "dilation": d, "output_padding": max(s, d) + rng.randint(0, 2)},
                raises=ValueError)


# ---------------------------------------------------------- transposed conv: the loops
def conv_transpose2d_reference(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1,
                               groups=1):
    """``F.conv_transpose2d`` with the exercise's argument order (dilation before groups)."""
    return pristine.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)


def _t_with(**fixed):
    def variant(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        kw = {"bias": bias, "stride": stride, "padding": padding, "output_padding": output_padding,
              "dilation": dilation, "groups": groups} | fixed
        if "output_padding" not in fixed and ("stride" in fixed or "dilation" in fixed):
            kw["output_padding"] = 0  # the changed stride/dilation may not allow it
        return conv_transpose2d_reference(x, weight, **kw)

    return variant


def _t_flipped(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    return conv_transpose2d_reference(x, weight.flip(-1, -2), bias, stride, padding, output_padding, dilation,
                                      groups)


def _t_swapped_layout(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """weight read as (C_out, C_in, kH, kW), like a Conv2d weight; runs only when that shape fits."""
    if groups != 1 or weight.shape[0] != weight.shape[1]:
        raise ValueError("the swapped layout only runs when C_in == C_out")
    return conv_transpose2d_reference(x, weight.transpose(0, 1), bias, stride, padding, output_padding,
                                      dilation, groups)


_T_CONV_VARIANTS: dict[str, Callable[..., Any]] = {
    "flipped-kernel": _t_flipped,
    "weight-layout-swapped": _t_swapped_layout,
    "bias-forgotten": _t_with(bias=None),
    "output-padding-ignored": _t_with(output_padding=0),
    "padding-ignored": _t_with(padding=0),
    "stride-ignored": _t_with(stride=1),
    "dilation-ignored": _t_with(dilation=1),
}

T_CONV_MISCONCEPTIONS = (
    Misconception("flipped-kernel", "the kernel is flipped: each input pixel stamps the kernel as it is "
                  "(w[u, v] lands at i*stride + u*dilation); only the equivalent direct convolution over the "
                  "stretched input needs the flipped kernel", variant=_t_flipped),
    Misconception("weight-layout-swapped", "a ConvTranspose2d weight has shape (C_in, C_out/groups, kH, kW): "
                  "the first axis is the *input* channel", variant=_t_swapped_layout),
    Misconception("bias-forgotten", "the bias was not added (one value per output channel)",
                  variant=_T_CONV_VARIANTS["bias-forgotten"]),
    Misconception("output-padding-ignored", "output_padding ignored: it adds rows/columns at the "
                  "bottom/right of the output", variant=_T_CONV_VARIANTS["output-padding-ignored"]),
    Misconception("padding-ignored", "padding ignored: crop `padding` rows/columns from every side of the "
                  "full output", variant=_T_CONV_VARIANTS["padding-ignored"]),
    Misconception("stride-ignored", "stride ignored: input pixel (i, j) stamps its kernel at (i*stride, "
                  "j*stride)", variant=_T_CONV_VARIANTS["stride-ignored"]),
    Misconception("dilation-ignored", "dilation ignored: the kernel taps land dilation pixels apart",
                  variant=_T_CONV_VARIANTS["dilation-ignored"]),
)



register(Exercise.from_spec(visible.T_CONV, conv_transpose2d_reference, misconceptions=T_CONV_MISCONCEPTIONS))


def conv_transpose2d_case(r: RandomInputs) -> Case:
    """A random valid ``F.conv_transpose2d`` call with small shapes (a naive loop must finish quickly)."""
    rng = r.rng
    g = rng.choice([1, 1, 2])
    cin, cout_g = g * rng.randint(1, 2), rng.randint(1, 2)
    while True:
        k = (rng.randint(1, 4), rng.randint(1, 4))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        d = (rng.randint(1, 2), rng.randint(1, 2))
        p = (rng.randint(0, 2), rng.randint(0, 2))
        op = tuple(rng.randint(0, max(s[i], d[i]) - 1) for i in range(2))
        hw = (rng.randint(1, 5), rng.randint(1, 5))
        if all((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 >= 1 for i in range(2)):
            break
    x = r.randn(rng.randint(1, 2), cin, *hw)
    weight = r.randn(cin, cout_g, *k)
    bias = r.randn(cout_g * g) if rng.random() < 0.7 else None
    kwargs = {"stride": r.pair(s), "padding": r.pair(p), "output_padding": r.pair(op), "dilation": r.pair(d),
              "groups": g}
    return Case((x, weight, bias), kwargs)


# ------------------------------------------------------------ transposed conv as Cᵀ
def transposed_conv_via_matrix_reference(y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv_transpose2d(y[None], weight)[0]``: stride 1, no padding, one image."""
    return pristine.conv_transpose2d(y.unsqueeze(0), weight)[0]


def _via_pseudo_inverse(y, weight):
    kh, kw = weight.shape[-2:]
    h, w = y.shape[-2] + kh - 1, y.shape[-1] + kw - 1
    c = conv_matrix(weight, (h, w))
    return (torch.linalg.pinv(c) @ y.flatten()).reshape(weight.shape[1], h, w)


def _via_flipped(y, weight):
    return transposed_conv_via_matrix_reference(y, weight.flip(-1, -2))


def _not_reshaped(case, got, expected) -> bool:
    return isinstance(got, torch.Tensor) and got.ndim == 1 and got.numel() == expected.numel()


MATRIX_MISCONCEPTIONS = (
    Misconception("pseudo-inverse-not-transpose", "used the (pseudo-)inverse of C; the transposed "
                  "convolution multiplies by Cᵀ, which has the transposed *shape* of C but is not its "
                  "inverse",
                  variant=_via_pseudo_inverse),
    Misconception("flipped-kernel", "the kernel was flipped: Cᵀ is built from the same C, with the kernel "
                  "as it is", variant=_via_flipped),
    Misconception("not-reshaped", "Cᵀ @ y.flatten() is a vector: reshape it to (C_in, H, W)",
                  detect=_not_reshaped),
)



register(Exercise.from_spec(visible.T_MATRIX, transposed_conv_via_matrix_reference,
                            misconceptions=MATRIX_MISCONCEPTIONS))


def transposed_matrix_case(r: RandomInputs) -> Case:
    """A random ``transposed_conv_via_matrix`` call: y of shape (C_out, H_out, W_out) and a conv weight."""
    rng = r.rng
    cout, cin = rng.randint(1, 3), rng.randint(1, 3)
    k = (rng.randint(1, 3), rng.randint(1, 3))
    y = r.randn(cout, rng.randint(1, 4), rng.randint(1, 4))
    return Case((y, r.randn(cout, cin, *k)))


# ----------------------------------------------------------------- nearest resize
def interpolate_nearest_reference(x, size=None, scale_factor=None):
    """``F.interpolate(x, size, scale_factor, mode="nearest")``."""
    return pristine.interpolate(x, size=size, scale_factor=scale_factor, mode="nearest")


def _nearest_from_sizes(x, size=None, scale_factor=None):
    """Maps output i to floor(i * in/out) even when a scale_factor was given."""
    if scale_factor is None:
        return interpolate_nearest_reference(x, size=size)
    sh, sw = _pair(scale_factor)
    out = (math.floor(x.shape[-2] * sh), math.floor(x.shape[-1] * sw))
    return interpolate_nearest_reference(x, size=out)


def _nearest_rounded_size(x, size=None, scale_factor=None):
    """Rounds in * scale_factor to the nearest integer for the output size (PyTorch floors)."""
    if scale_factor is None:
        return interpolate_nearest_reference(x, size=size)
    sh, sw = _pair(scale_factor)
    out = (max(1, round(x.shape[-2] * sh)), max(1, round(x.shape[-1] * sw)))
    if out == (math.floor(x.shape[-2] * sh), math.floor(x.shape[-1] * sw)):
        return interpolate_nearest_reference(x, scale_factor=scale_factor)
    return _resample(x, out, lambda dst, n, m, axis: (dst / (sh, sw)[axis]).floor(), bilinear=False)


def _nearest_exact(x, size=None, scale_factor=None):
    return pristine.interpolate(x, size=size, scale_factor=scale_factor, mode="nearest-exact")


_NEAREST_VARIANTS: dict[str, Callable[..., Any]] = {
    "half-pixel-nearest": _nearest_exact,
    "scale-from-sizes": _nearest_from_sizes,
    "size-rounded": _nearest_rounded_size,
}

NEAREST_MISCONCEPTIONS = (
    Misconception("half-pixel-nearest", "mode='nearest' reads input floor(i * scale), with no half-pixel "
                  "offset (that is mode='nearest-exact')", variant=_nearest_exact),
    Misconception("scale-from-sizes", "with scale_factor given, PyTorch maps output i to floor(i / "
                  "scale_factor), not floor(i * in/out)", variant=_nearest_from_sizes),
    Misconception("size-rounded", "the output size is floor(in * scale_factor), not rounded",
                  variant=_nearest_rounded_size),
)



register(Exercise.from_spec(visible.NEAREST, interpolate_nearest_reference, misconceptions=NEAREST_MISCONCEPTIONS))


def _nearest_map_is_robust(n: int, m: int, scale_factor: float | None) -> bool:
    """True when float64 ``floor(i / scale_factor)`` (or ``floor(i * n / m)``) is PyTorch's answer everywhere.

    Two things can make them differ, and the tests avoid both:

    - PyTorch computes in float32, which for rare sizes rounds differently from float64;
    - for 2-d inputs on the CPU, PyTorch maps output i to i when m == n and to i // 2 when
      m == 2n, whatever the scale factor; CUDA uses the scale factor. With a scale factor
      other than 1 (or 2) such sizes would grade differently on the two devices.
    """
    if scale_factor is not None and ((m == n and scale_factor != 1) or (m == 2 * n and scale_factor != 2)):
        return False
    line = torch.arange(float(n)).reshape(1, 1, n)
    if scale_factor is None:
        torch_idx = pristine.interpolate(line, size=m, mode="nearest")[0, 0].long().tolist()
        mine = [min(math.floor(i * n / m), n - 1) for i in range(m)]
    else:
        torch_idx = pristine.interpolate(line, scale_factor=scale_factor, mode="nearest")
        torch_idx = torch_idx[0, 0].long().tolist()
        mine = [min(math.floor(i / scale_factor), n - 1) for i in range(m)]
    return torch_idx == mine


FACTORS = (0.5, 0.75, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 2, 3)


def interpolate_nearest_case(r: RandomInputs) -> Case:
    """A random ``interpolate_nearest`` call: a size (int or pair) or a scale factor (one or a pair)."""
    rng = r.rng
    while True:
        h, w = rng.randint(1, 8), rng.randint(1, 8)
        if rng.random() < 0.5:
            size = (rng.randint(1, 16), rng.randint(1, 16))
            if all(_nearest_map_is_robust(n, m, None) for n, m in zip((h, w), size, strict=True)):
                return Case((r.randn(rng.randint(1, 2), rng.randint(1, 3), h, w),), {"size": r.pair(size)})
        else:
            sf = (rng.choice(FACTORS), rng.choice(FACTORS))
            out = (math.floor(h * sf[0]), math.floor(w * sf[1]))
            if min(out) >= 1 and all(_nearest_map_is_robust(n, m, f) for n, m, f in zip((h, w), out, sf,
                                                                                         strict=True)):
                x = r.randn(rng.randint(1, 2), rng.randint(1, 3), h, w)
                return Case((x,), {"scale_factor": r.pair(sf)})


# ---------------------------------------------------------------- bilinear resize
def interpolate_bilinear_reference(x, size, align_corners=False):
    """``F.interpolate(x, size, mode="bilinear", align_corners=...)``."""
    return pristine.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


def _resample(x: torch.Tensor, size: Any, source: Callable[..., torch.Tensor], *, bilinear: bool = True,
              wrap: bool = False) -> torch.Tensor:
    """Resize ``x`` to ``size`` reading along each axis at ``source(dst, n_in, n_out, axis)`` (float64).

    Bilinear mixes ``floor(src)`` and the next pixel (clamped to the input); nearest takes
    ``floor(src)``. With ``wrap`` a negative ``floor(src)`` wraps around to the end, as
    Python's negative indexing would.
    """
    out = _pair(size)
    result = x
    for axis, dim in ((0, -2), (1, -1)):
        n, m = x.shape[dim], int(out[axis])
        src = source(torch.arange(m, dtype=torch.float64), n, m, axis)
        i0 = src.floor().long()
        lam = (src - i0).to(x.dtype).to(x.device)
        first = (i0 % n) if wrap else i0.clamp(0, n - 1)
        first = first.clamp(max=n - 1).to(x.device)
        second = (i0 + 1).clamp(0, n - 1).to(x.device)
        a, b = result.index_select(dim, first), result.index_select(dim, second)
        shape = [1] * x.ndim
        shape[dim] = m
        lam = lam.reshape(shape)
        result = a * (1 - lam) + b * lam if bilinear else a
    return result


def _half_pixel(dst, n, m, axis):
    return ((dst + 0.5) * (n / m) - 0.5).clamp(min=0)


def _corners(dst, n, m, axis):
    return dst * ((n - 1) / (m - 1) if m > 1 else 0.0)


def _bilinear_swapped(x, size, align_corners=False):
    return interpolate_bilinear_reference(x, size, not align_corners)


def _bilinear_no_offset(x, size, align_corners=False):
    """align_corners=False computed as src = i * in/out (no half-pixel offset)."""
    if align_corners:
        return interpolate_bilinear_reference(x, size, True)
    return _resample(x, size, lambda dst, n, m, axis: dst * (n / m))


def _bilinear_wraps(x, size, align_corners=False):
    """align_corners=False without clamping a negative source: index -1 wraps to the last pixel."""
    if align_corners:
        return interpolate_bilinear_reference(x, size, True)
    return _resample(x, size, lambda dst, n, m, axis: (dst + 0.5) * (n / m) - 0.5, wrap=True)


_BILINEAR_VARIANTS: dict[str, Callable[..., Any]] = {
    "align-corners-swapped": _bilinear_swapped,
    "no-half-pixel-offset": _bilinear_no_offset,
    "negative-source-wraps": _bilinear_wraps,
}

BILINEAR_MISCONCEPTIONS = (
    Misconception("align-corners-swapped", "the two conventions are swapped: align_corners=True maps i to "
                  "i*(in-1)/(out-1); align_corners=False to (i+0.5)*in/out - 0.5", variant=_bilinear_swapped),
    Misconception("no-half-pixel-offset", "align_corners=False measures from pixel centres: source = "
                  "(i+0.5)*in/out - 0.5, not i*in/out", variant=_bilinear_no_offset),
    Misconception("negative-source-wraps", "near the top/left edge the source coordinate is negative: "
                  "clamp it to 0 (index -1 wrapped around to the last pixel)", variant=_bilinear_wraps),
)



register(Exercise.from_spec(visible.BILINEAR, interpolate_bilinear_reference, misconceptions=BILINEAR_MISCONCEPTIONS))


def interpolate_bilinear_case(r: RandomInputs) -> Case:
    """A random ``interpolate_bilinear`` call: up or down, any size, either convention."""
    rng = r.rng
    x = r.randn(rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 7), rng.randint(1, 7))
    size = r.pair((rng.randint(1, 14), rng.randint(1, 14)))
    return Case((x, size), {"align_corners": rng.random() < 0.5})


# ---------------------------------------------------------------------- overlap map
def overlap_map_reference(kernel_size: IntOrTuple, stride: IntOrTuple, size: IntOrTuple) -> torch.Tensor:
    """The transposed convolution of an all-ones input with an all-ones kernel, as int64 counts."""
    (kh, kw), (sh, sw), (h, w) = _pair(kernel_size), _pair(stride), _pair(size)
    ones = pristine.conv_transpose2d(torch.ones(1, 1, h, w, dtype=torch.float64),
                                     torch.ones(1, 1, kh, kw, dtype=torch.float64), stride=(sh, sw))
    return ones[0, 0].round().long()


def _counts_1d(k: int, s: int, n: int) -> torch.Tensor:
    counts = torch.zeros((n - 1) * s + k, dtype=torch.long)
    for i in range(n):
        counts[i * s:i * s + k] += 1
    return counts


def _overlap_sum(kernel_size, stride, size):
    """The 1-d counts of the rows and of the columns added instead of multiplied."""
    (kh, kw), (sh, sw), (h, w) = _pair(kernel_size), _pair(stride), _pair(size)
    return _counts_1d(kh, sh, h)[:, None] + _counts_1d(kw, sw, w)[None, :]


def _overlap_size_times_stride(kernel_size, stride, size):
    """The right counts on a canvas of size*stride (cropped or zero-extended)."""
    (sh, sw), (h, w) = _pair(stride), _pair(size)
    truth = overlap_map_reference(kernel_size, stride, size)
    out = torch.zeros(h * sh, w * sw, dtype=torch.long)
    hh, ww = min(h * sh, truth.shape[0]), min(w * sw, truth.shape[1])
    out[:hh, :ww] = truth[:hh, :ww]
    return out


_OVERLAP_VARIANTS: dict[str, Callable[..., Any]] = {
    "sum-not-product": _overlap_sum,
    "size-times-stride": _overlap_size_times_stride,
}

OVERLAP_MISCONCEPTIONS = (
    Misconception("sum-not-product", "a pixel is touched by (row placements) x (column placements): multiply "
                  "the 1-d counts, do not add them", variant=_overlap_sum),
    Misconception("size-times-stride", "the output of a transposed convolution is (size-1)*stride + kernel "
                  "pixels long, not size*stride", variant=_overlap_size_times_stride),
)



register(Exercise.from_spec(visible.OVERLAP, overlap_map_reference, misconceptions=OVERLAP_MISCONCEPTIONS))


def overlap_case(r: RandomInputs) -> Case:
    """A random ``overlap_map`` question, ints or pairs."""
    rng = r.rng
    k = (rng.randint(1, 6), rng.randint(1, 6))
    s = (rng.randint(1, 4), rng.randint(1, 4))
    n = (rng.randint(1, 6), rng.randint(1, 6))
    return Case((r.pair(k), r.pair(s), r.pair(n)))


# Every wrong implementation with its exercise's contract, by exercise and tag (for the tests).
STUDENT_MISTAKES: dict[str, dict[str, Callable[..., Any]]] = {
    "conv_transpose_output_size": dict(_T_SIZE_VARIANTS)
    | {"float-size": lambda *a, **k: float(conv_transpose_output_size_reference(*a, **k))},
    "conv_transpose2d_naive": dict(_T_CONV_VARIANTS),
    "transposed_conv_via_matrix": {"pseudo-inverse-not-transpose": _via_pseudo_inverse,
                                   "flipped-kernel": _via_flipped,
                                   "not-reshaped": lambda y, w: transposed_conv_via_matrix_reference(
                                       y, w).flatten()},
    "interpolate_nearest": dict(_NEAREST_VARIANTS),
    "interpolate_bilinear": dict(_BILINEAR_VARIANTS),
    "overlap_map": dict(_OVERLAP_VARIANTS),
}

__all__ = ["STUDENT_MISTAKES", "conv_transpose2d_case", "conv_transpose2d_reference",
           "conv_transpose_output_size_reference", "conv_transpose_size_case",
           "conv_transpose_size_error_case", "interpolate_bilinear_case", "interpolate_bilinear_reference",
           "interpolate_nearest_case", "interpolate_nearest_reference", "overlap_case",
           "overlap_map_reference", "transposed_conv_via_matrix_reference", "transposed_matrix_case"]
