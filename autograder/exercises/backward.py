"""Notebook 08, backward passes: references from autograd, hidden case generators, classic mistakes.

Every reference is PyTorch's autograd applied to PyTorch's own forward op (``torch.autograd.grad``
of ``F.conv2d``, ``F.max_pool2d``...), except ``numeric_gradient``, whose reference is the
central difference itself. Each misconception is a wrong implementation with the exercise's
contract; ``STUDENT_MISTAKES`` lists them by exercise and tag so the tests can prove every
diagnosis fires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from autograder.exercises.base import Exercise, register
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import backward as visible
from cnnlab.checks.backward import SmoothScalar
from cnnlab.diagnosis import Misconception
from cnnlab.util import as_pair


def _vjp(forward: Callable[..., torch.Tensor], dout: torch.Tensor, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Autograd's gradients of ``forward(*inputs)`` weighted by ``dout``, one per input."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    with torch.enable_grad():
        out = forward(*leaves)
        grads = torch.autograd.grad(out, leaves, dout)
    return tuple(g.detach() for g in grads)


# ------------------------------------------------------------------ numeric gradient
def numeric_gradient_reference(f: Callable[[torch.Tensor], Any], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``, one per element of ``x``."""
    return _differences(f, x, eps, central=True, halved=True)


def _differences(f, x, eps, *, central: bool, halved: bool) -> torch.Tensor:
    grad = torch.empty_like(x)
    flat, out = x.detach().clone().reshape(-1), grad.reshape(-1)
    base = None if central else float(f(flat.reshape(x.shape)))
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        plus = float(f(flat.reshape(x.shape)))
        if central:
            flat[i] = old - eps
            minus = float(f(flat.reshape(x.shape)))
            out[i] = (plus - minus) / (2 * eps if halved else eps)
        else:
            out[i] = (plus - base) / eps
        flat[i] = old
    return grad


NUMERIC_MISCONCEPTIONS = (
    Misconception("one-sided-difference", "a one-sided difference (f(x+h) - f(x)) / h has an error of order h; "
                  "the central difference (f(x+h) - f(x-h)) / 2h is accurate to order h^2",
                  variant=lambda f, x, eps=1e-6: _differences(f, x, eps, central=False, halved=True)),
    Misconception("central-difference-not-halved", "f(x+h) and f(x-h) are 2h apart: divide their difference "
                  "by 2*eps, not eps", variant=lambda f, x, eps=1e-6: _differences(f, x, eps, central=True,
                                                                                  halved=False)),
)

register(Exercise.from_spec(visible.NUMERIC_GRADIENT, numeric_gradient_reference,
                            misconceptions=NUMERIC_MISCONCEPTIONS))


def numeric_case(r: RandomInputs) -> Case:
    """A random smooth scalar function and a float64 input of 1 to 12 elements; eps from 1e-2 to 1e-6."""
    shape = r.rng.choice([(r.rng.randint(1, 6),), (r.rng.randint(1, 3), r.rng.randint(1, 4)),
                          (1, r.rng.randint(1, 2), 2, 2)])
    f = SmoothScalar.random(r, shape)
    x = r.randn(*shape, dtype=torch.float64)
    eps = r.rng.choice([1e-2, 1e-3, 1e-4, 1e-6])
    return Case((f, x), {"eps": eps})


