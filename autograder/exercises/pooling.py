"""Notebook 04, pooling: output sizes (ceil_mode included), max/avg pooling and max-unpooling.

References call PyTorch through :mod:`cnnlab.pristine`. Each misconception is a wrong
implementation with the exercise's contract; ``STUDENT_MISTAKES`` lists them by exercise and
tag so that the tests can prove every diagnosis fires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from autograder.exercises.base import Exercise, register
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import pooling as visible
from cnnlab.comparing import Tolerance, same
from cnnlab.diagnosis import Misconception

IntOrTuple = int | Sequence[int]
POOL_TOLERANCE = visible.POOL_TOLERANCE


# ------------------------------------------------------------------------------ helpers
def _spread(args: Sequence[Any]) -> tuple[list[tuple], bool]:
    """Broadcast int/tuple arguments to tuples of one common length; say if any was a tuple."""
    lengths = {len(a) for a in args if isinstance(a, (tuple, list))}
    if len(lengths) > 1:
        raise ValueError(f"tuple arguments must all have the same length, got lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    return [tuple(a) if isinstance(a, (tuple, list)) else (a,) * n for a in args], bool(lengths) or any(
        isinstance(a, (tuple, list)) for a in args)


def _pair(value: IntOrTuple) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _values(result: Any) -> Any:
    """The values of a pooling result: the first item of ``(values, indices)``, else the result."""
    return result[0] if isinstance(result, (tuple, list)) and len(result) == 2 else result


# --------------------------------------------------------------------------------- sizes
def pool_output_size_reference(size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
                               padding: IntOrTuple = 0, dilation: IntOrTuple = 1,
                               ceil_mode: bool = False) -> int | tuple[int, ...]:
    """PyTorch's own answer: ``max_pool1d`` on a shape-only (meta) tensor, one dimension at a time.

    Every dimension follows the same rule independently, so 1-, 2- and 3-d pooling all reduce
    to the 1-d case. PyTorch's errors (padding above half the kernel, an empty output) become
    ``ValueError``.
    """
    if stride is None:
        stride = kernel_size
    (n, k, s, p, d), as_tuple = _spread((size, kernel_size, stride, padding, dilation))
    out = []
    for i in range(len(n)):
        x = torch.empty((1, 1, n[i]), device="meta")
        try:
            y = pristine.max_pool1d(x, k[i], s[i], p[i], d[i], ceil_mode=bool(ceil_mode))
        except RuntimeError as exc:
            raise ValueError(str(exc)) from None
        out.append(int(y.shape[-1]))
    return tuple(out) if as_tuple else out[0]


def _pool_size_formula(*, ceil: str = "pytorch", stride_default: str = "kernel", use_dilation: bool = True,
                       pad_factor: int = 2) -> Callable[..., Any]:
    """A size formula with one knob changed, for building wrong variants.

    ``ceil``: "pytorch" (ceil_mode with the last-window rule), "naive" (ceil_mode, no rule),
    "always" (ceil even without ceil_mode), "never" (floor even with ceil_mode).
    """

    def size_fn(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        if stride is None:
            stride = kernel_size if stride_default == "kernel" else 1
        (n, k, s, p, d), as_tuple = _spread((size, kernel_size, stride, padding, dilation))
        out = []
        for i in range(len(n)):
            span = (d[i] if use_dilation else 1) * (k[i] - 1) + 1
            q = n[i] + pad_factor * p[i] - span
            up = {"pytorch": ceil_mode, "naive": ceil_mode, "always": True, "never": False}[ceil]
            o = (-(-q // s[i]) if up else q // s[i]) + 1
            if ceil == "pytorch" and ceil_mode and (o - 1) * s[i] >= n[i] + p[i]:
                o -= 1
            out.append(o)
        return tuple(out) if as_tuple else out[0]

    return size_fn


def _returned_float(case, got, expected) -> bool:
    if isinstance(got, (tuple, list)):
        return any(isinstance(v, float) for v in got)
    return isinstance(got, float)


SIZE_MISCONCEPTIONS = (
    Misconception("ceil-last-window-kept", "with ceil_mode=True PyTorch drops a last window that would start "
                  "in the right padding: the last window must start inside the input or the left padding",
                  variant=_pool_size_formula(ceil="naive")),
    Misconception("ceil-everywhere", "ceil used where PyTorch floors: without ceil_mode, a window that runs "
                  "past the padded input is dropped (floor)", variant=_pool_size_formula(ceil="always")),
    Misconception("ceil-mode-ignored", "ceil_mode=True ignored: it rounds the number of window steps up, so "
                  "a partial window at the end still counts", variant=_pool_size_formula(ceil="never")),
    Misconception("stride-defaults-to-1", "stride=None means stride = kernel_size (non-overlapping windows), "
                  "not 1", variant=_pool_size_formula(stride_default="one")),
    Misconception("dilation-ignored", "dilation left out: a dilated window spans d*(k-1)+1 pixels",
                  variant=_pool_size_formula(use_dilation=False)),
    Misconception("padding-one-side", "padding is added on both sides, so it counts 2*padding",
                  variant=_pool_size_formula(pad_factor=1)),
    Misconception("float-size", "returned a float; sizes are whole numbers (use // and -(-a // b) for ceil)",
                  detect=_returned_float),
)



register(Exercise.from_spec(visible.OUTPUT_SIZE, pool_output_size_reference, misconceptions=SIZE_MISCONCEPTIONS))


# ---------------------------------------------------------------------- random geometry
def _dim(rng, *, max_kernel: int = 4, max_stride: int = 3, max_dilation: int = 1, ceil_mode: bool = False,
         edge: bool = False, max_extra: int = 6) -> tuple[int, int, int | None, int, int]:
    """One dimension ``(size, kernel, stride or None, padding, dilation)`` with a valid output.

    ``edge``: ceil_mode's last-window rule must drop a window in this dimension (the naive
    ceil formula is then wrong).
    """
    true_size = _pool_size_formula()
    naive_size = _pool_size_formula(ceil="naive")
    for _ in range(500):
        k = rng.randint(1, max_kernel)
        s = None if (not edge and rng.random() < 0.3) else rng.randint(1, max_stride)
        p = rng.randint(0, k // 2)
        d = rng.randint(1, max_dilation)
        span = d * (k - 1) + 1
        n = rng.randint(max(1, span - 2 * p - 1), span + max_extra)
        out = true_size(n, k, s, p, d, ceil_mode)
        if out < 1 or not _every_window_sees_input(n, k, s or k, p, d, out):
            continue
        if edge and true_size(n, k, s, p, d, True) == naive_size(n, k, s, p, d, True):
            continue
        return n, k, s, p, d
    return 3, 2, 2, 1, 1  # a known edge case: 3 windows by naive ceil, 2 in PyTorch


def _every_window_sees_input(n: int, k: int, s: int, p: int, d: int, out: int) -> bool:
    """False when some dilated window falls on padding only (PyTorch then returns -inf and no valid index)."""
    return all(any(p <= w * s + u * d < p + n for u in range(k)) for w in range(out))


def _merge_stride(r: RandomInputs, s: tuple[int | None, int | None], k: tuple[int, int]) -> Any:
    """Stride None when both dimensions default, else a pair (the default filled in)."""
    if s[0] is None and s[1] is None:
        return None
    return r.pair((s[0] or k[0], s[1] or k[1]))


def pool_size_case(r: RandomInputs, *, edge: bool = False) -> Case:
    """A random valid ``pool_output_size`` question (1-3 dims); ``edge``: the last-window rule drops one."""
    rng = r.rng
    ceil_mode = edge or rng.random() < 0.5
    dims = rng.choice([1, 1, 2, 3])
    parts = [_dim(rng, max_kernel=6, max_stride=4, max_dilation=3, ceil_mode=ceil_mode,
                  edge=edge and i == 0, max_extra=30) for i in range(dims)]
    n, k, s, p, d = (list(t) for t in zip(*parts, strict=True))
    kwargs: dict[str, Any] = {"padding": p[0] if dims == 1 else tuple(p),
                              "dilation": d[0] if dims == 1 else tuple(d), "ceil_mode": ceil_mode}
    if any(v is not None for v in s):
        kwargs["stride"] = (s[0] or k[0]) if dims == 1 else tuple(s[i] or k[i] for i in range(dims))
    if dims == 1:
        return Case((n[0], k[0]), kwargs)
    return Case((tuple(n), tuple(k)), kwargs)


def pool2d_case(r: RandomInputs, *, kind: str = "max", edge: bool = False) -> Case:
    """A random valid 2-d pooling call for ``max_pool2d_naive`` (kind "max") or ``avg_pool2d_naive`` ("avg").

    Batch 1-2, 1-3 channels, kernels up to 4, padding up to kernel // 2 (PyTorch's limit),
    dilation up to 2 (max only), ceil_mode half the time; ``edge`` forces a dimension where
    ceil_mode's last-window rule drops a window.
    """
    rng = r.rng
    ceil_mode = edge or rng.random() < 0.5
    dil = 2 if kind == "max" else 1
    hdim = _dim(rng, max_dilation=dil, ceil_mode=ceil_mode, edge=edge)
    wdim = _dim(rng, max_dilation=dil, ceil_mode=ceil_mode, edge=edge and rng.random() < 0.5)
    (h, kh, sh, ph, dh), (w, kw, sw, pw, dw) = hdim, wdim
    x = r.randn(rng.randint(1, 2), rng.randint(1, 3), h, w)
    args = (x, r.pair((kh, kw)))
    kwargs: dict[str, Any] = {"stride": _merge_stride(r, (sh, sw), (kh, kw)), "padding": r.pair((ph, pw)),
                              "ceil_mode": ceil_mode}
    if kind == "max":
        kwargs["dilation"] = r.pair((dh, dw))
        kwargs["return_indices"] = rng.random() < 0.5
    else:
        kwargs["count_include_pad"] = rng.random() < 0.5
        kwargs["divisor_override"] = rng.randint(1, 9) if rng.random() < 0.25 else None
    return Case(args, kwargs)


# ------------------------------------------------------------------------- max pooling
def max_pool2d_reference(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                         return_indices=False):
    """``F.max_pool2d`` with the exercise's argument order."""
    return pristine.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode,
                               return_indices=return_indices)


