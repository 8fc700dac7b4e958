"""Notebook 02, receptive fields: the recurrence, the autograd mask, and stacking costs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn as nn

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import receptive_field as checks
from cnnlab.comparing import EXACT, difference
from cnnlab.diagnosis import CheckFailed, Misconception
from cnnlab.probes import Probe, probes_in
from cnnlab.receptive import (
    ReceptiveField,
    describe_layers,
    field_box,
    flatten_layers,
    geometries,
    layer_geometry,
    reachable_mask,
)

# ----------------------------------------------------------------------- the answer key
# How often the reference recurrence has run: a check compares it before and after a student's
# call, to tell a student's own recurrence from a call into this one.
REFERENCE_CALLS = [0]


def receptive_field_reference(layers: nn.Module | Iterable[nn.Module]) -> ReceptiveField:
    """Size, jump and start of the receptive field of a stack of layers (the standard recurrence)."""
    REFERENCE_CALLS[0] += 1
    size, jump, start = [1, 1], [1, 1], [0, 0]
    for g in geometries(layers):
        for a in range(2):
            k_eff = g.dilation[a] * (g.kernel[a] - 1) + 1
            size[a] += (k_eff - 1) * jump[a]
            start[a] -= g.padding[a] * jump[a]
            jump[a] *= g.stride[a]
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))


def output_length(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    """Output length of a conv or pooling layer along one axis (PyTorch's rule, ``ceil_mode`` included)."""
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(f"a window of {span} pixels does not fit in {n} + 2*{p} pixels")
    if not ceil_mode:
        return (n + 2 * p - span) // s + 1
    out = -(-(n + 2 * p - span) // s) + 1
    if (out - 1) * s >= n + p:  # the last window would start in the right padding
        out -= 1
    return out


# --------------------------------------------------------------------- receptive_field
def _rf_variant(
    *,
    jump: str = "cumulative",
    span: str = "dilated",
    padding_grows: bool = False,
    start: str = "scaled",
    pooling: bool = True,
    nested: bool = True,
) -> Callable[..., Any]:
    """The recurrence with one knob turned wrong, as a student might write it."""

    def k_eff(k: int, d: int) -> int:
        return {"dilated": d * (k - 1) + 1, "plain": k, "d-times-k": d * k, "gaps": (d + 1) * (k - 1) + 1}[span]

    def variant(layers):  # noqa: ANN001, ANN202
        mods = (
            flatten_layers(layers)
            if nested
            else (list(layers.children()) if isinstance(layers, nn.Sequential) else list(layers))
        )
        size, j, st = [1, 1], [1, 1], [0, 0]
        for m in mods:
            g = layer_geometry(m)
            if g is None or (not pooling and not isinstance(m, nn.Conv2d)):
                continue
            for a in range(2):
                k, s, p, d = g.kernel[a], g.stride[a], g.padding[a], g.dilation[a]
                j_in = j[a]
                j_out = {"cumulative": j_in * s, "last": s, "none": 1, "after": j_in * s}[jump]
                grow_by = {"cumulative": j_in, "last": j_in, "none": 1, "after": j_out}[jump]
                size[a] += (k_eff(k, d) - 1 + (2 * p if padding_grows else 0)) * grow_by
                st[a] -= {"scaled": p * j_in, "ignored": 0, "unscaled": p}[start]
                j[a] = j_out
        return ReceptiveField(tuple(size), tuple(j), tuple(st))

    return variant


RF_MISCONCEPTIONS = (
    Misconception("not-per-axis", checks.NOT_PER_AXIS_HINT, detect=checks.not_per_axis),
    Misconception(
        "jump-not-multiplied",
        "the jump is the product of ALL strides so far (j_out = j_in*s), not just this layer's stride",
        variant=_rf_variant(jump="last"),
    ),
    Misconception(
        "stride-ignored",
        "strides were ignored: after a stride-s layer, one step in its output "
        "is s steps in its input, so later kernels grow the field by (k_eff-1)*j_in",
        variant=_rf_variant(jump="none"),
    ),
    Misconception(
        "jump-after-layer",
        "the field grows by (k_eff-1) times the jump of the layer's INPUT (j_in), not the jump after its own stride",
        variant=_rf_variant(jump="after"),
    ),
    Misconception(
        "dilation-ignored",
        "dilation was ignored: a dilated kernel spans k_eff = d*(k-1)+1 pixels",
        variant=_rf_variant(span="plain"),
    ),
    Misconception(
        "dilation-times-k",
        "a dilated kernel spans d*(k-1)+1 pixels, not d*k",
        variant=_rf_variant(span="d-times-k"),
    ),
    Misconception(
        "dilation-counts-gaps",
        "dilation d puts d-1 gaps between taps (d=1 is an ordinary kernel), so k_eff = d*(k-1)+1, not (d+1)*(k-1)+1",
        variant=_rf_variant(span="gaps"),
    ),
    Misconception(
        "padding-grows-field",
        "padding does not enlarge the receptive field: it adds no input pixels, it only moves where the field starts",
        variant=_rf_variant(padding_grows=True),
    ),
    Misconception(
        "start-ignores-padding",
        "the start moves by -p*j_in at every layer with padding p: "
        "output pixel 0's window begins p pixels before the layer's input",
        variant=_rf_variant(start="ignored"),
    ),
    Misconception(
        "padding-not-scaled",
        "padding is counted in the layer's input pixels, which are j_in "
        "image pixels apart: start_out = start_in - p*j_in",
        variant=_rf_variant(start="unscaled"),
    ),
    Misconception("start-is-center", checks.START_IS_CENTER_HINT, detect=checks.start_is_center),
    Misconception(
        "pooling-ignored",
        "pooling layers have a kernel and a stride too: they grow the field and multiply the jump like a convolution",
        variant=_rf_variant(pooling=False),
    ),
    Misconception(
        "nested-not-walked",
        "a nested nn.Sequential is a block of layers: open it up and walk its layers in order",
        variant=_rf_variant(nested=False),
    ),
)


def _verify_rf(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    """Compare with the recurrence; a failure names the quantity (size, jump or start) that is wrong."""
    calls = REFERENCE_CALLS[0]
    got = exercise.call_student(fn, case, visible=visible)
    if REFERENCE_CALLS[0] != calls:
        raise CheckFailed(
            exercise.name,
            dx.USED_BUILTIN,
            "calls the course library's own recurrence; this exercise asks you to write it yourself",
            f"on {case.describe(exercise.name)}",
            visible=visible,
        )
    expected = case.call(exercise.reference)

    def diagnose() -> tuple[str, str] | None:
        found = dx.find_misconception(
            case, got, expected, RF_MISCONCEPTIONS, lambda a, b: difference(a, b, EXACT) is None
        )
        return None if found is None else (found.tag, found.hint)

    checks.judge_field(exercise.name, case, got, expected, diagnose, visible=visible)


register(
    Exercise.from_spec(
        checks.RECEPTIVE_FIELD, receptive_field_reference, misconceptions=RF_MISCONCEPTIONS, verify=_verify_rf
    )
)


def random_stack(
    r: RandomInputs,
    *,
    max_layers: int = 6,
    pooling: tuple[str, ...] = ("max", "avg"),
    pointwise: tuple[type, ...] = (nn.ReLU, nn.BatchNorm2d, nn.Identity, nn.Dropout),
    nest: bool = True,
    size: tuple[int, int] | None = None,
    channels: int = 1,
    device: str | None = None,
) -> list[nn.Module]:
    """A random stack of Conv2d / pooling / pixel-wise layers (per-axis settings; some nesting).

    With ``size`` given, every layer keeps at least one output pixel on that input size. ``device``
    is where the convolutions and BatchNorms are built ("meta" when only the geometry matters).
    """
    rng = r.rng
    layers: list[nn.Module] = []
    hw = list(size) if size is not None else None
    for _ in range(rng.randint(1, max_layers)):
        kind = rng.choice(["conv", "conv", "conv"] + (["pool"] if pooling else []) + ["pointwise"])
        if kind == "pointwise":
            cls = rng.choice(pointwise)
            layers.append(cls(channels, device=device) if cls is nn.BatchNorm2d else cls())
            continue
        per_axis = rng.random() < 0.3
        pick = (
            (lambda lo, hi: (rng.randint(lo, hi), rng.randint(lo, hi)))
            if per_axis
            else (lambda lo, hi: (lambda v: (v, v))(rng.randint(lo, hi)))
        )
        if kind == "conv":
            k, s, d = pick(1, 5), pick(1, 3), pick(1, 3)
            p = tuple(rng.randint(0, k[a] // 2 * d[a] + 1) for a in range(2))
            layer = nn.Conv2d(channels, channels, k, stride=s, padding=p, dilation=d, device=device)
        else:
            mode = rng.choice(pooling)
            k, s = pick(1, 4), pick(1, 3)
            p = tuple(rng.randint(0, k[a] // 2) for a in range(2))
            d = pick(1, 2) if mode == "max" else (1, 1)
            layer = nn.MaxPool2d(k, s, p, dilation=d) if mode == "max" else nn.AvgPool2d(k, s, p)
        if hw is not None:
            try:
                hw = [output_length(hw[a], k[a], s[a], p[a], d[a]) for a in range(2)]
            except ValueError:
                break
        layers.append(layer)
    if nest and len(layers) >= 3 and rng.random() < 0.4:
        i = rng.randint(0, len(layers) - 2)
        layers[i : i + 2] = [nn.Sequential(*layers[i : i + 2])]
    return layers


def receptive_field_case(r: RandomInputs) -> Case:
    """A random ``receptive_field`` question: a list or a Sequential of random layers.

    The layers live on the meta device: only their geometry matters, and building them is instant.
    """
    layers = random_stack(r, device="meta")
    note = describe_layers(layers)
    return Case((nn.Sequential(*layers) if r.rng.random() < 0.5 else layers,), note=note)


# ------------------------------------------------------------ gradient_receptive_field
def gradient_mask_reference(model: nn.Module, input_shape: Sequence[int], out_index: tuple[int, int]) -> torch.Tensor:
    """The exact analytic mask on the model's device (what autograd finds for the course's test models)."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    return reachable_mask(model, input_shape, tuple(out_index), device=device)


def _autograd_mask(
    model: nn.Module,
    input_shape: Sequence[int],
    out_index: tuple[int, int],
    *,
    train: bool = False,
    everything: bool = False,
) -> torch.Tensor:
    model.train(train)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = torch.ones(tuple(input_shape), device=device, requires_grad=True)
    out = model(x)
    target = out.sum() if everything else out[0, :, out_index[0], out_index[1]].sum()
    (grad,) = torch.autograd.grad(target, x)
    return grad.abs().sum(dim=(0, 1)) > 0


def _swapped(model, input_shape, out_index):  # noqa: ANN001, ANN202
    return gradient_mask_reference(model, input_shape, (out_index[1], out_index[0]))


def _box(model, input_shape, out_index):  # noqa: ANN001, ANN202
    h, w = int(input_shape[-2]), int(input_shape[-1])
    (r0, c0), (r1, c1) = field_box(receptive_field_reference(model), out_index, (h, w))
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[r0 : r1 + 1, c0 : c1 + 1] = True
    return mask.to(next((p.device for p in model.parameters()), torch.device("cpu")))


def _has_train_mode_layers(model: nn.Module) -> bool:
    return any(m.training and isinstance(m, (nn.BatchNorm2d, nn.Dropout, nn.Dropout2d)) for m in model.modules())


def _dropout_holes(case: Case, got: Any, expected: torch.Tensor) -> bool:
    """A mask with pixels missing, from a model whose Dropout was left in training mode."""
    model = case.args[0]
    if not (isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == torch.bool):
        return False
    if not any(m.training and isinstance(m, (nn.Dropout, nn.Dropout2d)) for m in model.modules()):
        return False
    got = got.to(expected.device)
    return bool((got & ~expected).sum() == 0) and not bool(pristine.equal(got, expected))


TRAIN_MODE_HINT = (
    "call model.eval() first: in training mode BatchNorm mixes every pixel into its batch "
    "statistics, and Dropout zeroes random activations"
)

GRAD_MISCONCEPTIONS = (
    Misconception("mask-not-reduced", checks.NOT_REDUCED_HINT, detect=checks.not_reduced),
    Misconception("returned-gradient", checks.RETURNED_GRADIENT_HINT, detect=checks.returned_gradient),
    Misconception("train-mode", TRAIN_MODE_HINT, variant=lambda m, s, i: _autograd_mask(m, s, i, train=True)),
    Misconception("train-mode", TRAIN_MODE_HINT, detect=_dropout_holes),
    Misconception(
        "summed-all-outputs",
        "backpropagate from ONE output pixel, out[0, :, i, j].sum(); out.sum() gives the union of every pixel's field",
        variant=lambda m, s, i: _autograd_mask(m, s, i, everything=True),
    ),
    Misconception(
        "index-swapped", "out_index is (row, column): out[0, :, out_index[0], out_index[1]]", variant=_swapped
    ),
    Misconception(
        "box-not-mask",
        "return the pixels whose gradient is non-zero, not the bounding box of "
        "the field: with dilation the field has holes",
        variant=_box,
    ),
)


def _spy(fn: Callable[..., Any], seen: list) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[0] if args else kwargs.get("model"))
        return fn(*args, **kwargs)

    return spy


def _verify_gradient_mask(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    seen: list = []
    got = exercise.call_student(_spy(fn, seen), case, visible=visible)
    model = seen[0] if seen else None
    probes = probes_in(model) if isinstance(model, nn.Module) else []
    where = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")
    if any(p.reference_calls for p in probes):
        raise CheckFailed(
            exercise.name,
            dx.USED_BUILTIN,
            "called the course library's own mask; this exercise asks you to find the mask with autograd yourself",
            where,
            visible=visible,
        )
    if probes and not any(p.grad_calls for p in probes):
        raise CheckFailed(
            exercise.name,
            "no-autograd",
            "the mask must come from autograd: run the model on "
            "an input with requires_grad=True and backpropagate from the chosen output pixel",
            where,
            visible=visible,
        )
    expected = case.call(exercise.reference)
    exercise.judge(case, got, expected, visible=visible)


register(
    Exercise.from_spec(
        checks.GRADIENT_RECEPTIVE_FIELD,
        gradient_mask_reference,
        misconceptions=GRAD_MISCONCEPTIONS,
        verify=_verify_gradient_mask,
    )
)


def gradient_receptive_field_case(r: RandomInputs, *, border: bool | None = None) -> Case:
    """A random stack with positive weights (no max-pooling) on the grading device, with a probe inside.

    ``border=True`` picks a corner output pixel, where padding cuts the field off.
    """
    rng = r.rng
    channels = rng.randint(1, 3)
    h, w = rng.randint(6, 24), rng.randint(6, 24)
    layers = random_stack(
        r,
        max_layers=5,
        pooling=("avg",),
        size=(h, w),
        channels=channels,
        nest=False,
        pointwise=(nn.ReLU, nn.BatchNorm2d, nn.Identity, nn.Dropout),
    )
    if not any(isinstance(m, nn.Conv2d) for m in layers):  # the model has at least one parameter
        layers.insert(rng.randint(0, len(layers)), nn.Conv2d(channels, channels, 1))
    layers.insert(rng.randint(0, len(layers)), Probe())
    sizes = [h, w]
    for m in layers:
        g = layer_geometry(m)
        if g is not None:
            sizes = [output_length(sizes[a], g.kernel[a], g.stride[a], g.padding[a], g.dilation[a]) for a in range(2)]
    corner = border if border is not None else rng.random() < 0.4
    if corner:
        index = (rng.choice([0, sizes[0] - 1]), rng.choice([0, sizes[1] - 1]))
    else:
        index = (rng.randrange(sizes[0]), rng.randrange(sizes[1]))
    return checks.grad_case(layers, (rng.randint(1, 2), channels, h, w), index, rng.randrange(2**31), device=r.device)


# ----------------------------------------------------------------------- stacking_costs
def stacking_costs_reference(channels: int, dilations: Sequence[int] = (1, 2, 4)) -> dict[str, int]:
    """Parameters (no bias) and receptive fields of the stacks notebook 02 compares."""
    c2 = channels * channels
    rf_dilated = 1 + sum(2 * d for d in dilations)
    return {
        "params_5x5": 25 * c2,
        "rf_5x5": 5,
        "params_two_3x3": 2 * 9 * c2,
        "rf_two_3x3": 5,
        "params_dilated": 9 * c2 * len(dilations),
        "rf_dilated": rf_dilated,
        "params_dense_same_rf": rf_dilated * rf_dilated * c2,
    }


def _costs_variant(
    *,
    bias: bool = False,
    rf_adds_k: bool = False,
    dilation_params: bool = False,
    gaps: bool = False,
    channels_once: bool = False,
) -> Callable[..., dict[str, int]]:
    def variant(channels, dilations=(1, 2, 4)):  # noqa: ANN001, ANN202
        c2 = channels if channels_once else channels * channels
        b = channels if bias else 0
        if rf_adds_k:
            rf_two, rf_dilated = 6, sum(2 * d + 1 for d in dilations)
        else:
            rf_two, rf_dilated = 5, 1 + sum(2 * (d + 1 if gaps else d) for d in dilations)
        params_dilated = (
            sum((2 * d + 1) ** 2 * c2 + b for d in dilations) if dilation_params else (9 * c2 + b) * len(dilations)
        )
        return {
            "params_5x5": 25 * c2 + b,
            "rf_5x5": 5,
            "params_two_3x3": 2 * (9 * c2 + b),
            "rf_two_3x3": rf_two,
            "params_dilated": params_dilated,
            "rf_dilated": rf_dilated,
            "params_dense_same_rf": rf_dilated * rf_dilated * c2 + b,
        }

    return variant


COSTS_MISCONCEPTIONS = (
    Misconception(
        "bias-counted",
        "the stacks here have bias=False: count only the C*C*k*k weights",
        variant=_costs_variant(bias=True),
    ),
    Misconception(
        "channels-not-squared",
        "each of the C output channels has a kernel over all C input channels: C*C*k*k weights, not C*k*k",
        variant=_costs_variant(channels_once=True),
    ),
    Misconception(
        "rf-adds-kernel-sizes",
        "stacking adds k_eff-1 per layer (stride 1), not k: two 3x3 convolutions see 3 + 2 = 5 pixels",
        variant=_costs_variant(rf_adds_k=True),
    ),
    Misconception(
        "dilation-adds-params",
        "dilation spreads the same 3x3 taps further apart: a dilated 3x3 kernel still has 9 weights per channel pair",
        variant=_costs_variant(dilation_params=True),
    ),
    Misconception(
        "dilation-counts-gaps",
        "dilation d spans d*(k-1)+1 pixels (d=1 is an ordinary kernel), "
        "so a 3x3 kernel with dilation d adds 2d to the field",
        variant=_costs_variant(gaps=True),
    ),
)


def _verify_costs(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    got = exercise.call_student(fn, case, visible=visible)
    expected = case.call(exercise.reference)

    def diagnose() -> tuple[str, str] | None:
        found = dx.find_misconception(
            case,
            got,
            expected,
            COSTS_MISCONCEPTIONS,
            lambda a, b: all(difference(a.get(k), b[k], EXACT) is None for k in b),
        )
        return None if found is None else (found.tag, found.hint)

    checks.judge_costs(exercise.name, case, got, expected, diagnose, visible=visible)


register(
    Exercise.from_spec(
        checks.STACKING_COSTS, stacking_costs_reference, misconceptions=COSTS_MISCONCEPTIONS, verify=_verify_costs
    )
)


def stacking_costs_case(r: RandomInputs) -> Case:
    """Random channels and a random tuple of dilations."""
    rng = r.rng
    dilations = tuple(rng.randint(1, 8) for _ in range(rng.randint(1, 5)))
    return Case((rng.randint(1, 512), dilations))


__all__ = [
    "GRAD_MISCONCEPTIONS",
    "RF_MISCONCEPTIONS",
    "COSTS_MISCONCEPTIONS",
    "gradient_receptive_field_case",
    "random_stack",
    "receptive_field_case",
    "stacking_costs_case",
    "stacking_costs_reference",
    "gradient_mask_reference",
    "output_length",
    "receptive_field_reference",
]