# ---------------------------------------------------------------------- convolution
def conv2d_backward_reference(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Autograd's ``(dx, dw, db)`` of ``F.conv2d(x, weight, bias, stride, padding, dilation, groups)``."""
    bias = weight.new_zeros(weight.shape[0])
    return _vjp(lambda a, w, b: F.conv2d(a, w, b, stride, padding, dilation, groups), dout, x, weight, bias)


def _conv_backward_loops(dout, x, weight, stride=1, padding=0, dilation=1, groups=1, *, flip: bool = False,
                         use_stride: bool = True, use_dilation: bool = True):
    """``conv2d_backward`` by scattering over kernel taps; the knobs make the classic mistakes."""
    (sh, sw), (ph, pw), (dh, dw) = as_pair(stride), as_pair(padding), as_pair(dilation)
    sh, sw = (sh, sw) if use_stride else (1, 1)
    dh, dw = (dh, dw) if use_dilation else (1, 1)
    n, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    h_out, w_out = dout.shape[-2:]
    xp = F.pad(x, (pw, pw, ph, ph))
    dxp, dweight = torch.zeros_like(xp), torch.zeros_like(weight)
    kernel = weight.flip(-1, -2) if flip else weight
    o_group = c_out // groups
    for g in range(groups):
        ci, co = slice(g * c_group, (g + 1) * c_group), slice(g * o_group, (g + 1) * o_group)
        for u in range(kh):
            rows = slice(u * dh, u * dh + sh * (h_out - 1) + 1, sh)
            for v in range(kw):
                cols = slice(v * dw, v * dw + sw * (w_out - 1) + 1, sw)
                dweight[co, :, u, v] += torch.einsum("noij,ncij->oc", dout[:, co], xp[:, ci, rows, cols])
                dxp[:, ci, rows, cols] += torch.einsum("noij,oc->ncij", dout[:, co], kernel[co, :, u, v])
    return dxp[:, :, ph:ph + h, pw:pw + w], dweight, dout.sum(dim=(0, 2, 3))


def _conv_variant(**knobs: bool) -> Callable[..., Any]:
    def variant(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
        return _conv_backward_loops(dout, x, weight, stride, padding, dilation, groups, **knobs)

    return variant


def _bias_grad_averaged(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    dx, dw, _ = conv2d_backward_reference(dout, x, weight, stride, padding, dilation, groups)
    return dx, dw, dout.mean(dim=(0, 2, 3))


_CONV_VARIANTS: dict[str, Callable[..., Any]] = {
    "kernel-not-flipped": _conv_variant(flip=True),
    "stride-ignored-in-scatter": _conv_variant(use_stride=False),
    "dilation-ignored-in-scatter": _conv_variant(use_dilation=False),
    "bias-grad-averaged": _bias_grad_averaged,
}

CONV_MISCONCEPTIONS = (
    Misconception("kernel-not-flipped", "dx is dout convolved with the kernel flipped in both directions "
                  "(a transposed convolution); sliding the unflipped kernel computes something else",
                  variant=_CONV_VARIANTS["kernel-not-flipped"]),
    Misconception("stride-ignored-in-scatter", "output position (i, j) came from the window starting at "
                  "(i*stride, j*stride): scatter dx and gather dw there, not at (i, j)",
                  variant=_CONV_VARIANTS["stride-ignored-in-scatter"]),
    Misconception("dilation-ignored-in-scatter", "tap (u, v) of a dilated kernel reads pixel "
                  "(u*dilation, v*dilation) of the window: use the same spacing in the backward pass",
                  variant=_CONV_VARIANTS["dilation-ignored-in-scatter"]),
    Misconception("bias-grad-averaged", "the bias is added at every position of every sample, so db is the "
                  "SUM of dout over N, H and W, not the mean", variant=_CONV_VARIANTS["bias-grad-averaged"]),
)

register(Exercise.from_spec(visible.CONV_BACKWARD, conv2d_backward_reference, misconceptions=CONV_MISCONCEPTIONS))


def conv_backward_case(r: RandomInputs) -> Case:
    """A random ``conv2d_backward`` call: groups, stride, padding and dilation up to 3, dout of the right shape."""
    rng = r.rng
    groups = rng.choice([1, 1, 1, 2, 3])
    c_in, c_out = groups * rng.randint(1, 2), groups * rng.randint(1, 2)
    kh, kw = rng.randint(1, 3), rng.randint(1, 3)
    sh, sw = rng.randint(1, 3), rng.randint(1, 3)
    dh, dw = rng.randint(1, 2), rng.randint(1, 2)
    ph, pw = rng.randint(0, kh // 2 + 1), rng.randint(0, kw // 2 + 1)
    h = max(dh * (kh - 1) + 1 - 2 * ph, 1) + rng.randint(0, 6)
    w = max(dw * (kw - 1) + 1 - 2 * pw, 1) + rng.randint(0, 6)
    h_out = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    n = rng.randint(1, 3)
    x = r.randn(n, c_in, h, w)
    weight = r.randn(c_out, c_in // groups, kh, kw)
    dout = r.randn(n, c_out, h_out, w_out)
    kwargs: dict[str, Any] = {"stride": r.pair((sh, sw)), "padding": r.pair((ph, pw)),
                              "dilation": r.pair((dh, dw)), "groups": groups}
    return Case((dout, x, weight), kwargs)


# -------------------------------------------------------------------------- pooling
def max_pool2d_backward_reference(dout, x, kernel_size, stride=None, padding=0):
    """Autograd's dx of ``F.max_pool2d(x, kernel_size, stride, padding)``."""
    return _vjp(lambda a: F.max_pool2d(a, kernel_size, stride, padding), dout, x)[0]


def avg_pool2d_backward_reference(dout, x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Autograd's dx of ``F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=...)``."""
    return _vjp(lambda a: F.avg_pool2d(a, kernel_size, stride, padding, count_include_pad=count_include_pad),
                dout, x)[0]


def _max_backward_variant(*, every_max: bool = False, pad_value: float = float("-inf"),
                          overwrite: bool = False):
    """Max-pool backward by routing each window's gradient; the knobs make the classic mistakes."""

    def variant(dout, x, kernel_size, stride=None, padding=0):
        (kh, kw), (ph, pw) = as_pair(kernel_size), as_pair(padding)
        sh, sw = as_pair(kernel_size if stride is None else stride)
        h, w = x.shape[-2:]
        xp = F.pad(x, (pw, pw, ph, ph), value=pad_value)
        windows = xp.unfold(2, kh, sh).unfold(3, kw, sw)  # (N, C, H_out, W_out, kH, kW)
        n, c, ho, wo = windows.shape[:4]
        if (ho, wo) != tuple(dout.shape[-2:]):
            raise ValueError("dout does not have the pooled shape")
        flat = windows.reshape(n, c, ho, wo, kh * kw)
        if every_max:
            mask = (flat == flat.amax(-1, keepdim=True)).to(dout.dtype)
        else:
            mask = F.one_hot(flat.argmax(-1), kh * kw).to(dout.dtype)
        dxp = torch.zeros_like(xp)
        for i in range(ho):
            for j in range(wo):
                share = (mask[:, :, i, j] * dout[:, :, i, j, None]).reshape(n, c, kh, kw)
                block = dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                if overwrite:
                    hit = mask[:, :, i, j].reshape(n, c, kh, kw) > 0
                    block[hit] = share[hit]
                else:
                    block += share
        return dxp[:, :, ph:ph + h, pw:pw + w]

    return variant


_MAX_VARIANTS: dict[str, Callable[..., Any]] = {
    "ties-to-every-max": _max_backward_variant(every_max=True),
    "zero-padding-in-max": _max_backward_variant(pad_value=0.0),
    "overlap-overwritten": _max_backward_variant(overwrite=True),
}

MAX_MISCONCEPTIONS = (
    Misconception("ties-to-every-max", "when several values tie for a window's maximum, PyTorch routes the "
                  "whole gradient to the first of them (row by row), not a copy to each",
                  variant=_MAX_VARIANTS["ties-to-every-max"]),
    Misconception("zero-padding-in-max", "the padding of max pooling acts as -inf: it never wins, so an all-"
                  "negative border window still sends its gradient to a real pixel",
                  variant=_MAX_VARIANTS["zero-padding-in-max"]),
    Misconception("overlap-overwritten", "with overlapping windows a pixel can be the maximum of several; its "
                  "gradient is the SUM of theirs (+=, not =)", variant=_MAX_VARIANTS["overlap-overwritten"]),
)

register(Exercise.from_spec(visible.MAX_POOL_BACKWARD, max_pool2d_backward_reference,
                            misconceptions=MAX_MISCONCEPTIONS))


def _avg_backward_variant(*, flip_count: bool = False, undivided: bool = False):
    def variant(dout, x, kernel_size, stride=None, padding=0, count_include_pad=True):
        include = (not count_include_pad) if flip_count else count_include_pad
        divisor = 1 if undivided else None
        return _vjp(lambda a: F.avg_pool2d(a, kernel_size, stride, padding, count_include_pad=include,
                                           divisor_override=divisor), dout, x)[0]

    return variant


_AVG_VARIANTS: dict[str, Callable[..., Any]] = {
    "count-include-pad-wrong": _avg_backward_variant(flip_count=True),
    "not-divided-by-window": _avg_backward_variant(undivided=True),
}

AVG_MISCONCEPTIONS = (
    Misconception("count-include-pad-wrong", "each cell of a window receives dout divided by the window's "
                  "divisor: the padded window size with count_include_pad=True, the real pixels with False",
                  variant=_AVG_VARIANTS["count-include-pad-wrong"]),
    Misconception("not-divided-by-window", "the output is the window's MEAN, so each cell's share of dout is "
                  "divided by the window size", variant=_AVG_VARIANTS["not-divided-by-window"]),
)

register(Exercise.from_spec(visible.AVG_POOL_BACKWARD, avg_pool2d_backward_reference,
                            misconceptions=AVG_MISCONCEPTIONS))


def _pool_geometry(r: RandomInputs) -> tuple[tuple[int, int], tuple[int, int] | None, tuple[int, int], int, int]:
    rng = r.rng
    kh, kw = rng.randint(1, 3), rng.randint(1, 3)
    stride = None if rng.random() < 0.3 else (rng.randint(1, 3), rng.randint(1, 3))
    ph, pw = rng.randint(0, kh // 2), rng.randint(0, kw // 2)
    h, w = kh + rng.randint(0, 6), kw + rng.randint(0, 6)
    return (kh, kw), stride, (ph, pw), h, w


def _pool_case(r: RandomInputs, x: torch.Tensor, kernel, stride, padding, **extra: Any) -> Case:
    out = F.max_pool2d(torch.empty(x.shape, device="meta"), kernel, stride, padding)
    dout = r.randn(*out.shape)
    kwargs: dict[str, Any] = {"stride": None if stride is None else r.pair(stride), "padding": r.pair(padding)}
    kwargs.update(extra)
    return Case((dout, x, r.pair(kernel)), kwargs)


def max_pool_backward_case(r: RandomInputs, *, ties: bool = False) -> Case:
    """A random ``max_pool2d_backward`` call; ``ties``: small integer inputs, so windows often tie."""
    kernel, stride, padding, h, w = _pool_geometry(r)
    n, c = r.rng.randint(1, 2), r.rng.randint(1, 3)
    if ties:
        x = r.randint(-2, 3, n, c, h, w).to(torch.float32)
    elif r.rng.random() < 0.3:
        x = -r.rand(n, c, h, w) - 0.1  # all negative: zeros in the padding would win
    else:
        x = r.randn(n, c, h, w)
    return _pool_case(r, x, kernel, stride, padding)


def avg_pool_backward_case(r: RandomInputs) -> Case:
    """A random ``avg_pool2d_backward`` call, count_include_pad either way."""
    kernel, stride, padding, h, w = _pool_geometry(r)
    x = r.randn(r.rng.randint(1, 2), r.rng.randint(1, 3), h, w)
    return _pool_case(r, x, kernel, stride, padding, count_include_pad=r.rng.random() < 0.5)


# ------------------------------------------------------------------------ batch norm
def batch_norm2d_backward_reference(dout, x, weight, eps=1e-5):
    """Autograd's ``(dx, dweight, dbias)`` of training-mode ``F.batch_norm`` with batch statistics."""
    bias = torch.zeros_like(weight)
    return _vjp(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True, eps=eps), dout, x, weight, bias)


def _bn_variant(*, mean_term: bool = True, var_term: bool = True, unbiased: bool = False):
    def variant(dout, x, weight, eps=1e-5):
        dims = (0, 2, 3)
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
        rstd = (var + eps).rsqrt()
        xhat = (x - mean) * rstd
        g = dout
        if mean_term:
            g = g - dout.mean(dim=dims, keepdim=True)
        if var_term:
            g = g - xhat * (dout * xhat).mean(dim=dims, keepdim=True)
        dx = weight.view(1, -1, 1, 1) * rstd * g
        return dx, (dout * xhat).sum(dim=dims), dout.sum(dim=dims)

    return variant


_BN_VARIANTS: dict[str, Callable[..., Any]] = {
    "bn-mean-term-missing": _bn_variant(mean_term=False),
    "bn-variance-term-missing": _bn_variant(var_term=False),
    "batch-stats-treated-as-constants": _bn_variant(mean_term=False, var_term=False),
    "normalised-with-unbiased-var": _bn_variant(unbiased=True),
}

BN_MISCONCEPTIONS = (
    Misconception("batch-stats-treated-as-constants", "the batch mean and variance depend on x too: dx is "
                  "w * rstd * (dout - mean(dout) - xhat * mean(dout * xhat)), not w * rstd * dout",
                  variant=_BN_VARIANTS["batch-stats-treated-as-constants"]),
    Misconception("bn-mean-term-missing", "dx is missing the path through the batch mean: subtract "
                  "mean(dout) over (N, H, W) in each channel", variant=_BN_VARIANTS["bn-mean-term-missing"]),
    Misconception("bn-variance-term-missing", "dx is missing the path through the batch variance: subtract "
                  "xhat * mean(dout * xhat) over (N, H, W) in each channel",
                  variant=_BN_VARIANTS["bn-variance-term-missing"]),
    Misconception("normalised-with-unbiased-var", "training-mode BatchNorm normalises with the biased "
                  "variance (divide by N*H*W, not N*H*W - 1)", variant=_BN_VARIANTS["normalised-with-unbiased-var"]),
)

register(Exercise.from_spec(visible.BN_BACKWARD, batch_norm2d_backward_reference, misconceptions=BN_MISCONCEPTIONS))


def bn_backward_case(r: RandomInputs) -> Case:
    """A random ``batch_norm2d_backward`` call: shifted and scaled inputs, eps sometimes given."""
    rng = r.rng
    n, c, h, w = rng.randint(2, 4), rng.randint(1, 3), rng.randint(1, 4), rng.randint(2, 4)
    x = rng.uniform(-2, 2) + rng.uniform(0.5, 3) * r.randn(n, c, h, w)
    kwargs = {"eps": rng.choice([1e-5, 1e-3])} if rng.random() < 0.4 else {}
    return Case((r.randn(n, c, h, w), x, r.randn(c)), kwargs)


# ---------------------------------------------------------------------- cross-entropy
def cross_entropy_backward_reference(logits, target):
    """Autograd's gradient of ``F.cross_entropy(logits, target)`` (mean over the batch)."""
    return _vjp(lambda z: F.cross_entropy(z, target), torch.ones((), dtype=logits.dtype, device=logits.device),
                logits)[0]


def _ce_variant(*, per_batch: bool = True, dim: int = 1, sign: float = 1.0):
    def variant(logits, target):
        grad = torch.softmax(logits, dim=dim) - F.one_hot(target, logits.shape[1]).to(logits.dtype)
        return sign * grad / (logits.shape[0] if per_batch else 1)

    return variant


_CE_VARIANTS: dict[str, Callable[..., Any]] = {
    "mean-over-batch-missing": _ce_variant(per_batch=False),
    "softmax-wrong-dim": _ce_variant(dim=0),
    "sign-flipped": _ce_variant(sign=-1.0),
}

CE_MISCONCEPTIONS = (
    Misconception("mean-over-batch-missing", "F.cross_entropy averages over the batch, so its gradient is "
                  "(softmax - onehot) / N: the 1/N is missing", variant=_CE_VARIANTS["mean-over-batch-missing"]),
    Misconception("softmax-wrong-dim", "softmax runs over the classes (dim=1) of each sample, not over the batch",
                  variant=_CE_VARIANTS["softmax-wrong-dim"]),
    Misconception("sign-flipped", "the gradient is softmax - onehot: raising the true class's logit lowers "
                  "the loss", variant=_CE_VARIANTS["sign-flipped"]),
)

register(Exercise.from_spec(visible.CE_BACKWARD, cross_entropy_backward_reference, misconceptions=CE_MISCONCEPTIONS))


def ce_backward_case(r: RandomInputs) -> Case:
    """A random ``cross_entropy_backward`` call; sometimes with logits in the hundreds."""
    n, c = r.rng.randint(1, 8), r.rng.randint(2, 10)
    scale = r.rng.choice([1.0, 1.0, 5.0, 300.0])
    return Case((scale * r.randn(n, c), r.randint(0, c, n)), {})


# Every wrong implementation with its exercise's contract, by exercise and tag (for the tests).
STUDENT_MISTAKES: dict[str, dict[str, Callable[..., Any]]] = {
    "numeric_gradient": {m.tag: m.variant for m in NUMERIC_MISCONCEPTIONS if m.variant is not None},
    "conv2d_backward": dict(_CONV_VARIANTS),
    "max_pool2d_backward": dict(_MAX_VARIANTS),
    "avg_pool2d_backward": dict(_AVG_VARIANTS),
    "batch_norm2d_backward": dict(_BN_VARIANTS),
    "cross_entropy_backward": dict(_CE_VARIANTS),
}

# The hidden case generator of each exercise (for the tests).
CASES: dict[str, Callable[[RandomInputs], Case]] = {
    "numeric_gradient": numeric_case,
    "conv2d_backward": conv_backward_case,
    "max_pool2d_backward": max_pool_backward_case,
    "avg_pool2d_backward": avg_pool_backward_case,
    "batch_norm2d_backward": bn_backward_case,
    "cross_entropy_backward": ce_backward_case,
}

__all__ = ["CASES", "STUDENT_MISTAKES", "avg_pool_backward_case", "bn_backward_case", "ce_backward_case",
           "conv_backward_case", "max_pool_backward_case", "numeric_case"]
