"""Observations as plain data: what can be recorded at release and loaded without pickle."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import torch


def plain(value: Any, *, cpu: bool = False) -> Any:
    """``value`` with tensors detached (on the CPU with ``cpu``), named tuples as tuples, sizes as tuples.

    Raises ``TypeError`` for anything else that is not a number, string, bool, None, list or dict.
    """
    if isinstance(value, torch.Tensor):
        out = value.detach()
        return out.cpu().clone() if cpu else out
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if isinstance(value, tuple):
        return tuple(plain(v, cpu=cpu) for v in value)
    if isinstance(value, list):
        return [plain(v, cpu=cpu) for v in value]
    if isinstance(value, dict):
        return {k: plain(v, cpu=cpu) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot record a {type(value).__name__} as plain data")


def digest(value: Any) -> str:
    """A short fingerprint of case inputs: tensors by dtype, shape and bytes; modules by structure and weights."""
    h = hashlib.sha256()

    def feed(v: Any) -> None:
        if isinstance(v, torch.Tensor) and v.device.type == "meta":  # shape only: there are no values
            h.update(f"T{v.dtype}{tuple(v.shape)}meta".encode())
        elif isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(v, torch.nn.Module):
            h.update(f"M{v!r}".encode())
            for key, t in v.state_dict().items():
                h.update(key.encode())
                feed(t)
        elif isinstance(v, (tuple, list)):
            h.update(f"{type(v).__name__}{len(v)}".encode())
            for x in v:
                feed(x)
        elif isinstance(v, dict):
            h.update(f"D{len(v)}".encode())
            for k in sorted(v, key=str):
                h.update(str(k).encode())
                feed(v[k])
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            h.update(f"C{type(v).__name__}".encode())
            for f in dataclasses.fields(v):
                h.update(f.name.encode())
                feed(getattr(v, f.name))
        elif v is None or isinstance(v, (bool, int, float, str, torch.dtype, torch.device)):
            h.update(f"{type(v).__name__}:{v!r}".encode())
        else:
            h.update(type(v).__name__.encode())

    feed(value)
    return h.hexdigest()[:16]
