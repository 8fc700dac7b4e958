"""Receptive fields: layer geometry, the exact set of input pixels, and autograd.

Notebook 02 teaches these. The recurrence itself (size, jump, start) is the student's
exercise; it is not here.

- :func:`layer_geometry` reads kernel, stride, padding and dilation off a layer.
- :func:`feature_sizes` runs each layer's PyTorch op on shape-only (meta) tensors.
- :func:`reachable_mask` is the exact set of input pixels that an output pixel depends on
  (with the holes that dilation leaves), found by walking the layers backwards.
- :func:`input_gradient` is the gradient of one output pixel with respect to the input, for
  effective-receptive-field pictures.

Every output is per axis: ``(rows, columns)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
import torch.nn as nn

from cnnlab import pristine
from cnnlab.probes import reference_running

Pair = tuple[int, int]


class ReceptiveField(NamedTuple):
    """The receptive field of a stack of layers, per axis ``(rows, columns)``.

    - ``size``: how many input pixels one output pixel spans (the extent, holes included);
    - ``jump``: how far apart, in input pixels, two neighbouring output pixels' fields are
      (the product of the strides, also called the effective stride);
    - ``start``: the input coordinate of the first (top-left) pixel of output pixel 0's field;
      negative when the field begins in the padding.

    Output pixel ``i`` sees input pixels ``start + i*jump`` to ``start + i*jump + size - 1``.
    """

    size: Pair
    jump: Pair
    start: Pair


class LayerGeometry(NamedTuple):
    """What a layer does to coordinates, per axis: kernel, stride, padding, dilation, ceil_mode."""

    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil_mode: bool = False


def _pair(value: int | Sequence[int]) -> Pair:
    if isinstance(value, str):
        raise ValueError(f"padding={value!r} is not supported here; give the padding as an int or a pair")
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"expected an int or a pair, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def flatten_layers(layers: nn.Module | Iterable[nn.Module]) -> list[nn.Module]:
    """A layer list with every (nested) ``nn.Sequential`` opened up, in forward order."""
    if isinstance(layers, nn.Sequential):
        layers = list(layers.children())
    elif isinstance(layers, nn.Module):
        return [layers]
    flat: list[nn.Module] = []
    for layer in layers:
        flat.extend(flatten_layers(layer) if isinstance(layer, nn.Sequential) else [layer])
    return flat


def layer_geometry(layer: nn.Module) -> LayerGeometry | None:
    """The geometry of ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d``; ``None`` for a pixel-wise layer.

    Any other module (ReLU, BatchNorm2d, Dropout, Identity...) is treated as acting pixel by pixel.
    """
    if isinstance(layer, nn.Conv2d):
        return LayerGeometry(_pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding), _pair(layer.dilation))
    if isinstance(layer, nn.MaxPool2d):
        stride = layer.stride if layer.stride is not None else layer.kernel_size
        return LayerGeometry(
            _pair(layer.kernel_size),
            _pair(stride),
            _pair(layer.padding),
            _pair(layer.dilation),
            bool(layer.ceil_mode),
        )
    if isinstance(layer, nn.AvgPool2d):
        stride = layer.stride if layer.stride is not None else layer.kernel_size
        return LayerGeometry(
            _pair(layer.kernel_size), _pair(stride), _pair(layer.padding), (1, 1), bool(layer.ceil_mode)
        )
    return None


def geometries(layers: nn.Module | Iterable[nn.Module]) -> list[LayerGeometry]:
    """The geometry of every layer that changes coordinates, in forward order."""
    return [g for g in (layer_geometry(m) for m in flatten_layers(layers)) if g is not None]


def _output_size(layer: nn.Module, g: LayerGeometry, size: Pair) -> Pair:
    """What PyTorch's own op makes of a ``size`` input, on a shape-only (meta) tensor."""
    x = torch.empty((1, 1, *size), device="meta")
    try:
        if isinstance(layer, nn.Conv2d):
            w = torch.empty((1, 1, *g.kernel), device="meta")
            y = pristine.conv2d(x, w, None, g.stride, g.padding, g.dilation)
        elif isinstance(layer, nn.MaxPool2d):
            y = pristine.max_pool2d(x, g.kernel, g.stride, g.padding, g.dilation, ceil_mode=g.ceil_mode)
        else:
            y = pristine.avg_pool2d(x, g.kernel, g.stride, g.padding, ceil_mode=g.ceil_mode)
    except RuntimeError as exc:
        raise ValueError(
            f"{type(layer).__name__} leaves no output pixel on a {size[0]}x{size[1]} input: {exc}"
        ) from None
    return int(y.shape[-2]), int(y.shape[-1])


def feature_sizes(layers: nn.Module | Iterable[nn.Module], size: Pair) -> list[Pair]:
    """The spatial size before the first geometric layer and after each one (``ValueError`` when none is left).

    Each size comes from running the layer's PyTorch op on a shape-only ("meta") tensor.
    """
    sizes = [(int(size[0]), int(size[1]))]
    for layer in flatten_layers(layers):
        g = layer_geometry(layer)
        if g is not None:
            sizes.append(_output_size(layer, g, sizes[-1]))
    return sizes


