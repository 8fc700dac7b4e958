"""Notebook 03, parameters, FLOPs and MACs: formulas, whole-model counts, separable convolutions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode as _FlopCounterMode

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import params_flops as checks
from cnnlab.comparing import describe_value, difference
from cnnlab.counting import zero_input
from cnnlab.diagnosis import CheckFailed, Misconception
from cnnlab.models import SeedMNISTNet
from cnnlab.probes import Probe, probes_in, reference_running

COUNTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _is_float(case: Case, got: Any, expected: Any) -> bool:
    return isinstance(got, float)


# ----------------------------------------------------------------------------- references
def flop_counter_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass as ``FlopCounterMode`` counts them (marked as the course's reference)."""
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
    kh, kw = _pair(kernel_size)
    oh, ow = _pair(output_size)
    x = torch.empty(1, in_channels, oh + kh - 1, ow + kw - 1, device="meta")
    w = torch.empty(out_channels, in_channels // groups, kh, kw, device="meta")
    with reference_running(), _FlopCounterMode(display=False) as counter:
        pristine.conv2d(x, w, groups=groups)
    return int(counter.get_total_flops()) // 2


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
    Misconception("float-count", checks.FLOAT_COUNT_HINT, detect=_is_float),
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


register(Exercise.from_spec(checks.PARAM_COUNT, conv2d_param_count_reference, misconceptions=PARAM_MISCONCEPTIONS))


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
    Misconception("float-count", checks.FLOAT_COUNT_HINT, detect=_is_float),
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


register(Exercise.from_spec(checks.CONV2D_MACS, conv2d_macs_reference, misconceptions=MACS_MISCONCEPTIONS))


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


register(
    Exercise.from_spec(checks.COUNT_PARAMETERS, count_parameters_reference, misconceptions=COUNT_MISCONCEPTIONS)
)


# ---------------------------------------------------------------------------- count_macs
def _flops_detect(case: Case, got: Any, expected: Any) -> bool:
    return isinstance(got, int) and expected > 0 and got == 2 * expected


def _per_image(model, input_shape):  # noqa: ANN001, ANN202
    return macs_reference(model, (1, *tuple(input_shape)[1:]))


COUNT_MACS_MISCONCEPTIONS = (
    Misconception("float-count", checks.FLOAT_COUNT_HINT, detect=_is_float),
    Misconception("flops-not-macs", checks.FLOPS_NOT_MACS_HINT, detect=_flops_detect),
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
                checks.FLOP_COUNTER_HINT,
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
                checks.HOOKS_LEFT_HINT,
                f"{where}\nhooks still on: {left or 'global'}",
                visible=visible,
            )
    expected = case.call(exercise.reference)
    exercise.judge(case, got, expected, visible=visible)


register(
    Exercise.from_spec(
        checks.COUNT_MACS, macs_reference, misconceptions=COUNT_MACS_MISCONCEPTIONS, verify=_verify_count_macs
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
            checks.SEPARABLE_HINTS["pair"],
            where,
            visible,
            f"got {describe_value(got)}",
        )
    module, ratio = got
    if not isinstance(module, nn.Module):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            checks.SEPARABLE_HINTS["module"],
            where,
            visible,
            f"got {describe_value(module)}",
        )
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise _fail(
            exercise,
            "not-two-convs",
            checks.SEPARABLE_HINTS["not-two-convs"],
            where,
            visible,
            f"found {len(convs)} Conv2d layers",
        )
    dw, pw = convs
    if tuple(dw.kernel_size) == (1, 1) and tuple(pw.kernel_size) != (1, 1):
        raise _fail(
            exercise,
            "pointwise-first",
            checks.SEPARABLE_HINTS["pointwise-first"],
            where,
            visible,
        )
    if dw.groups != cin or dw.in_channels != cin or dw.out_channels != cin:
        raise _fail(
            exercise,
            "depthwise-groups-missing",
            checks.SEPARABLE_HINTS["depthwise-groups-missing"],
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
            checks.SEPARABLE_HINTS["pointwise-not-1x1"],
            where,
            visible,
            f"got Conv2d({pw.in_channels}, {pw.out_channels}, {tuple(pw.kernel_size)}, groups={pw.groups})",
        )
    if dw.bias is not None or pw.bias is not None:
        raise _fail(
            exercise,
            "bias-not-disabled",
            checks.SEPARABLE_HINTS["bias-not-disabled"],
            where,
            visible,
        )
    if tuple(dw.stride) != (1, 1) or tuple(pw.stride) != (1, 1) or tuple(dw.dilation) != (1, 1):
        raise _fail(exercise, dx.WRONG_VALUE, checks.SEPARABLE_HINTS["stride"], where, visible)
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
            checks.SEPARABLE_HINTS["same-padding-missing"],
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
            checks.SEPARABLE_HINTS["extra-layers"],
            where,
            visible,
        )
    expected = separable_ratio_reference(cin, cout, k)
    if difference(ratio, expected, checks.RATIO_TOLERANCE) is None:
        return
    found = dx.find_misconception(
        case,
        ratio,
        expected,
        RATIO_MISCONCEPTIONS,
        lambda a, b: difference(a, b, checks.RATIO_TOLERANCE) is None,
    )
    tag, hint = (found.tag, found.hint) if found else (dx.WRONG_VALUE, checks.SEPARABLE_HINTS["ratio"])
    raise _fail(exercise, tag, hint, where, visible, f"ratio: expected {expected:.6g}, got {describe_value(ratio)}")


def _with_reference_module(ratio_variant: Callable[..., float]) -> Callable[..., tuple[nn.Module, float]]:
    """A ratio mistake as a whole answer: the right module with that wrong ratio (recorded at release)."""

    def variant(in_channels: int, out_channels: int, kernel_size: int) -> tuple[nn.Module, float]:
        module, _ = depthwise_separable_reference(in_channels, out_channels, kernel_size)
        return module, ratio_variant(in_channels, out_channels, kernel_size)

    return variant


# The verifier diagnoses the ratio alone (RATIO_MISCONCEPTIONS); the exercise's misconceptions are
# whole answers, so that release can record what the visible check compares a ratio with.
SEPARABLE_MISCONCEPTIONS = tuple(
    Misconception(m.tag, m.hint, variant=_with_reference_module(m.variant)) for m in RATIO_MISCONCEPTIONS
)

register(
    Exercise.from_spec(
        checks.DEPTHWISE_SEPARABLE,
        depthwise_separable_reference,
        misconceptions=SEPARABLE_MISCONCEPTIONS,
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
    "SEPARABLE_MISCONCEPTIONS",
    "conv2d_macs_case",
    "conv2d_macs_reference",
    "conv2d_param_count_case",
    "conv2d_param_count_reference",
    "count_macs_case",
    "count_parameters_case",
    "count_parameters_reference",
    "depthwise_separable_case",
    "depthwise_separable_reference",
    "flop_counter_flops",
    "layer_macs",
    "macs_by_hooks",
    "macs_reference",
    "random_counting_model",
    "separable_ratio_reference",
]
