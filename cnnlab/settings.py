"""Context managers that set up a check's surroundings: float precision, threads, warnings.

Shared by the visible checks (:mod:`cnnlab.selfcheck`) and the hidden tests (``autograder.hidden``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def strict_float32() -> Iterator[None]:
    """Full float32 precision on CUDA (no TF32), so references are exact enough to compare."""
    conv = torch.backends.cudnn.conv
    matmul = torch.backends.cuda.matmul
    saved = (conv.fp32_precision, matmul.fp32_precision)
    conv.fp32_precision = "ieee"
    matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run checks on one CPU thread: their tensors are tiny, and spare threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def quiet_warnings(exercise: str) -> Iterator[None]:
    """Keep warnings off stderr (where nbgrader would score the cell 0); show them on stdout."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.append(text)
    for text in seen[:3]:
        print(f"note: {exercise} raised a warning: {text}")
