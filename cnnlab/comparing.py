"""Compare a student's result with the expected one and describe the difference.

Every comparison goes through the pristine references in :mod:`cnnlab.pristine`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from cnnlab import diagnosis as dx
from cnnlab import pristine


@dataclass(frozen=True)
class Tolerance:
    """Tolerance for floating-point results: ``|got - expected| <= atol + rtol*|expected|``."""

    rtol: float = 1e-4
    atol: float = 1e-5


EXACT = Tolerance(0.0, 0.0)


def describe_value(value: Any) -> str:
    """A short description of an argument or result, for failure messages."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        where = "" if value.device.type == "cpu" else f", {value.device}"
        if value.numel() <= 6:
            return f"tensor({value.detach().cpu().tolist()}, {dtype}{where})"
        return f"Tensor({dtype}{list(value.shape)}{where})"
    if isinstance(value, torch.nn.Module):
        return type(value).__name__
    if isinstance(value, (tuple, list)):
        inner = ", ".join(describe_value(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def difference(got: Any, expected: Any, tol: Tolerance = Tolerance()) -> tuple[str, str] | None:
    """Return ``None`` when ``got`` matches ``expected``, else ``(tag, explanation)``."""
    if isinstance(expected, torch.Tensor):
        return _tensor_difference(got, expected, tol)
    if isinstance(expected, bool) or expected is None:
        if got is expected or (isinstance(got, bool) and got == expected):
            return None
        return dx.WRONG_VALUE, f"expected {expected!r}, got {describe_value(got)}"
    if isinstance(expected, int):
        if isinstance(got, bool) or not isinstance(got, int):
            if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
                got = int(got.item())
            else:
                kind = type(got).__name__
                return dx.WRONG_TYPE, f"expected an int ({expected}), got {kind} {describe_value(got)}"
        if got != expected:
            return dx.WRONG_VALUE, f"expected {expected}, got {got}"
        return None
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = float(got.item())
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return dx.WRONG_TYPE, f"expected a number ({expected:.6g}), got {describe_value(got)}"
        if math.isnan(expected) and math.isnan(got):
            return None
        if abs(got - expected) <= tol.atol + tol.rtol * abs(expected):
            return None
        return dx.WRONG_VALUE, f"expected {expected:.6g}, got {got:.6g}"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return dx.WRONG_TYPE, f"expected a {type(expected).__name__} of {len(expected)}, got {describe_value(got)}"
        if len(got) != len(expected):
            return dx.WRONG_TYPE, f"expected {len(expected)} items, got {len(got)}: {describe_value(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            diff = difference(g, e, tol)
            if diff is not None:
                return diff[0], f"item {i}: {diff[1]}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return dx.WRONG_TYPE, f"expected a dict with keys {sorted(expected, key=str)}, got {describe_value(got)}"
        if set(got) != set(expected):
            return dx.WRONG_VALUE, f"expected keys {sorted(expected, key=str)}, got {sorted(got, key=str)}"
        for key, e in expected.items():
            diff = difference(got[key], e, tol)
            if diff is not None:
                return diff[0], f"{key!r}: {diff[1]}"
        return None
    if got == expected:
        return None
    return dx.WRONG_VALUE, f"expected {describe_value(expected)}, got {describe_value(got)}"


def unchanged(after: Any, before: Any) -> bool:
    """True when ``after`` is bit-for-bit ``before`` (tensors, modules' state, containers, values)."""
    if isinstance(before, torch.Tensor):
        if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
            return False
        if before.is_floating_point():
            return bool(pristine.equal(after.nan_to_num(1.5e300), before.nan_to_num(1.5e300)))
        return bool(pristine.equal(after, before))
    if isinstance(before, torch.nn.Module):
        a, b = after.state_dict(), before.state_dict()
        return a.keys() == b.keys() and all(unchanged(a[k], b[k]) for k in b)
    if isinstance(before, (tuple, list)):
        return (isinstance(after, (tuple, list)) and len(after) == len(before)
                and all(unchanged(x, y) for x, y in zip(after, before, strict=True)))
    if isinstance(before, dict):
        return isinstance(after, dict) and after.keys() == before.keys() and all(
            unchanged(after[k], before[k]) for k in before)
    return True


def same(got: Any, expected: Any, tol: Tolerance = Tolerance()) -> bool:
    """True when ``got`` matches ``expected`` within ``tol``."""
    return difference(got, expected, tol) is None


def _tensor_difference(got: Any, expected: torch.Tensor, tol: Tolerance) -> tuple[str, str] | None:
    if not isinstance(got, torch.Tensor):
        return dx.WRONG_TYPE, f"expected a torch.Tensor, got {type(got).__name__}"
    if tuple(got.shape) != tuple(expected.shape):
        return dx.WRONG_SHAPE, f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.device != expected.device:
        return dx.WRONG_DEVICE, (
            f"the result is on {got.device} but the inputs were on {expected.device}: "
            "create new tensors with device=x.device"
        )
    if expected.dtype == torch.bool or not (expected.is_floating_point() or expected.is_complex()):
        if got.is_floating_point():
            return dx.WRONG_TYPE, f"expected an integer tensor ({expected.dtype}), got {got.dtype}"
        mismatch = got.to(expected.dtype) != expected
        if not bool(mismatch.any()):
            return None
        idx = tuple(int(i) for i in mismatch.nonzero()[0])
        return dx.WRONG_VALUE, (
            f"{int(mismatch.sum())} of {expected.numel()} entries differ; first at index {idx}: "
            f"expected {expected[idx].item()}, got {got[idx].item()}"
        )
    g = got.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    g_finite, e_finite = pristine.isfinite(g), pristine.isfinite(e)
    bad = g_finite != e_finite
    if bool(bad.any()):
        idx = tuple(int(i) for i in bad.nonzero()[0])
        return dx.NOT_FINITE, (
            f"non-finite values where PyTorch has finite ones (or the reverse); first at index {idx}: "
            f"expected {e[idx].item():.6g}, got {g[idx].item():.6g}"
        )
    close = pristine.isclose(g, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    if bool(close.all()):
        return None
    err = (g - e).abs().nan_to_num(0.0)
    idx = tuple(int(i) for i in (~close).nonzero()[0])
    return dx.WRONG_VALUE, (
        f"{int((~close).sum())} of {expected.numel()} values differ (max abs error {err.max().item():.3g}); "
        f"first at index {idx}: expected {e[idx].item():.6g}, got {g[idx].item():.6g}"
    )
