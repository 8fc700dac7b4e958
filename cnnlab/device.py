"""Pick the device to run on: CUDA when available, else CPU; ``COURSE_DEVICE`` overrides."""

from __future__ import annotations

import os

import torch

ENV_VAR = "COURSE_DEVICE"


def pick_device(prefer: str | None = None) -> torch.device:
    """Return ``torch.device`` from ``prefer``, else ``$COURSE_DEVICE``, else cuda-if-available.

    Raises ``RuntimeError`` with a one-line explanation when CUDA is asked for but absent.
    """
    wanted = prefer or os.environ.get(ENV_VAR, "").strip() or None
    if wanted is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(wanted)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{ENV_VAR}={wanted} asks for CUDA, but no CUDA device is available; unset it or use cpu")
    return device


def describe(device: torch.device) -> str:
    """A one-line description such as ``cpu (2 threads)`` or ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{device.type} ({torch.get_num_threads()} threads)"