def reachable_indices(
    layers: nn.Module | Iterable[nn.Module], size: Pair, out_index: Pair
) -> tuple[list[int], list[int]]:
    """Input rows and columns that output pixel ``out_index`` depends on (sorted), per axis.

    Walks the layers backwards: output position ``o`` of a layer reads input positions
    ``o*s - p + u*d`` for ``u = 0..k-1``; positions in the padding are not pixels and are dropped.
    """
    geos = geometries(layers)
    sizes = feature_sizes(layers, size)
    out_size = sizes[-1]
    for a in range(2):
        if not 0 <= out_index[a] < out_size[a]:
            raise IndexError(f"output index {tuple(out_index)} is outside the {out_size[0]}x{out_size[1]} output")
    result = []
    for a in range(2):
        positions = {int(out_index[a])}
        for g, n_in in zip(reversed(geos), reversed([s[a] for s in sizes[:-1]]), strict=True):
            k, s, p, d = g.kernel[a], g.stride[a], g.padding[a], g.dilation[a]
            positions = {o * s - p + u * d for o in positions for u in range(k)}
            positions = {i for i in positions if 0 <= i < n_in}
        result.append(sorted(positions))
    return result[0], result[1]


def reachable_mask(
    layers: nn.Module | Iterable[nn.Module],
    input_shape: Sequence[int],
    out_index: Pair,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean mask ``(H, W)`` of the input pixels that output pixel ``out_index`` depends on.

    ``input_shape`` ends with ``(H, W)`` (e.g. ``(N, C, H, W)``). This is the exact set, not the
    bounding box: with dilation it has holes. It is what autograd finds when no gradient is
    zero by accident (positive weights, average pooling, BatchNorm in eval mode).
    """
    h, w = int(input_shape[-2]), int(input_shape[-1])
    rows, cols = reachable_indices(layers, (h, w), out_index)
    mask = torch.zeros(h, w, dtype=torch.bool)
    if rows and cols:
        mask[torch.tensor(rows)[:, None], torch.tensor(cols)[None, :]] = True
    return mask.to(device) if device is not None else mask


def field_box(rf: ReceptiveField, out_index: Pair, size: Pair | None = None) -> tuple[Pair, Pair]:
    """First and last input row/column of output pixel ``out_index``'s field, clipped to ``size``."""
    first = [rf.start[a] + out_index[a] * rf.jump[a] for a in range(2)]
    last = [first[a] + rf.size[a] - 1 for a in range(2)]
    if size is not None:
        first = [max(0, f) for f in first]
        last = [min(size[a] - 1, v) for a, v in enumerate(last)]
    return (first[0], first[1]), (last[0], last[1])


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU when it has none)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def input_gradient(model: nn.Module, x: torch.Tensor, out_index: Pair) -> torch.Tensor:
    """Gradient of ``model(x)[0, :, i, j].sum()`` with respect to ``x[0]``, summed over channels: ``(H, W)``.

    The model is run as it is (train or eval mode); its parameters are left unchanged.
    """
    with reference_running(), torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        out = model(x)
        out[0, :, out_index[0], out_index[1]].sum().backward()
        return x.grad[0].abs().sum(dim=0)


def positive_weights_(
    model: nn.Module, low: float = 0.2, high: float = 1.0, generator: torch.Generator | None = None
) -> nn.Module:
    """Give every conv weight a random value in ``[low, high)`` and every bias 0.1, in place.

    With an all-positive input every activation is then positive, so no gradient is zero by
    accident and the gradient mask equals :func:`reachable_mask`.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                values = torch.rand(m.weight.shape, generator=generator) * (high - low) + low
                m.weight.copy_(values.to(m.weight.device))
                if m.bias is not None:
                    m.bias.fill_(0.1)
    return model


def describe_layers(layers: nn.Module | Iterable[nn.Module]) -> str:
    """A compact one-line description of a stack, e.g. ``Conv2d(k=3, s=2, p=1) → ReLU``."""

    def show(v: Pair) -> str:
        return str(v[0]) if v[0] == v[1] else f"({v[0]},{v[1]})"

    parts = []
    for m in layers if isinstance(layers, (list, tuple)) else [layers]:
        if isinstance(m, nn.Sequential):
            parts.append("[" + describe_layers(list(m.children())) + "]")
            continue
        g = layer_geometry(m)
        if g is None:
            parts.append(type(m).__name__)
            continue
        text = f"k={show(g.kernel)}, s={show(g.stride)}, p={show(g.padding)}"
        if g.dilation != (1, 1):
            text += f", d={show(g.dilation)}"
        if g.ceil_mode:
            text += ", ceil"
        parts.append(f"{type(m).__name__}({text})")
    return " → ".join(parts)
