"""Upsampling helpers for notebook 05: upsampling costs and the zero-stretched input.

MACs (multiply-accumulates) are counted without the bias. A transposed convolution is
counted per *input* position, as ``torch.utils.flop_counter`` and fvcore do: every input
value is multiplied by every weight of its group once. (thop and torchinfo count per output
position instead, which gives about ``stride**2`` times more; see the course notes.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode as _FlopCounterMode  # captured before student code

from cnnlab import pristine


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _macs(op: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> int:
    """MACs of one call of ``op`` on meta tensors (shapes only): half of ``FlopCounterMode``'s FLOPs."""
    with _FlopCounterMode(display=False) as counter:
        op(*args, **kwargs)
    return int(counter.get_total_flops()) // 2


def conv_transpose2d_macs(c_in: int, c_out: int, kernel_size: int | Sequence[int],
                          input_size: int | Sequence[int], groups: int = 1) -> int:
    """MACs of ``nn.ConvTranspose2d`` on one (C_in, H, W) input, as ``FlopCounterMode`` counts them (halved)."""
    (kh, kw), (h, w) = _pair(kernel_size), _pair(input_size)
    x = torch.empty(1, c_in, h, w, device="meta")
    weight = torch.empty(c_in, c_out // groups, kh, kw, device="meta")
    return _macs(pristine.conv_transpose2d, x, weight, groups=groups)


def upsampling_costs(c_in: int, c_out: int, input_size: int | Sequence[int], scale: int,
                     kernel_size: int) -> dict[str, int]:
    """MACs of three ways to go from (C_in, H, W) to (C_out, scale*H, scale*W) with a k x k kernel.

    - ``transposed conv``: ``ConvTranspose2d(C_in, C_out, k, stride=scale)``, padding chosen to land
      on ``scale*H`` (the cost does not depend on the padding);
    - ``nearest + conv``: nearest resize (copies, 0 MACs), then a 'same' k x k ``Conv2d`` at the
      large size;
    - ``bilinear + conv``: the same with a bilinear resize, which mixes 4 input values (4 MACs)
      per output value and channel.

    The convolutions are counted by ``FlopCounterMode`` on meta tensors (shapes only, no arithmetic).
    """
    h, w = _pair(input_size)
    big = (scale * h, scale * w)
    weight = torch.empty(c_out, c_in, kernel_size, kernel_size, device="meta")
    padded = torch.empty(1, c_in, big[0] + kernel_size - 1, big[1] + kernel_size - 1, device="meta")
    conv_big = _macs(pristine.conv2d, padded, weight)  # a 'same' convolution: the output is big
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


__all__ = ["conv_transpose2d_macs", "upsampling_costs", "zero_stretch"]
