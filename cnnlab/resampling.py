"""Upsampling helpers for notebook 05: cost formulas and the zero-stretched input.

MACs (multiply-accumulates) are counted without the bias. A transposed convolution is
counted per *input* position, as ``torch.utils.flop_counter`` and fvcore do: every input
value is multiplied by every weight of its group once. (thop and torchinfo count per output
position instead, which gives about ``stride**2`` times more; see the course notes.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def conv2d_macs(c_in: int, c_out: int, kernel_size: int | Sequence[int], output_size: int | Sequence[int],
                groups: int = 1) -> int:
    """MACs of ``nn.Conv2d``: ``(C_in/groups) * C_out * kH * kW`` per output pixel."""
    (kh, kw), (ho, wo) = _pair(kernel_size), _pair(output_size)
    return (c_in // groups) * c_out * kh * kw * ho * wo


def conv_transpose2d_macs(c_in: int, c_out: int, kernel_size: int | Sequence[int],
                          input_size: int | Sequence[int], groups: int = 1) -> int:
    """MACs of ``nn.ConvTranspose2d``: ``C_in * (C_out/groups) * kH * kW`` per input pixel."""
    (kh, kw), (h, w) = _pair(kernel_size), _pair(input_size)
    return c_in * (c_out // groups) * kh * kw * h * w


def upsampling_costs(c_in: int, c_out: int, input_size: int | Sequence[int], scale: int,
                     kernel_size: int) -> dict[str, int]:
    """MACs of three ways to go from (C_in, H, W) to (C_out, scale*H, scale*W) with a k x k kernel.

    - ``transposed conv``: ``ConvTranspose2d(C_in, C_out, k, stride=scale)``, padding chosen to land
      on ``scale*H`` (the cost does not depend on the padding);
    - ``nearest + conv``: nearest resize (copies, 0 MACs), then a 'same' k x k ``Conv2d`` at the
      large size;
    - ``bilinear + conv``: the same with a bilinear resize, which mixes 4 input values (4 MACs)
      per output value and channel.
    """
    h, w = _pair(input_size)
    big = (scale * h, scale * w)
    conv_big = conv2d_macs(c_in, c_out, kernel_size, big)
    return {
        "transposed conv": conv_transpose2d_macs(c_in, c_out, kernel_size, (h, w)),
        "nearest + conv": conv_big,
        "bilinear + conv": conv_big + 4 * c_in * big[0] * big[1],
    }


def zero_stretch(x: torch.Tensor, stride: int | Sequence[int]) -> torch.Tensor:
    """Insert ``stride - 1`` zeros between neighbouring pixels: (N, C, H, W) -> (N, C, (H-1)s+1, (W-1)s+1)."""
    sh, sw = _pair(stride)
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
    out[:, :, ::sh, ::sw] = x
    return out


__all__ = ["conv2d_macs", "conv_transpose2d_macs", "upsampling_costs", "zero_stretch"]
