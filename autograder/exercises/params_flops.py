"""Notebook 03, parameters, FLOPs and MACs: formulas, whole-model counts, separable convolutions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.comparing import EXACT, Tolerance, describe_value, difference
from cnnlab.counting import (
    conv2d_macs_reference,
    conv2d_param_count_reference,
    count_parameters_reference,
    macs_by_hooks,
    macs_reference,
)
from cnnlab.diagnosis import CheckFailed, Misconception
from cnnlab.models import SeedMNISTNet
from cnnlab.probes import Probe, probes_in
from cnnlab.sources import cite

NOTEBOOK = "03_params_flops"


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _is_float(case: Case, got: Any, expected: Any) -> bool:
    return isinstance(got, float)


# ------------------------------------------------------------------- conv2d_param_count
def _params_variant(*, group_rule: str = "right", bias_rule: str = "right", square: bool = False) -> Callable[..., int]:
    """The parameter formula with one rule turned wrong."""

    def variant(in_channels, out_channels, kernel_size, groups=1, bias=True):  # noqa: ANN001, ANN202
        kh, kw = _pair(kernel_size)
        k = kh * kh if square else kh * kw
        bias_count = out_channels if {"right": bias, "never": False, "always": True}[bias_rule] else 0
        if group_rule == "all-divided":
            return (in_channels * k * out_channels + bias_count) // groups
        if group_rule == "one-group":
            return (out_channels // groups) * (in_channels // groups) * k + bias_count
        per_kernel = in_channels if group_rule == "ignored" else in_channels // groups
        return out_channels * per_kernel * k + bias_count

    return variant


PARAM_MISCONCEPTIONS = (
    Misconception("float-count", "a count is a whole number: use // (integer division), not /", detect=_is_float),
    Misconception(
        "groups-ignored",
        "groups were ignored: each kernel covers only C_in/groups input channels, "
        "so the weight is (C_out, C_in/groups, kH, kW)",
        variant=_params_variant(group_rule="ignored"),
    ),
    Misconception(
        "one-group-only",
        "that is one group's weight: there are `groups` groups, each with C_out/groups kernels of C_in/groups channels",
        variant=_params_variant(group_rule="one-group"),
    ),
    Misconception(
        "bias-divided-by-groups",
        "groups shrink the weight only: every one of the C_out output channels still has its own bias",
        variant=_params_variant(group_rule="all-divided"),
    ),
    Misconception(
        "bias-forgotten",
        "with bias=True there is one bias per output channel (C_out more)",
        variant=_params_variant(bias_rule="never"),
    ),
    Misconception(
        "bias-always-counted",
        "with bias=False the layer has no bias parameters",
        variant=_params_variant(bias_rule="always"),
    ),
    Misconception(
        "square-kernel-assumed",
        "kernel_size may be a pair (kH, kW): multiply both",
        variant=_params_variant(square=True),
    ),
)


def _params_visible() -> list[Case]:
    return [
        Case((1, 10, 5), note="MNIST's first convolution: 10 kernels of 1x5x5, plus 10 biases"),
        Case((10, 20, 5), note="MNIST's second convolution"),
        Case((12, 6, 3), note=f"{cite(2)}'s example, groups=1"),
        Case((12, 6, 3), {"groups": 3}, note=f"{cite(2)}'s example with groups=3"),
        Case((32, 32, 3), {"groups": 32, "bias": False}, note="a depthwise convolution"),
        Case((3, 64, (7, 7)), {"bias": False}, note="a ResNet stem (bias=False: BatchNorm follows)"),
        Case((16, 8, (3, 1)), {"groups": 2}, note="a rectangular kernel"),
        Case((6, 4, 3), {"groups": 4}, note="6 input channels cannot be split into 4 groups", raises=ValueError),
    ]


register(
    Exercise(
        name="conv2d_param_count",
        notebook=NOTEBOOK,
        reference=conv2d_param_count_reference,
        visible=_params_visible,
        misconceptions=PARAM_MISCONCEPTIONS,
        tolerance=EXACT,
    )
)


def _random_channels(rng: Any) -> tuple[int, int, int]:
    g = rng.choice([1, 1, 1, 2, 3, 4, 8])
    if rng.random() < 0.15:  # depthwise
        c = g * rng.randint(1, 8)
        return c, c * rng.choice([1, 1, 2]), c
    return g * rng.randint(1, 24), g * rng.randint(1, 24), g


def conv2d_param_count_case(r: RandomInputs) -> Case:
    """Random channels, groups (depthwise sometimes), a square or rectangular kernel, bias or not."""
    rng = r.rng
    cin, cout, g = _random_channels(rng)
    k = rng.randint(1, 7) if rng.random() < 0.6 else (rng.randint(1, 7), rng.randint(1, 7))
    return Case((cin, cout, k), {"groups": g, "bias": rng.random() < 0.5})


# --------------------------------------------------------------------------- conv2d_macs
def _macs_variant(
    *,
    group_rule: str = "right",
    bias: bool = False,
    square_k: bool = False,
    square_out: bool = False,
    factor: int = 1,
) -> Callable[..., int]:
    """The MAC formula with one rule turned wrong."""

    def variant(in_channels, out_channels, kernel_size, output_size, groups=1):  # noqa: ANN001, ANN202
        kh, kw = _pair(kernel_size)
        oh, ow = _pair(output_size)
        k = kh * kh if square_k else kh * kw
        positions = oh * oh if square_out else oh * ow
        per_output = (in_channels if group_rule == "ignored" else in_channels // groups) * k
        channels = out_channels // groups if group_rule == "one-group" else out_channels
        return factor * channels * positions * per_output + (out_channels * positions if bias else 0)

    return variant


MACS_MISCONCEPTIONS = (
    Misconception("float-count", "a count is a whole number: use // (integer division), not /", detect=_is_float),
    Misconception(
        "flops-not-macs",
        "that is the FLOP count (2 per MAC): one MAC is one multiply AND its add",
        variant=_macs_variant(factor=2),
    ),
    Misconception(
        "groups-ignored",
        "groups were ignored: every output value is a dot product over only C_in/groups channels x kH x kW",
        variant=_macs_variant(group_rule="ignored"),
    ),
    Misconception(
        "one-group-only",
        "that is one group's cost: all C_out output channels are computed",
        variant=_macs_variant(group_rule="one-group"),
    ),
    Misconception(
        "bias-counted",
        "by this course's convention the bias is not counted (it is an add, not a multiply-accumulate)",
        variant=_macs_variant(bias=True),
    ),
    Misconception(
        "square-kernel-assumed",
        "kernel_size may be a pair (kH, kW): multiply both",
        variant=_macs_variant(square_k=True),
    ),
    Misconception(
        "square-output-assumed",
        "output_size may be a pair (H_out, W_out): multiply both",
        variant=_macs_variant(square_out=True),
    ),
)


def _macs_visible() -> list[Case]:
    return [
        Case((1, 10, 5, 24), note="MNIST's first convolution: 24x24 outputs"),
        Case((10, 20, 5, 8), note="MNIST's second convolution: 8x8 outputs"),
        Case((12, 6, 3, (5, 7)), {"groups": 3}, note="groups=3, a 5x7 output"),
        Case((32, 32, 3, 56), {"groups": 32}, note="a depthwise 3x3 convolution"),
        Case((32, 64, 1, 56), note="a pointwise (1x1) convolution"),
        Case((3, 64, (7, 7), (152, 114)), note=f"{cite(2)}'s stem on a 304x228 image"),
        Case((8, 6, (1, 3), 4), note="a rectangular kernel"),
    ]


register(
    Exercise(
        name="conv2d_macs",
        notebook=NOTEBOOK,
        reference=conv2d_macs_reference,
        visible=_macs_visible,
        misconceptions=MACS_MISCONCEPTIONS,
        tolerance=EXACT,
    )
)


def conv2d_macs_case(r: RandomInputs) -> Case:
    """Random channels, groups, kernel and output size (square or not)."""
    rng = r.rng
    cin, cout, g = _random_channels(rng)
    k = rng.randint(1, 7) if rng.random() < 0.6 else (rng.randint(1, 7), rng.randint(1, 7))
    out = rng.randint(1, 64) if rng.random() < 0.5 else (rng.randint(1, 64), rng.randint(1, 64))
    return Case((cin, cout, k, out), {"groups": g})


# ----------------------------------------------------------------------- count_parameters
def _counted_tensors(model, trainable_only=False):  # noqa: ANN001, ANN202
    return len([p for p in model.parameters() if p.requires_grad or not trainable_only])


def _shared_twice(model, trainable_only=False):  # noqa: ANN001, ANN202
    return sum(
        p.numel() for _, p in model.named_parameters(remove_duplicate=False) if p.requires_grad or not trainable_only
    )


def _frozen_counted(model, trainable_only=False):  # noqa: ANN001, ANN202
    return count_parameters_reference(model, False)


def _buffers_counted(model, trainable_only=False):  # noqa: ANN001, ANN202
    return count_parameters_reference(model, trainable_only) + sum(b.numel() for b in model.buffers())


def _weights_only(model, trainable_only=False):  # noqa: ANN001, ANN202
    return sum(
        p.numel()
        for n, p in model.named_parameters()
        if not n.endswith("bias") and (p.requires_grad or not trainable_only)
    )


def _trainable_inverted(model, trainable_only=False):  # noqa: ANN001, ANN202
    return sum(p.numel() for p in model.parameters() if not trainable_only or not p.requires_grad)


COUNT_MISCONCEPTIONS = (
    Misconception(
        "counted-tensors",
        "that counts parameter TENSORS; count their values: p.numel()",
        variant=_counted_tensors,
    ),
    Misconception(
        "shared-counted-twice",
        "a layer used twice shares one set of weights: count each "
        "parameter tensor once (model.parameters() already does)",
        variant=_shared_twice,
    ),
    Misconception(
        "frozen-counted",
        "with trainable_only=True, skip parameters with requires_grad=False",
        variant=_frozen_counted,
    ),
    Misconception(
        "trainable-inverted",
        "trainable_only=True keeps the parameters WITH requires_grad=True",
        variant=_trainable_inverted,
    ),
    Misconception(
        "buffers-counted",
        "buffers (BatchNorm's running_mean, running_var, num_batches_tracked) "
        "are state, not parameters: model.parameters() leaves them out",
        variant=_buffers_counted,
    ),
    Misconception("bias-forgotten", "biases are parameters too", variant=_weights_only),
)


def _frozen(model: nn.Module, *names: str) -> nn.Module:
    for name in names:
        model.get_submodule(name).requires_grad_(False)
    return model


def _count_visible() -> list[Case]:
    shared = nn.Conv2d(4, 4, 3, padding=1)
    return [
        Case((SeedMNISTNet(),), note=f"{cite(5)}'s MNIST network: 21,840 parameters"),
        Case(
            (_frozen(SeedMNISTNet(), "conv1", "conv2"),),
            {"trainable_only": True},
            note="the convolutions frozen (fine-tuning only the classifier)",
        ),
        Case(
            (_frozen(SeedMNISTNet(), "conv1"),),
            {"trainable_only": False},
            note="frozen, but count everything",
        ),
        Case(
            (nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()),),
            note="BatchNorm has 2 parameters per channel and 3 buffers",
        ),
        Case((nn.Sequential(shared, nn.ReLU(), shared),), note="one layer used twice: shared weights"),
    ]


register(
    Exercise(
        name="count_parameters",
        notebook=NOTEBOOK,
        reference=count_parameters_reference,
        visible=_count_visible,
        misconceptions=COUNT_MISCONCEPTIONS,
        tolerance=EXACT,
        pure=False,
    )
)


# ---------------------------------------------------------------------------- count_macs
def _flops_detect(case: Case, got: Any, expected: Any) -> bool:
    return isinstance(got, int) and expected > 0 and got == 2 * expected


def _per_image(model, input_shape):  # noqa: ANN001, ANN202
    return macs_reference(model, (1, *tuple(input_shape)[1:]))


COUNT_MACS_MISCONCEPTIONS = (
    Misconception("float-count", "a count is a whole number: use // (integer division), not /", detect=_is_float),
    Misconception(
        "flops-not-macs",
        "that is FlopCounterMode's FLOP count: one MAC is one multiply AND its add, so MACs = FLOPs / 2",
        detect=_flops_detect,
    ),
    Misconception(
        "bias-counted",
        "by this course's convention the bias is not counted (torchinfo counts it; "
        "FlopCounterMode, fvcore and thop do not)",
        variant=lambda m, s: macs_by_hooks(m, s, bias=True),
    ),
    Misconception(
        "groups-ignored",
        "groups were ignored: each output value sums over C_in/groups channels only",
        variant=lambda m, s: macs_by_hooks(m, s, groups=False),
    ),
    Misconception(
        "transposed-per-output",
        "a transposed convolution is counted per INPUT element: each "
        "input value is multiplied once by each of the C_out/groups x prod(kernel) weights; counting "
        "per output element also counts the inserted zeros",
        variant=lambda m, s: macs_by_hooks(m, s, transposed_per="output"),
    ),
    Misconception(
        "input-size-not-output",
        "a convolution does one dot product per OUTPUT position: use the output's size, not the input's",
        variant=lambda m, s: macs_by_hooks(m, s, use_input_size=True),
    ),
    Misconception(
        "linear-skipped",
        "nn.Linear layers cost output elements x in_features MACs too",
        variant=lambda m, s: macs_by_hooks(m, s, kinds=(nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)),
    ),
    Misconception(
        "only-conv2d",
        "Conv1d and Conv3d count the same way: output elements x C_in/groups x prod(kernel_size)",
        variant=lambda m, s: macs_by_hooks(m, s, kinds=(nn.Conv2d, nn.ConvTranspose2d, nn.Linear)),
    ),
    Misconception(
        "batch-ignored", "count the whole batch of input_shape: MACs grow linearly with N", variant=_per_image
    ),
)


def _verify_count_macs(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    seen: list = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[0] if args else kwargs.get("model"))
        return fn(*args, **kwargs)

    got = exercise.call_student(spy, case, visible=visible)
    where = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")
    model = seen[0] if seen else None
    if isinstance(model, nn.Module):
        probes = probes_in(model)
        if any(p.flop_counter_calls for p in probes):
            raise CheckFailed(
                exercise.name,
                dx.USED_BUILTIN,
                "uses torch.utils.flop_counter.FlopCounterMode; "
                "this exercise asks you to count with your own forward hooks",
                where,
                visible=visible,
            )
        if any(p.reference_calls for p in probes):
            raise CheckFailed(
                exercise.name,
                dx.USED_BUILTIN,
                "calls the course library's own counter; this exercise asks you to count with your own forward hooks",
                where,
                visible=visible,
            )
        left = [
            name or type(model).__name__
            for name, m in model.named_modules()
            if m._forward_hooks or m._forward_pre_hooks
        ]
        if left or torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks:
            raise CheckFailed(
                exercise.name,
                "hooks-left-behind",
                "remove every hook after the forward pass "
                "(handle.remove(), e.g. in a finally: block); a leftover hook keeps counting in "
                "every later forward pass",
                f"{where}\nhooks still on: {left or 'global'}",
                visible=visible,
            )
    expected = case.call(exercise.reference)
    exercise.judge(case, got, expected, visible=visible)


def _count_macs_visible() -> list[Case]:
    return [
        Case((SeedMNISTNet(), (1, 1, 28, 28)), note=f"{cite(5)}'s MNIST network, one image: 480,500 MACs"),
        Case((SeedMNISTNet(), (4, 1, 28, 28)), note="the same network, a batch of 4"),
        Case((nn.Sequential(nn.Conv2d(8, 16, 3, groups=4, bias=False)), (1, 8, 10, 10)), note="a grouped conv"),
        Case((nn.Sequential(nn.Conv1d(16, 33, 3, stride=2)), (20, 16, 50)), note=f"{cite(5)}'s Conv1d example"),
        Case(
            (nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2)), (1, 2, 4, 6, 6)),
            note="a Conv3d; pooling and ReLU cost nothing",
        ),
        Case(
            (nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2)), (1, 4, 5, 5)),
            note="a transposed convolution: counted per input element",
        ),
        Case(
            (nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5)), (2, 7, 20)),
            note="Linear layers on a (N, L, features) input",
        ),
        Case(
            (_resnet_stem().to("meta"), (1, 3, 224, 224)),
            note="a ResNet stem on the meta device (shapes only): create the input on the model's device",
        ),
    ]


def _resnet_stem() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
    )


register(
    Exercise(
        name="count_macs",
        notebook=NOTEBOOK,
        reference=macs_reference,
        visible=_count_macs_visible,
        misconceptions=COUNT_MACS_MISCONCEPTIONS,
        tolerance=EXACT,
        verify=_verify_count_macs,
        pure=False,
    )
)


# ---------------------------------------------------------------------- random models
def _conv_block(
    rng: Any, dims: int, cin: int, size: list[int], *, transposed: bool = False
) -> tuple[nn.Module, int, list[int]] | None:
    """One random (transposed) convolution that fits ``size``; returns it, C_out and the new size."""
    g = rng.choice([1, 1, 2, 3]) if cin % 6 == 0 else (rng.choice([1, 2]) if cin % 2 == 0 else 1)
    if rng.random() < 0.15:
        g = cin
    cout = g * rng.randint(1, max(1, 8 // g) + 1)
    k = [rng.randint(1, 4) for _ in range(dims)]
    s = [rng.randint(1, 3) for _ in range(dims)]
    d = [rng.randint(1, 2) for _ in range(dims)]
    bias = rng.random() < 0.6
    if transposed:
        p = [rng.randint(0, d[a] * (k[a] - 1) // 2) for a in range(dims)]
        op = [rng.randint(0, max(s[a], d[a]) - 1) for a in range(dims)]
        layer = nn.ConvTranspose2d(
            cin, cout, tuple(k), tuple(s), tuple(p), tuple(op), groups=g, bias=bias, dilation=tuple(d)
        )
        new = [(size[a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(dims)]
    else:
        p = [rng.randint(0, 2) for _ in range(dims)]
        new = [(size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(dims)]
        cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
        layer = cls(cin, cout, tuple(k), tuple(s), tuple(p), tuple(d), groups=g, bias=bias)
    if min(new) < 1:
        return None
    return layer, cout, new


def random_counting_model(
    r: RandomInputs, *, probe: bool = True, meta: float = 0.0, kind: str | None = None
) -> tuple[nn.Module, tuple[int, ...], str]:
    """A random model for counting, its input shape, and a short description.

    Mixes Conv1d/2d/3d, ConvTranspose2d (groups, stride, padding, dilation, output_padding), Linear on
    2-d and 3-d inputs, pixel-wise layers and pooling, a layer used twice, and a :class:`Probe`.
    The model is on the grading device, or with probability ``meta`` on PyTorch's meta device
    (shapes only: counting costs no arithmetic there). ``kind`` picks the family (e.g. ``"transposed"``).
    """
    rng = r.rng
    kind = kind or rng.choice(["conv1d", "conv2d", "conv2d", "conv3d", "transposed", "linear", "mnist"])
    n = rng.randint(1, 3)
    if kind == "mnist":
        layers: list[nn.Module] = [SeedMNISTNet()]
        shape: tuple[int, ...] = (n, 1, 28, 28)
    elif kind == "linear":
        f0, f1, f2 = rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 20)
        layers = [nn.Linear(f0, f1, bias=rng.random() < 0.6), nn.ReLU(), nn.Linear(f1, f2)]
        shape = (n, f0) if rng.random() < 0.5 else (n, rng.randint(1, 6), f0)
    else:
        dims = {"conv1d": 1, "conv2d": 2, "conv3d": 3, "transposed": 2}[kind]
        cin = rng.choice([1, 2, 3, 4, 6])
        size = [rng.randint(6, 14 if dims < 3 else 7) for _ in range(dims)]
        shape = (n, cin, *size)
        layers, c = [], cin
        for i in range(rng.randint(1, 3)):
            block = _conv_block(rng, dims, c, size, transposed=kind == "transposed" and i == 0)
            if block is None:
                break
            layer, c, size = block
            layers.append(layer)
            if rng.random() < 0.4:
                layers.append(rng.choice([nn.ReLU(), nn.Identity()]))
            if dims == 2 and n * math.prod(size) > 1 and rng.random() < 0.3:
                layers.append(nn.BatchNorm2d(c))
        if not layers:
            cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
            layers, size = [cls(cin, cin, 1)], size
            c = cin
        if rng.random() < 0.3:  # a layer used twice (its MACs count twice, its parameters once)
            shared = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims](c, c, 1)
            layers += [shared, nn.ReLU(), shared]
        if rng.random() < 0.5:
            layers += [
                nn.Flatten(),
                nn.Linear(c * math.prod(size), rng.randint(1, 10), bias=rng.random() < 0.5),
            ]
    if probe:
        layers.insert(rng.randint(0, len(layers)), Probe())
    model = nn.Sequential(*layers)
    for m in model.modules():
        if rng.random() < 0.15 and isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)):
            m.requires_grad_(False)
    if rng.random() < meta:
        return model.to("meta"), shape, f"{kind} model on the meta device"
    return model.to(r.device), shape, f"{kind} model"


def count_macs_case(r: RandomInputs, *, meta: float = 0.0, kind: str | None = None) -> Case:
    """A random model and input shape for ``count_macs`` (on the meta device with probability ``meta``)."""
    model, shape, note = random_counting_model(r, meta=meta, kind=kind)
    return Case((model, shape), note=note)


def count_parameters_case(r: RandomInputs) -> Case:
    """A random model (frozen layers, shared layers, BatchNorm buffers) for ``count_parameters``."""
    model, _, note = random_counting_model(r, probe=False)
    return Case((model,), {"trainable_only": r.rng.random() < 0.5}, note=note)


# ---------------------------------------------------------------------- depthwise_separable
def separable_ratio_reference(in_channels: int, out_channels: int, kernel_size: int) -> float:
    """MACs (and parameters) of depthwise + pointwise over those of one standard conv: 1/C_out + 1/k^2."""
    k2 = kernel_size * kernel_size
    return (k2 + out_channels) / (k2 * out_channels)


def depthwise_separable_reference(in_channels: int, out_channels: int, kernel_size: int) -> tuple[nn.Module, float]:
    """The module the contract describes, and the cost ratio."""
    module = nn.Sequential(
        nn.Conv2d(in_channels, in_channels, kernel_size, padding=kernel_size // 2, groups=in_channels, bias=False),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
    )
    return module, separable_ratio_reference(in_channels, out_channels, kernel_size)


RATIO_MISCONCEPTIONS = (
    Misconception(
        "ratio-inverted",
        "the ratio is separable / standard (a number below 1), not standard / separable",
        variant=lambda ci, co, k: 1 / separable_ratio_reference(ci, co, k),
    ),
    Misconception(
        "pointwise-forgotten",
        "the 1x1 pointwise convolution costs too: the ratio is 1/C_out + 1/k^2",
        variant=lambda ci, co, k: 1 / co,
    ),
    Misconception(
        "depthwise-forgotten",
        "the depthwise convolution costs too: the ratio is 1/C_out + 1/k^2",
        variant=lambda ci, co, k: 1 / (k * k),
    ),
)


def _fail(exercise: Exercise, tag: str, hint: str, where: str, visible: bool, extra: str = "") -> CheckFailed:
    return CheckFailed(exercise.name, tag, hint, where + (f"\n{extra}" if extra else ""), visible=visible)


def _verify_separable(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    cin, cout, k = case.args
    got = exercise.call_student(fn, case, visible=visible)
    where = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")
    if not (isinstance(got, tuple) and len(got) == 2):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "return a pair (module, ratio)",
            where,
            visible,
            f"got {describe_value(got)}",
        )
    module, ratio = got
    if not isinstance(module, nn.Module):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "the first item must be an nn.Module",
            where,
            visible,
            f"got {describe_value(module)}",
        )
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise _fail(
            exercise,
            "not-two-convs",
            "the module holds exactly two nn.Conv2d layers: a depthwise "
            "k x k convolution, then a pointwise 1x1 convolution",
            where,
            visible,
            f"found {len(convs)} Conv2d layers",
        )
    dw, pw = convs
    if tuple(dw.kernel_size) == (1, 1) and tuple(pw.kernel_size) != (1, 1):
        raise _fail(
            exercise,
            "pointwise-first",
            "the depthwise k x k convolution comes first, then the 1x1 pointwise one",
            where,
            visible,
        )
    if dw.groups != cin or dw.in_channels != cin or dw.out_channels != cin:
        raise _fail(
            exercise,
            "depthwise-groups-missing",
            "the depthwise convolution maps C_in channels to "
            "C_in channels with groups=C_in: one k x k filter per channel",
            where,
            visible,
            f"got Conv2d({dw.in_channels}, {dw.out_channels}, groups={dw.groups})",
        )
    if tuple(dw.kernel_size) != (k, k):
        raise _fail(
            exercise,
            dx.WRONG_VALUE,
            f"the depthwise convolution has a {k}x{k} kernel",
            where,
            visible,
            f"got kernel_size={tuple(dw.kernel_size)}",
        )
    if tuple(pw.kernel_size) != (1, 1) or pw.in_channels != cin or pw.out_channels != cout or pw.groups != 1:
        raise _fail(
            exercise,
            "pointwise-not-1x1",
            "the pointwise convolution is an ordinary 1x1 Conv2d from C_in to C_out channels (groups=1)",
            where,
            visible,
            f"got Conv2d({pw.in_channels}, {pw.out_channels}, {tuple(pw.kernel_size)}, groups={pw.groups})",
        )
    if dw.bias is not None or pw.bias is not None:
        raise _fail(
            exercise,
            "bias-not-disabled",
            "both convolutions use bias=False (BatchNorm usually follows each one, and the ratio counts weights only)",
            where,
            visible,
        )
    if tuple(dw.stride) != (1, 1) or tuple(pw.stride) != (1, 1) or tuple(dw.dilation) != (1, 1):
        raise _fail(exercise, dx.WRONG_VALUE, "use stride 1 and no dilation", where, visible)
    device = dw.weight.device
    x = torch.randn(2, cin, k + 3, k + 5, generator=torch.Generator().manual_seed(cin * 31 + cout)).to(device)
    try:
        with torch.no_grad():
            y = module(x)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exercise, dx.RAISED, f"the module raised {type(exc).__name__}: {exc}", where, visible) from None
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (2, cout, k + 3, k + 5):
        raise _fail(
            exercise,
            "same-padding-missing",
            "pad the depthwise convolution by kernel_size // 2 so the output keeps the input's height and width",
            where,
            visible,
            f"input (2, {cin}, {k + 3}, {k + 5}) gave {describe_value(y)}"
            + (f" of shape {tuple(y.shape)}" if isinstance(y, torch.Tensor) else ""),
        )
    with torch.no_grad():
        want = pristine.conv2d(pristine.conv2d(x, dw.weight, None, 1, k // 2, 1, cin), pw.weight)
    if not pristine.allclose(y, want, rtol=1e-4, atol=1e-4):
        raise _fail(
            exercise,
            "extra-layers",
            "the module's forward must be exactly pointwise(depthwise(x)), with nothing in between",
            where,
            visible,
        )
    expected = separable_ratio_reference(cin, cout, k)
    if difference(ratio, expected, Tolerance(1e-6, 1e-9)) is None:
        return
    found = dx.find_misconception(
        case,
        ratio,
        expected,
        RATIO_MISCONCEPTIONS,
        lambda a, b: difference(a, b, Tolerance(1e-6, 1e-9)) is None,
    )
    tag, hint = (found.tag, found.hint) if found else (dx.WRONG_VALUE, "wrong cost ratio")
    raise _fail(exercise, tag, hint, where, visible, f"ratio: expected {expected:.6g}, got {describe_value(ratio)}")


def _separable_visible() -> list[Case]:
    return [
        Case((32, 64, 3), note="MobileNet-style: 3x3, 32 -> 64 channels"),
        Case((3, 8, 5), note="a 5x5 kernel"),
        Case((16, 16, 1), note="a 1x1 'kernel': the depthwise part is a per-channel scale"),
    ]


register(
    Exercise(
        name="depthwise_separable",
        notebook=NOTEBOOK,
        reference=depthwise_separable_reference,
        visible=_separable_visible,
        misconceptions=RATIO_MISCONCEPTIONS,
        verify=_verify_separable,
    )
)


def depthwise_separable_case(r: RandomInputs) -> Case:
    """Random channels and an odd kernel size."""
    rng = r.rng
    return Case((rng.randint(1, 48), rng.randint(1, 96), rng.choice([1, 3, 3, 5, 7])))


__all__ = [
    "COUNT_MACS_MISCONCEPTIONS",
    "COUNT_MISCONCEPTIONS",
    "MACS_MISCONCEPTIONS",
    "PARAM_MISCONCEPTIONS",
    "RATIO_MISCONCEPTIONS",
    "conv2d_macs_case",
    "conv2d_param_count_case",
    "count_macs_case",
    "count_parameters_case",
    "depthwise_separable_case",
    "random_counting_model",
    "separable_ratio_reference",
]
