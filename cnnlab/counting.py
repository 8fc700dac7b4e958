"""Counting parameters and multiply-accumulates (MACs), the conventions of notebook 03.

The course's convention for MACs:

- one MAC is one multiplication followed by one addition into a running sum;
- convolutions (``Conv1d/2d/3d``) cost ``output elements × C_in/groups × prod(kernel)``;
- a transposed convolution (``ConvTranspose1d/2d/3d``) costs ``input elements × C_out/groups ×
  prod(kernel)``: every input value is multiplied by every weight of its group once (this is
  how ``FlopCounterMode`` and fvcore count it);
- ``Linear`` costs ``output elements × in_features``;
- biases, activations, pooling and normalisation are not counted.

``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per MAC under the same rules, so
``flop_counter_flops(model, shape) == 2 * macs_by_hooks(model, shape)``; tests prove it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode as _FlopCounterMode  # captured before student code

from cnnlab import pristine
from cnnlab.probes import reference_running

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
COUNTED = CONVS + TRANSPOSED + (nn.Linear,)


def _tuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * n


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first parameter (CPU, float32 without one)."""
    for p in model.parameters():
        return p.device, p.dtype if p.is_floating_point() else torch.float32
    return torch.device("cpu"), torch.float32


def zero_input(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    """A zero tensor of ``input_shape`` on the model's device and dtype."""
    device, dtype = model_device_dtype(model)
    return torch.zeros(tuple(input_shape), device=device, dtype=dtype)


# ----------------------------------------------------------------------------- references
def flop_counter_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass as ``torch.utils.flop_counter.FlopCounterMode`` counts them."""
    with reference_running(), torch.no_grad():
        x = zero_input(model, input_shape)
        with _FlopCounterMode(display=False) as counter:
            model(x)
    return int(counter.get_total_flops())


def macs_reference(model: nn.Module, input_shape: Sequence[int]) -> int:
    """MACs of one forward pass: half of ``FlopCounterMode``'s FLOPs (the course's convention)."""
    return flop_counter_flops(model, input_shape) // 2


def layer_macs(
    module: nn.Module,
    inp: torch.Tensor,
    out: torch.Tensor,
    *,
    transposed_per: str = "input",
    bias: bool = False,
    groups: bool = True,
    use_input_size: bool = False,
) -> int:
    """MACs of one call of a counted layer; the keyword arguments switch conventions (for variants)."""
    extra = out.numel() if bias and getattr(module, "bias", None) is not None else 0
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features + extra
    g = module.groups if groups else 1
    kernel = math.prod(module.kernel_size)
    if isinstance(module, TRANSPOSED):
        positions = (
            inp.numel()
            if transposed_per == "input"
            else out.numel() // module.out_channels * module.in_channels
        )
        return positions * (module.out_channels // g) * kernel + extra
    elements = out.numel()
    if use_input_size:
        elements = inp.numel() // module.in_channels * module.out_channels
    return elements * (module.in_channels // g) * kernel + extra


def macs_by_hooks(
    model: nn.Module, input_shape: Sequence[int], *, kinds: tuple[type, ...] = COUNTED, **convention: object
) -> int:
    """MACs of one forward pass, counted with forward hooks on the layers in ``kinds``."""
    total = [0]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        total[0] += layer_macs(module, inputs[0], output, **convention)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with reference_running(), torch.no_grad():
            model(zero_input(model, input_shape))
    finally:
        for h in handles:
            h.remove()
    return total[0]


def count_parameters_reference(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values (shared tensors once; buffers not included)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def conv2d_param_count_reference(
    in_channels: int, out_channels: int, kernel_size: int | Sequence[int], groups: int = 1, bias: bool = True
) -> int:
    """Parameters of ``nn.Conv2d`` built for real (on the meta device, so nothing is allocated)."""
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups, bias=bias, device="meta")
    return sum(p.numel() for p in layer.parameters())


def conv2d_macs_reference(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    output_size: int | Sequence[int],
    groups: int = 1,
) -> int:
    """MACs of one image through a Conv2d with that output size: ``FlopCounterMode`` on meta tensors / 2."""
    if in_channels % groups or out_channels % groups:
        raise ValueError("in_channels and out_channels must both be divisible by groups")
    kh, kw = _tuple(kernel_size, 2)
    oh, ow = _tuple(output_size, 2)
    x = torch.empty(1, in_channels, oh + kh - 1, ow + kw - 1, device="meta")
    w = torch.empty(out_channels, in_channels // groups, kh, kw, device="meta")
    with reference_running(), _FlopCounterMode(display=False) as counter:
        pristine.conv2d(x, w, groups=groups)
    return int(counter.get_total_flops()) // 2


# ------------------------------------------------------------------------ per-layer tables
@dataclass(frozen=True)
class LayerCost:
    """One counted layer of a model: its name, type, parameters, MACs and output shape."""

    name: str
    kind: str
    params: int
    macs: int
    output_shape: tuple[int, ...]


def layer_costs(model: nn.Module, input_shape: Sequence[int]) -> list[LayerCost]:
    """Parameters and MACs of every counted layer, in the order the forward pass calls them."""
    rows: list[LayerCost] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        rows.append(
            LayerCost(
                names[module],
                type(module).__name__,
                sum(p.numel() for p in module.parameters()),
                layer_macs(module, inputs[0], output),
                tuple(output.shape),
            )
        )

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, COUNTED)]
    try:
        with reference_running(), torch.no_grad():
            model(zero_input(model, input_shape))
    finally:
        for h in handles:
            h.remove()
    return rows


def summary(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """``{"params": ..., "macs": ..., "flops": ...}`` for one forward pass (FLOPs from FlopCounterMode)."""
    return {
        "params": count_parameters_reference(model),
        "macs": macs_by_hooks(model, input_shape),
        "flops": flop_counter_flops(model, input_shape),
    }


def format_count(n: float) -> str:
    """``480500 -> '480.5 K'``, ``3.2e9 -> '3.2 G'``: a short human-readable count."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n:g}"
