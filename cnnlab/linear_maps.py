"""Layers written as matrices: the convolution matrix C of notebook 01, shared with notebook 05.

``conv_matrix(weight, size)`` is the same C that the learner builds in notebook 01's
exercise ``conv_matrix``: ``C @ x.flatten() == F.conv2d(x[None], weight).flatten()`` for a
stride-1, unpadded convolution. It is built by placing the kernel, with indexing only (no
convolution operator), so an exercise that must not call a convolution may still use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def conv_matrix(weight: torch.Tensor, input_size: int | Sequence[int]) -> torch.Tensor:
    """The dense matrix C of a stride-1, unpadded convolution (``C @ x.flatten() == conv2d(x, w).flatten()``).

    Args:
        weight: kernels of shape (C_out, C_in, kH, kW).
        input_size: H (int, square input) or (H, W).

    Returns:
        C of shape (C_out * H_out * W_out, C_in * H * W), dtype and device of ``weight``, with
        H_out = H - kH + 1 and W_out = W - kW + 1. Row ``(o*H_out + i)*W_out + j`` holds kernel
        ``o`` placed at window ``(i, j)``; every other entry is 0.

    Raises:
        ValueError: if the kernel is larger than the input.
    """
    c_out, c_in, kh, kw = weight.shape
    if isinstance(input_size, int):
        h, w = input_size, input_size
    else:
        h, w = int(input_size[0]), int(input_size[1])
    h_out, w_out = h - kh + 1, w - kw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"a {kh}x{kw} kernel does not fit in a {h}x{w} input")
    dev = weight.device
    o = torch.arange(c_out, device=dev).view(-1, 1, 1, 1)
    i = torch.arange(h_out, device=dev).view(1, -1, 1, 1)
    j = torch.arange(w_out, device=dev).view(1, 1, -1, 1)
    c = torch.arange(c_in, device=dev).view(1, 1, 1, -1)
    placed = weight.new_zeros(c_out, h_out, w_out, c_in, h, w)
    shape = (c_out, h_out, w_out, c_in)
    for u in range(kh):
        for v in range(kw):
            taps = weight[:, :, u, v].reshape(c_out, 1, 1, c_in).expand(shape)
            placed[o, i, j, c, i + u, j + v] = taps
    return placed.reshape(c_out * h_out * w_out, c_in * h * w)


__all__ = ["conv_matrix"]
