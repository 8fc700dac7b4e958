"""Tables and totals for notebook 03, built from the counting functions you write there.

The course's convention for MACs (notebook 03, section 3):

- one MAC is one multiplication followed by one addition into a running sum;
- convolutions (``Conv1d/2d/3d``) cost ``output elements × C_in/groups × prod(kernel)``;
- a transposed convolution costs ``input elements × C_out/groups × prod(kernel)``: every input
  value is multiplied by every weight of its group once (this is how ``FlopCounterMode`` and
  fvcore count it);
- ``Linear`` costs ``output elements × in_features``;
- biases, activations, pooling and normalisation are not counted.

``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per MAC under the same rules.
:func:`summary` and :func:`layer_costs` take your ``count_parameters`` and ``count_macs``
(exercises 3 and 4) as arguments; only the FLOPs come from PyTorch's own counter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode as _FlopCounterMode  # captured before student code

ParamCounter = Callable[[nn.Module], int]
MacCounter = Callable[[nn.Module, Sequence[int]], int]


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first parameter (CPU, float32 without one)."""
    for p in model.parameters():
        return p.device, p.dtype if p.is_floating_point() else torch.float32
    return torch.device("cpu"), torch.float32


def zero_input(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    """A zero tensor of ``input_shape`` on the model's device and dtype."""
    device, dtype = model_device_dtype(model)
    return torch.zeros(tuple(input_shape), device=device, dtype=dtype)


def flop_counter_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass as PyTorch's ``FlopCounterMode`` counts them."""
    with torch.no_grad():
        x = zero_input(model, input_shape)
        with _FlopCounterMode(display=False) as counter:
            model(x)
    return int(counter.get_total_flops())


def _yours(fn: Callable[..., Any], name: str, exercise: int, *args: Any) -> Any:
    """Call the student's counting function, saying which exercise to finish when it is not done yet."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise NotImplementedError(
            f"this cell counts with your `{name}`: finish exercise {exercise} first, then run it again"
        ) from None


# ------------------------------------------------------------------------ per-layer tables
@dataclass(frozen=True)
class LayerCost:
    """One layer of a model: its name, type, parameters, MACs and output shape."""

    name: str
    kind: str
    params: int
    macs: int
    output_shape: tuple[int, ...]


def layer_costs(
    model: nn.Module, input_shape: Sequence[int], *, count_parameters: ParamCounter, count_macs: MacCounter
) -> list[LayerCost]:
    """Parameters and MACs of every layer that owns parameters, in the order the forward pass calls them.

    One forward pass on zeros records each such layer's input and output shapes; then
    ``count_parameters(layer)`` and ``count_macs(layer, its input shape)`` (yours) count each call.
    """
    calls: list[tuple[str, nn.Module, tuple[int, ...], tuple[int, ...]]] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        calls.append((names[module], module, tuple(inputs[0].shape), tuple(output.shape)))

    owners = [m for m in model.modules() if next(m.parameters(recurse=False), None) is not None]
    handles = [m.register_forward_hook(hook) for m in owners]
    try:
        with torch.no_grad():
            model(zero_input(model, input_shape))
    finally:
        for h in handles:
            h.remove()
    return [
        LayerCost(
            name,
            type(module).__name__,
            _yours(count_parameters, "count_parameters", 3, module),
            _yours(count_macs, "count_macs", 4, module, in_shape),
            out_shape,
        )
        for name, module, in_shape, out_shape in calls
    ]


def summary(
    model: nn.Module, input_shape: Sequence[int], *, count_parameters: ParamCounter, count_macs: MacCounter
) -> dict[str, int]:
    """``{"params", "macs", "flops"}`` of one forward pass: your two counts, and FlopCounterMode's FLOPs."""
    return {
        "params": _yours(count_parameters, "count_parameters", 3, model),
        "macs": _yours(count_macs, "count_macs", 4, model, input_shape),
        "flops": flop_counter_flops(model, input_shape),
    }


def format_count(n: float) -> str:
    """``480500 -> '480.5 K'``, ``3.2e9 -> '3.2 G'``: a short human-readable count."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n:g}"