def _max_with(**fixed):
    def variant(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        kw = {"stride": stride, "padding": padding, "dilation": dilation, "ceil_mode": ceil_mode,
              "return_indices": return_indices}
        kw.update({k: v(kw, kernel_size) if callable(v) else v for k, v in fixed.items()})
        return max_pool2d_reference(x, kernel_size, **kw)

    return variant


def _max_zero_padding(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                      return_indices=False):
    """The padding holds zeros instead of -inf (positions past the padding still ignored)."""
    ph, pw = _pair(padding)
    truth = max_pool2d_reference(x, kernel_size, stride, padding, dilation, ceil_mode)
    xp = torch.nn.functional.pad(x, (pw, pw, ph, ph), value=0.0)
    out = pristine.max_pool2d(xp, kernel_size, stride, 0, dilation, ceil_mode=ceil_mode, return_indices=True)
    values = out[0][..., :truth.shape[-2], :truth.shape[-1]]
    if not return_indices:
        return values
    wp = x.shape[-1] + 2 * pw
    rows, cols = out[1] // wp - ph, out[1] % wp - pw
    return values, (rows * x.shape[-1] + cols)[..., :truth.shape[-2], :truth.shape[-1]]


def _max_zero_padding_everywhere(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                                 return_indices=False):
    """Zeros in the padding and also past it, where ceil_mode's last window overhangs the input."""
    truth = max_pool2d_reference(x, kernel_size, stride, padding, dilation, ceil_mode)
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    h_out, w_out = truth.shape[-2:]
    extra_h = max(0, (h_out - 1) * sh + dh * (kh - 1) + 1 - (x.shape[-2] + 2 * ph))
    extra_w = max(0, (w_out - 1) * sw + dw * (kw - 1) + 1 - (x.shape[-1] + 2 * pw))
    xp = torch.nn.functional.pad(x, (pw, pw + extra_w, ph, ph + extra_h), value=0.0)
    return pristine.max_pool2d(xp, (kh, kw), (sh, sw), 0, (dh, dw))[..., :h_out, :w_out]


def _either(*detects):
    def detect(case, got, expected) -> bool:
        return any(d(case, got, expected) for d in detects)

    detect.recordable = [r for d in detects for r in getattr(d, "recordable", [])]
    return detect


def _kept_last_window(reference, kind: str):
    """Pooling that keeps ceil_mode's last window even when it starts in the right padding."""

    def variant(x, kernel_size, stride=None, padding=0, *args, **kwargs):
        dilation = kwargs.get("dilation", 1) if kind == "max" else 1
        ceil_mode = kwargs.get("ceil_mode", False)
        truth = reference(x, kernel_size, stride, padding, **kwargs)
        values = _values(truth)
        naive = _pool_size_formula(ceil="naive")
        want = naive(tuple(x.shape[-2:]), _pair(kernel_size), stride, _pair(padding), _pair(dilation),
                     ceil_mode)
        grown = values.new_zeros(*values.shape[:-2], *want)
        grown[..., :values.shape[-2], :values.shape[-1]] = values
        if isinstance(truth, tuple):
            idx = truth[1].new_zeros(grown.shape)
            idx[..., :values.shape[-2], :values.shape[-1]] = truth[1]
            return grown, idx
        return grown

    return variant


def _on_values(variant, tol: Tolerance = POOL_TOLERANCE):
    """Detect: the student's values equal the variant's (indices aside) where the truth differs."""

    def detect(case, got, expected) -> bool:
        wrong = _values(case.call(variant))
        return (not same(wrong, _values(expected), tol)) and same(_values(got), wrong, tol)

    detect.recordable = [(variant, "values")]  # what release records for the visible checks
    return detect


def _index_variant(transform):
    """A max pool whose indices are ``transform(case_kwargs, true_indices, x_shape)``."""

    def variant(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        values, idx = max_pool2d_reference(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        if not return_indices:
            return values
        geometry = {"kernel": _pair(kernel_size), "stride": _pair(kernel_size if stride is None else stride),
                    "padding": _pair(padding), "dilation": _pair(dilation)}
        return values, transform(geometry, idx, tuple(x.shape))

    return variant


def _padded_plane(g, idx, shape):
    (ph, pw), w = g["padding"], shape[-1]
    return (idx // w + ph) * (w + 2 * pw) + idx % w + pw


def _within_window(g, idx, shape):
    (ph, pw), (sh, sw), (dh, dw), (_, kw) = g["padding"], g["stride"], g["dilation"], g["kernel"]
    w = shape[-1]
    i = torch.arange(idx.shape[-2], device=idx.device).view(-1, 1)
    j = torch.arange(idx.shape[-1], device=idx.device).view(1, -1)
    u = (idx // w + ph - i * sh) // dh
    v = (idx % w + pw - j * sw) // dw
    return u * kw + v


def _over_planes(g, idx, shape):
    n, c, h, w = shape
    plane = torch.arange(n * c, device=idx.device).view(n, c, 1, 1)
    return idx + plane * h * w


def _returned_no_indices(case, got, expected) -> bool:
    return isinstance(expected, tuple) and isinstance(got, torch.Tensor)


_MAX_VARIANTS: dict[str, Callable[..., Any]] = {
    "zero-padding-in-max": _max_zero_padding,
    "stride-defaults-to-1": _max_with(stride=lambda kw, k: 1 if kw["stride"] is None else kw["stride"]),
    "ceil-last-window-kept": _kept_last_window(max_pool2d_reference, "max"),
    "ceil-mode-ignored": _max_with(ceil_mode=False),
    "dilation-ignored": _max_with(dilation=1),
    "padding-ignored": _max_with(padding=0),
    "indices-in-padded-plane": _index_variant(_padded_plane),
    "indices-within-window": _index_variant(_within_window),
    "indices-not-per-plane": _index_variant(_over_planes),
}

_KEPT_HINT = ("with ceil_mode=True PyTorch drops a last window that would start in the right padding: "
              "size the output with pool_output_size")

MAX_MISCONCEPTIONS = (
    Misconception("zero-padding-in-max", "the padding was filled with zeros; max pooling pads with -inf, so "
                  "a padded cell never wins (with zeros, an all-negative window at the border returns 0)",
                  detect=_either(_on_values(_max_zero_padding), _on_values(_max_zero_padding_everywhere))),
    Misconception("stride-defaults-to-1", "stride=None means stride = kernel_size (non-overlapping windows), "
                  "not 1", detect=_on_values(_MAX_VARIANTS["stride-defaults-to-1"])),
    Misconception("ceil-last-window-kept", _KEPT_HINT,
                  detect=_on_values(_MAX_VARIANTS["ceil-last-window-kept"])),
    Misconception("ceil-mode-ignored", "ceil_mode=True ignored: the last partial window must still produce "
                  "an output (its missing cells are ignored)",
                  detect=_on_values(_MAX_VARIANTS["ceil-mode-ignored"])),
    Misconception("dilation-ignored", "dilation ignored: window taps are `dilation` pixels apart",
                  detect=_on_values(_MAX_VARIANTS["dilation-ignored"])),
    Misconception("padding-ignored", "padding ignored: pad every side with -inf first",
                  detect=_on_values(_MAX_VARIANTS["padding-ignored"])),
    Misconception("return-indices-ignored", "with return_indices=True return a pair (values, indices), like "
                  "F.max_pool2d", detect=_returned_no_indices),
    Misconception("indices-in-padded-plane", "indices counted in the padded input; they are flat positions "
                  "row * W + col in the original, unpadded (H, W) plane",
                  variant=_MAX_VARIANTS["indices-in-padded-plane"]),
    Misconception("indices-within-window", "indices counted inside each window; they are flat positions "
                  "row * W + col in the whole (H, W) input plane",
                  variant=_MAX_VARIANTS["indices-within-window"]),
    Misconception("indices-not-per-plane", "indices counted across channels or the batch; each (H, W) plane "
                  "starts again at 0", variant=_MAX_VARIANTS["indices-not-per-plane"]),
)



register(Exercise.from_spec(visible.MAX_POOL, max_pool2d_reference, misconceptions=MAX_MISCONCEPTIONS))


# --------------------------------------------------------------------- average pooling
def avg_pool2d_reference(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                         divisor_override=None):
    """``F.avg_pool2d``."""
    return pristine.avg_pool2d(x, kernel_size, stride, padding, ceil_mode=ceil_mode,
                               count_include_pad=count_include_pad, divisor_override=divisor_override)


def _avg_with(**fixed):
    def variant(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        kw = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode,
              "count_include_pad": count_include_pad, "divisor_override": divisor_override}
        kw.update({k: v(kw, kernel_size) if callable(v) else v for k, v in fixed.items()})
        return avg_pool2d_reference(x, kernel_size, **kw)

    return variant


def _avg_full_window_divisor(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                             divisor_override=None):
    """Divides every window by kH*kW when the padding counts, even a ceil_mode window that runs past it."""
    if divisor_override is None and count_include_pad:
        kh, kw = _pair(kernel_size)
        divisor_override = kh * kw
    return avg_pool2d_reference(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                divisor_override)


_AVG_VARIANTS: dict[str, Callable[..., Any]] = {
    "count-include-pad-wrong": _avg_with(count_include_pad=lambda kw, k: not kw["count_include_pad"]),
    "overhang-counted": _avg_full_window_divisor,
    "divisor-override-ignored": _avg_with(divisor_override=None),
    "stride-defaults-to-1": _avg_with(stride=lambda kw, k: 1 if kw["stride"] is None else kw["stride"]),
    "ceil-last-window-kept": _kept_last_window(avg_pool2d_reference, "avg"),
    "ceil-mode-ignored": _avg_with(ceil_mode=False),
    "padding-ignored": _avg_with(padding=0),
}

AVG_MISCONCEPTIONS = (
    Misconception("count-include-pad-wrong", "the padding was counted (or not) against count_include_pad: "
                  "with True the divisor includes the padded cells, with False only the real pixels",
                  variant=_AVG_VARIANTS["count-include-pad-wrong"]),
    Misconception("overhang-counted", "a ceil_mode window that runs past the padding is divided by the cells "
                  "it covers inside the padded input, not by kH*kW", variant=_avg_full_window_divisor),
    Misconception("divisor-override-ignored", "divisor_override, when given, replaces the divisor of every "
                  "window", variant=_AVG_VARIANTS["divisor-override-ignored"]),
    Misconception("stride-defaults-to-1", "stride=None means stride = kernel_size (non-overlapping windows), "
                  "not 1", variant=_AVG_VARIANTS["stride-defaults-to-1"]),
    Misconception("ceil-last-window-kept", _KEPT_HINT,
                  detect=_on_values(_AVG_VARIANTS["ceil-last-window-kept"])),
    Misconception("ceil-mode-ignored", "ceil_mode=True ignored: the last partial window must still produce "
                  "an output", variant=_AVG_VARIANTS["ceil-mode-ignored"]),
    Misconception("padding-ignored", "padding ignored: windows start `padding` cells before the input",
                  variant=_AVG_VARIANTS["padding-ignored"]),
)



register(Exercise.from_spec(visible.AVG_POOL, avg_pool2d_reference, misconceptions=AVG_MISCONCEPTIONS))


# -------------------------------------------------------------------------- unpooling
def max_unpool2d_reference(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``F.max_unpool2d``."""
    return pristine.max_unpool2d(x, indices, kernel_size, stride, padding, output_size)


def _scatter(x, indices, out_h: int, out_w: int, *, per_plane: bool = True):
    """Put each value at its flat index (per plane, or across the whole tensor); indices out of range drop."""
    n, c = x.shape[:2]
    if per_plane:
        flat = x.new_zeros(n * c, out_h * out_w)
        idx, val = indices.reshape(n * c, -1), x.reshape(n * c, -1)
        keep = idx < out_h * out_w
        rows = torch.arange(n * c, device=x.device).view(-1, 1).expand_as(idx)
        flat[rows[keep], idx[keep]] = val[keep]
        return flat.reshape(n, c, out_h, out_w)
    flat = x.new_zeros(n * c * out_h * out_w)
    idx, val = indices.reshape(-1), x.reshape(-1)
    flat[idx] = val
    return flat.reshape(n, c, out_h, out_w)


def _unpool_size(x, kernel_size, stride, padding, output_size, *, stride_default="kernel", use_padding=True,
                 use_output_size=True) -> tuple[int, int]:
    (kh, kw), (ph, pw) = _pair(kernel_size), _pair(padding)
    if stride is None:
        stride = kernel_size if stride_default == "kernel" else 1
    sh, sw = _pair(stride)
    if output_size is not None and use_output_size:
        return int(output_size[-2]), int(output_size[-1])
    f = 1 if use_padding else 0
    return (x.shape[-2] - 1) * sh - 2 * ph * f + kh, (x.shape[-1] - 1) * sw - 2 * pw * f + kw


def _unpool_variant(**knobs):
    per_plane = knobs.pop("per_plane", True)

    def variant(x, indices, kernel_size, stride=None, padding=0, output_size=None):
        h, w = _unpool_size(x, kernel_size, stride, padding, output_size, **knobs)
        return _scatter(x, indices, h, w, per_plane=per_plane)

    return variant


_UNPOOL_VARIANTS: dict[str, Callable[..., Any]] = {
    "stride-defaults-to-1": _unpool_variant(stride_default="one"),
    "unpool-size-ignores-padding": _unpool_variant(use_padding=False),
    "output-size-ignored": _unpool_variant(use_output_size=False),
    "indices-not-per-plane": _unpool_variant(per_plane=False),
}

UNPOOL_MISCONCEPTIONS = (
    Misconception("stride-defaults-to-1", "stride=None means stride = kernel_size, as in MaxPool2d, not 1",
                  variant=_UNPOOL_VARIANTS["stride-defaults-to-1"]),
    Misconception("unpool-size-ignores-padding", "the default output size is (H-1)*stride - 2*padding + "
                  "kernel: the padding is taken off both sides",
                  variant=_UNPOOL_VARIANTS["unpool-size-ignores-padding"]),
    Misconception("output-size-ignored", "output_size, when given, fixes the output's (H, W): its last two "
                  "entries", variant=_UNPOOL_VARIANTS["output-size-ignored"]),
    Misconception("indices-not-per-plane", "indices are flat positions inside each (H, W) plane: scatter "
                  "every plane separately, not into the flattened batch",
                  variant=_UNPOOL_VARIANTS["indices-not-per-plane"]),
)



register(Exercise.from_spec(visible.MAX_UNPOOL, max_unpool2d_reference, misconceptions=UNPOOL_MISCONCEPTIONS))


def unpool_case(r: RandomInputs) -> Case:
    """A random ``max_unpool2d_naive`` call: values and indices from a real max pool.

    ``output_size`` is given whenever the pooled input's size differs from the default
    unpooled size (the indices only make sense in a plane of the original size), and
    otherwise half the time.
    """
    rng = r.rng
    (h, kh, sh, ph, _), (w, kw, sw, pw, _) = _dim(rng), _dim(rng)
    sh, sw = sh or kh, sw or kw
    n, c = rng.randint(1, 2), rng.randint(1, 3)
    x = r.randn(n, c, h, w)
    stride = None if (sh, sw) == (kh, kw) and rng.random() < 0.5 else r.pair((sh, sw))
    values, indices = visible._pooled(x, (kh, kw), (sh, sw), (ph, pw))
    kwargs: dict[str, Any] = {"stride": stride, "padding": r.pair((ph, pw))}
    default = ((values.shape[-2] - 1) * sh - 2 * ph + kh, (values.shape[-1] - 1) * sw - 2 * pw + kw)
    if default != (h, w) or rng.random() < 0.5:
        kwargs["output_size"] = (h, w) if rng.random() < 0.7 else (n, c, h, w)
    return Case((values, indices, r.pair((kh, kw))), kwargs)


# Every wrong implementation with its exercise's contract, by exercise and tag (for the tests).
STUDENT_MISTAKES: dict[str, dict[str, Callable[..., Any]]] = {
    "pool_output_size": {m.tag: m.variant for m in SIZE_MISCONCEPTIONS if m.variant is not None}
    | {"float-size": lambda *a, **k: float(pool_output_size_reference(*a, **k))},
    "max_pool2d_naive": dict(_MAX_VARIANTS) | {"return-indices-ignored": lambda *a, **k: _values(
        max_pool2d_reference(*a, **k))},
    "avg_pool2d_naive": dict(_AVG_VARIANTS),
    "max_unpool2d_naive": dict(_UNPOOL_VARIANTS),
}

__all__ = ["STUDENT_MISTAKES", "avg_pool2d_reference", "max_pool2d_reference", "max_unpool2d_reference",
           "pool2d_case", "pool_output_size_reference", "pool_size_case", "unpool_case"]
