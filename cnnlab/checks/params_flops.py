"""Notebook 03, parameters, FLOPs and MACs: the visible cases of its five exercises.

``count_macs`` and ``depthwise_separable`` are property exercises: their observations report
what the student's code did (the count, hooks left behind, ``FlopCounterMode`` seen during the
forward pass; the module's layers, its forward pass, the ratio), and their judges check the
contract in the order the grader's hidden verifiers do, with the same tags. Every number they
compare with (the MAC count, the ratio) comes from the results recorded at release.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case
from cnnlab.checks.calling import mismatch, recorded_variant, where
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import EXACT, Tolerance, describe_value
from cnnlab.models import SeedMNISTNet
from cnnlab.probes import flop_counter_active, reference_is_running
from cnnlab.sources import cite

NOTEBOOK = "03_params_flops"

# Hints shared with the grader's hidden checks (autograder.exercises.params_flops).
FLOAT_COUNT_HINT = "a count is a whole number: use // (integer division), not /"
FLOPS_NOT_MACS_HINT = "that is FlopCounterMode's FLOP count: one MAC is one multiply AND its add, so MACs = FLOPs / 2"
FLOP_COUNTER_HINT = (
    "uses torch.utils.flop_counter.FlopCounterMode; this exercise asks you to count with your own forward hooks"
)
HOOKS_LEFT_HINT = (
    "remove every hook after the forward pass (handle.remove(), e.g. in a finally: block); "
    "a leftover hook keeps counting in every later forward pass"
)
SEPARABLE_HINTS = {
    "pair": "return a pair (module, ratio)",
    "module": "the first item must be an nn.Module",
    "not-two-convs": "the module holds exactly two nn.Conv2d layers: a depthwise "
    "k x k convolution, then a pointwise 1x1 convolution",
    "pointwise-first": "the depthwise k x k convolution comes first, then the 1x1 pointwise one",
    "depthwise-groups-missing": "the depthwise convolution maps C_in channels to "
    "C_in channels with groups=C_in: one k x k filter per channel",
    "pointwise-not-1x1": "the pointwise convolution is an ordinary 1x1 Conv2d from C_in to C_out channels (groups=1)",
    "bias-not-disabled": "both convolutions use bias=False (BatchNorm usually follows each one, "
    "and the ratio counts weights only)",
    "stride": "use stride 1 and no dilation",
    "same-padding-missing": "pad the depthwise convolution by kernel_size // 2 so the output keeps "
    "the input's height and width",
    "extra-layers": "the module's forward must be exactly pointwise(depthwise(x)), with nothing in between",
    "ratio": "wrong cost ratio",
}
RATIO_TOLERANCE = Tolerance(1e-6, 1e-9)




def _seeded(seed: int, build: Callable[[], list[Case]]) -> list[Case]:
    """Cases whose modules are initialised the same way every time (release records them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _count_judge(*, flops_detect: bool = False) -> Callable[[VisibleSpec, Case, Any, dict], None]:
    """Compare a count with the recorded one; a float, or (with ``flops_detect``) twice the count, is named."""

    def judge(spec: VisibleSpec, case: Case, got: Any, record: dict) -> None:
        judge_count(spec, case, got, record["expected"], record.get("variants", ()), flops_detect=flops_detect)

    return judge


def judge_count(spec: VisibleSpec, case: Case, got: Any, expected: Any, variants: Sequence[dict], *,
                flops_detect: bool = False) -> None:
    """``got`` against the recorded ``expected`` count, diagnosed as the grader's hidden tests do."""

    def diagnose() -> tuple[str, str] | None:
        if isinstance(got, float):
            return "float-count", FLOAT_COUNT_HINT
        if flops_detect and isinstance(got, int) and expected > 0 and got == 2 * expected:
            return "flops-not-macs", FLOPS_NOT_MACS_HINT
        return recorded_variant(got, variants, spec.tolerance)

    mismatch(spec.name, case, got, expected, spec.tolerance, diagnose)


# ------------------------------------------------------------------- conv2d_param_count
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


# --------------------------------------------------------------------------- conv2d_macs
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


# ----------------------------------------------------------------------- count_parameters
def _frozen(model: nn.Module, *names: str) -> nn.Module:
    for name in names:
        model.get_submodule(name).requires_grad_(False)
    return model


def _count_visible() -> list[Case]:
    def build() -> list[Case]:
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

    return _seeded(3, build)


# ---------------------------------------------------------------------------- count_macs
def resnet_stem() -> nn.Module:
    """A ResNet stem: 7x7 convolution with stride 2, BatchNorm, ReLU, 3x3 max pool with stride 2."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
    )


def _count_macs_visible() -> list[Case]:
    def build() -> list[Case]:
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
            Case((resnet_stem().to("meta"), (1, 3, 224, 224)),
                 note="a ResNet stem on the meta device (create the input on the model's device): "
                      "BatchNorm and pooling cost nothing"),
        ]

    return _seeded(4, build)


def _hooked_modules(model: nn.Module) -> list[str]:
    left = [name or type(model).__name__ for name, m in model.named_modules()
            if m._forward_hooks or m._forward_pre_hooks]
    mod = torch.nn.modules.module
    if mod._global_forward_hooks or mod._global_forward_pre_hooks:
        left.append("global")
    return left


def observe_count_macs(fn: Callable[..., Any], case: Case) -> dict[str, Any]:
    """The count, the hooks still on the model afterwards, and whether FlopCounterMode watched its forward pass."""
    model = case.args[0]
    seen_counter: list[bool] = []

    def sentinel(module: nn.Module, inputs: tuple, output: Any) -> None:
        # the grader's reference counts with FlopCounterMode and says so (reference_running)
        seen_counter.append(flop_counter_active() and not reference_is_running())

    handle = model.register_forward_hook(sentinel) if isinstance(model, nn.Module) else None
    try:
        got = fn(*case.args, **case.kwargs)
    finally:
        if handle is not None:
            handle.remove()
    return {
        "macs": got,
        "hooks_left": _hooked_modules(model) if isinstance(model, nn.Module) else [],
        "flop_counter": any(seen_counter),
    }


def _judge_count_macs(spec: VisibleSpec, case: Case, obs: dict, record: dict) -> None:
    at = where(spec.name, case)
    if obs["flop_counter"]:
        raise dx.CheckFailed(spec.name, dx.USED_BUILTIN, FLOP_COUNTER_HINT, at)
    if obs["hooks_left"]:
        raise dx.CheckFailed(spec.name, "hooks-left-behind", HOOKS_LEFT_HINT,
                             f"{at}\nhooks still on: {obs['hooks_left']}")
    variants = [{**v, "value": v["value"]["macs"]} for v in record.get("variants", ())]
    judge_count(spec, case, obs["macs"], record["expected"]["macs"], variants, flops_detect=True)


# ---------------------------------------------------------------------- depthwise_separable
def _separable_visible() -> list[Case]:
    return [
        Case((32, 64, 3), note="MobileNet-style: 3x3, 32 -> 64 channels"),
        Case((3, 8, 5), note="a 5x5 kernel"),
        Case((16, 16, 1), note="a 1x1 'kernel': the depthwise part is a per-channel scale"),
    ]


def _conv_facts(conv: nn.Conv2d) -> dict[str, Any]:
    return {
        "in": conv.in_channels,
        "out": conv.out_channels,
        "kernel": tuple(conv.kernel_size),
        "groups": conv.groups,
        "stride": tuple(conv.stride),
        "dilation": tuple(conv.dilation),
        "bias": conv.bias is not None,
    }


def observe_separable(fn: Callable[..., Any], case: Case) -> dict[str, Any]:
    """What the student's pair is: its two convolutions, what its forward pass does, and the ratio.

    The module runs on a fixed input ``(2, C_in, k + 3, k + 5)``; ``composed`` says whether its output
    is its own pointwise layer applied to its own depthwise layer's output (nothing else in between).
    """
    cin, cout, k = case.args
    got = fn(*case.args, **case.kwargs)
    obs: dict[str, Any] = {"returned": "pair", "got": "", "convs": [], "output_shape": None,
                           "forward_error": None, "composed": None, "ratio": None}
    if not (isinstance(got, tuple) and len(got) == 2):
        return {**obs, "returned": "not-a-pair", "got": describe_value(got)}
    module, ratio = got
    obs["ratio"] = ratio
    if not isinstance(module, nn.Module):
        return {**obs, "returned": "not-a-module", "got": describe_value(module)}
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    obs["convs"] = [_conv_facts(c) for c in convs]
    device = convs[0].weight.device if convs else torch.device("cpu")
    x = torch.randn(2, cin, k + 3, k + 5, generator=torch.Generator().manual_seed(cin * 31 + cout)).to(device)
    try:
        with torch.no_grad():
            y = module(x)
    except Exception as exc:  # noqa: BLE001
        return {**obs, "forward_error": f"{type(exc).__name__}: {exc}"}
    if not isinstance(y, torch.Tensor):
        return {**obs, "got": describe_value(y)}
    obs["output_shape"] = tuple(y.shape)
    if len(convs) == 2:
        dw, pw = convs
        try:
            with torch.no_grad():
                want = pristine.conv2d(pristine.conv2d(x, dw.weight, None, 1, k // 2, 1, cin), pw.weight)
            obs["composed"] = bool(want.shape == y.shape and pristine.allclose(y, want, rtol=1e-4, atol=1e-4))
        except Exception:  # noqa: BLE001
            obs["composed"] = False
    return obs


def _judge_separable(spec: VisibleSpec, case: Case, obs: dict, record: dict) -> None:
    cin, cout, k = case.args
    at = where(spec.name, case)
    hints = SEPARABLE_HINTS

    def fail(tag: str, hint: str, extra: str = "") -> dx.CheckFailed:
        return dx.CheckFailed(spec.name, tag, hint, at + (f"\n{extra}" if extra else ""))

    if obs["returned"] == "not-a-pair":
        raise fail(dx.WRONG_TYPE, hints["pair"], f"got {obs['got']}")
    if obs["returned"] == "not-a-module":
        raise fail(dx.WRONG_TYPE, hints["module"], f"got {obs['got']}")
    convs = obs["convs"]
    if len(convs) != 2:
        raise fail("not-two-convs", hints["not-two-convs"], f"found {len(convs)} Conv2d layers")
    dw, pw = convs
    if tuple(dw["kernel"]) == (1, 1) and tuple(pw["kernel"]) != (1, 1):
        raise fail("pointwise-first", hints["pointwise-first"])
    if dw["groups"] != cin or dw["in"] != cin or dw["out"] != cin:
        raise fail("depthwise-groups-missing", hints["depthwise-groups-missing"],
                   f"got Conv2d({dw['in']}, {dw['out']}, groups={dw['groups']})")
    if tuple(dw["kernel"]) != (k, k):
        raise fail(dx.WRONG_VALUE, f"the depthwise convolution has a {k}x{k} kernel",
                   f"got kernel_size={tuple(dw['kernel'])}")
    if tuple(pw["kernel"]) != (1, 1) or pw["in"] != cin or pw["out"] != cout or pw["groups"] != 1:
        raise fail("pointwise-not-1x1", hints["pointwise-not-1x1"],
                   f"got Conv2d({pw['in']}, {pw['out']}, {tuple(pw['kernel'])}, groups={pw['groups']})")
    if dw["bias"] or pw["bias"]:
        raise fail("bias-not-disabled", hints["bias-not-disabled"])
    if tuple(dw["stride"]) != (1, 1) or tuple(pw["stride"]) != (1, 1) or tuple(dw["dilation"]) != (1, 1):
        raise fail(dx.WRONG_VALUE, hints["stride"])
    if obs["forward_error"] is not None:
        raise fail(dx.RAISED, f"the module raised {obs['forward_error']}")
    if obs["output_shape"] is None or tuple(obs["output_shape"]) != (2, cout, k + 3, k + 5):
        shape = f" of shape {tuple(obs['output_shape'])}" if obs["output_shape"] is not None else f" {obs['got']}"
        raise fail("same-padding-missing", hints["same-padding-missing"],
                   f"input (2, {cin}, {k + 3}, {k + 5}) gave a result{shape}")
    if not obs["composed"]:
        raise fail("extra-layers", hints["extra-layers"])
    variants = [{**v, "value": v["value"]["ratio"]} for v in record.get("variants", ())]
    ratio, expected = obs["ratio"], record["expected"]["ratio"]
    mismatch(spec.name, case, ratio, expected, RATIO_TOLERANCE,
             lambda: recorded_variant(ratio, variants, RATIO_TOLERANCE) or (dx.WRONG_VALUE, hints["ratio"]))


PARAM_COUNT, CONV2D_MACS, COUNT_PARAMETERS, COUNT_MACS, DEPTHWISE_SEPARABLE = declare(
    VisibleSpec("conv2d_param_count", NOTEBOOK, _params_visible, tolerance=EXACT, judge=_count_judge()),
    VisibleSpec("conv2d_macs", NOTEBOOK, _macs_visible, tolerance=EXACT, judge=_count_judge()),
    VisibleSpec("count_parameters", NOTEBOOK, _count_visible, tolerance=EXACT, pure=False),
    VisibleSpec("count_macs", NOTEBOOK, _count_macs_visible, tolerance=EXACT, pure=False,
                observe=observe_count_macs, judge=_judge_count_macs),
    VisibleSpec("depthwise_separable", NOTEBOOK, _separable_visible, tolerance=RATIO_TOLERANCE,
                observe=observe_separable, judge=_judge_separable),
)
