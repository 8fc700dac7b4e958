"""Notebook 02, receptive fields: the visible cases of its three exercises, and how to judge them.

All three are property exercises in the grader (their hidden verifiers compare with the answer
key and name the quantity that is wrong). Here each visible check compares the student's result
with the one recorded at release and reports it the same way: the judges below hold the shared
wording and the mistakes that can be recognised from a result alone, never the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from cnnlab import diagnosis as dx
from cnnlab.cases import Case
from cnnlab.checks.calling import mismatch, recorded_variant, where
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import EXACT, describe_value, difference
from cnnlab.diagnosis import CheckFailed
from cnnlab.receptive import ReceptiveField, describe_layers, positive_weights_
from cnnlab.sources import cite

NOTEBOOK = "02_receptive_field"

Diagnose = Callable[[], "tuple[str, str] | None"]




# --------------------------------------------------------------------- receptive_field
NOT_PER_AXIS_HINT = (
    "return one pair per quantity, (rows, columns): ReceptiveField(size=(rh, rw), jump=(jh, jw), start=(sh, sw))"
)
START_IS_CENTER_HINT = (
    "start is the FIRST input pixel of output pixel 0's field, not its centre (centre = start + (size-1)/2)"
)


def not_per_axis(case: Case, got: Any, expected: Any) -> bool:
    """One number per quantity instead of a (rows, columns) pair."""
    try:
        return len(got) == 3 and any(isinstance(v, (int, float)) for v in got)
    except TypeError:
        return False


def start_is_center(case: Case, got: Any, expected: Sequence[Sequence[int]]) -> bool:
    """The start returned is the centre of output pixel 0's field (``expected`` is size, jump, start)."""
    size, _, start = expected
    try:
        starts = tuple(got[2])
    except (TypeError, IndexError):
        return False
    centres = [start[a] + (size[a] - 1) / 2 for a in range(2)]
    floors = [start[a] + (size[a] - 1) // 2 for a in range(2)]
    return starts != tuple(start) and (list(starts) == centres or list(starts) == floors)


def judge_field(
    name: str, case: Case, got: Any, expected: Sequence[Any], diagnose: Diagnose, *, visible: bool = True
) -> None:
    """``got`` against the expected (size, jump, start); a failure names each quantity that is wrong."""
    diff = difference(got, expected, EXACT)
    if diff is None:
        return
    tag, explanation = diff
    hint = "wrong type: return ReceptiveField(size, jump, start)" if tag == dx.WRONG_TYPE else "wrong values"
    found = diagnose()
    if found is not None:
        tag, hint = found
    if isinstance(got, tuple) and len(got) == 3:
        explanation = "; ".join(
            f"{field} (rows, columns): expected {tuple(want)}, got {describe_value(have)}"
            for field, want, have in zip(ReceptiveField._fields, expected, got, strict=True)
            if difference(have, want, EXACT) is not None
        )
    raise CheckFailed(name, tag, hint, f"{where(name, case)}\n{explanation}", visible=visible)


def _judge_recorded_field(spec: VisibleSpec, case: Case, got: Any, record: dict) -> None:
    expected = record["expected"]

    def diagnose() -> tuple[str, str] | None:
        if not_per_axis(case, got, expected):
            return "not-per-axis", NOT_PER_AXIS_HINT
        found = recorded_variant(got, record.get("variants", ()), EXACT)
        if found is None and start_is_center(case, got, expected):
            return "start-is-center", START_IS_CENTER_HINT
        return found

    judge_field(spec.name, case, got, expected, diagnose)


def _rf_case(layers: list[nn.Module] | nn.Sequential, note: str = "") -> Case:
    return Case((layers,), note=note or describe_layers(layers if isinstance(layers, list) else [layers]))


def _rf_visible() -> list[Case]:
    # Only the geometry matters, but the recorded inputs include the weights: build them from a fixed seed.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return [
            _rf_case([nn.Conv2d(1, 1, 3)], "one 3x3 convolution"),
            _rf_case([nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3)], "two stacked 3x3 convolutions see 5x5"),
            _rf_case([nn.Conv2d(1, 1, 3, dilation=2)], "a 3x3 kernel with dilation 2 spans 5 pixels"),
            _rf_case([nn.Conv2d(1, 1, 3, padding=2)], "padding 2 does not enlarge the field: 3 pixels, starting at -2"),
            _rf_case(
                [nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, padding=1)],
                "stride 2, then a 3x3 kernel: padding moves the start",
            ),
            _rf_case(
                nn.Sequential(
                    nn.Conv2d(1, 10, 5),
                    nn.ReLU(),
                    nn.MaxPool2d(2, 2),
                    nn.Conv2d(10, 20, 5),
                    nn.ReLU(),
                    nn.MaxPool2d(2, 2),
                ),
                f"{cite(5)}'s MNIST features: field 16, jump 4",
            ),
            _rf_case(
                [
                    nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(1, 0)),
                    nn.BatchNorm2d(1),
                    nn.AvgPool2d(2, padding=1),
                ],
                "different kernel, stride and padding per axis",
            ),
            _rf_case(
                [
                    nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU()),
                    nn.MaxPool2d(3, 2, 1, dilation=2),
                    nn.Sequential(nn.Conv2d(1, 1, 3, dilation=3, padding=3)),
                ],
                "nested blocks, a dilated max-pool and a dilated convolution",
            ),
        ]


# ------------------------------------------------------------ gradient_receptive_field
NOT_REDUCED_HINT = "reduce over the batch and channel axes: the mask has shape (H, W)"
RETURNED_GRADIENT_HINT = "return a boolean mask (gradient != 0), not the gradient values"


def not_reduced(case: Case, got: Any, expected: torch.Tensor) -> bool:
    """A mask per batch entry and channel instead of one (H, W) mask."""
    return isinstance(got, torch.Tensor) and got.ndim > 2 and tuple(got.shape[-2:]) == tuple(expected.shape)


def returned_gradient(case: Case, got: Any, expected: torch.Tensor) -> bool:
    """The gradient's values instead of a boolean mask."""
    return isinstance(got, torch.Tensor) and got.is_floating_point() and tuple(got.shape) == tuple(expected.shape)


def _judge_recorded_mask(spec: VisibleSpec, case: Case, got: Any, record: dict) -> None:
    expected = record["expected"]

    def diagnose() -> tuple[str, str] | None:
        if not_reduced(case, got, expected):
            return "mask-not-reduced", NOT_REDUCED_HINT
        if returned_gradient(case, got, expected):
            return "returned-gradient", RETURNED_GRADIENT_HINT
        return recorded_variant(got, record.get("variants", ()), EXACT)

    mismatch(spec.name, case, got, expected, EXACT, diagnose)


def grad_case(
    layers: list[nn.Module],
    input_shape: tuple[int, ...],
    out_index: tuple[int, int],
    seed: int,
    note: str = "",
    device: torch.device | None = None,
) -> Case:
    """A ``gradient_receptive_field`` question: the stack with positive weights (seeded), a shape, a pixel."""
    model = positive_weights_(nn.Sequential(*layers), generator=torch.Generator().manual_seed(seed))
    if device is not None:
        model = model.to(device)
    text = describe_layers(layers) + f" on {tuple(input_shape)}, output pixel {tuple(out_index)}"
    return Case((model, tuple(input_shape), tuple(out_index)), note=f"{note}: {text}" if note else text)


def _grad_visible() -> list[Case]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return [
            grad_case([nn.Conv2d(1, 1, 3)], (1, 1, 6, 6), (1, 2), 1, "one 3x3 convolution"),
            grad_case(
                [nn.Conv2d(1, 1, 3, padding=1)],
                (1, 1, 5, 5),
                (0, 0),
                2,
                "padding at the border: the field is cut off",
            ),
            grad_case([nn.Conv2d(1, 1, 3, dilation=2)], (1, 1, 7, 7), (1, 1), 3, "dilation leaves holes"),
            grad_case(
                [nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(2, 2, 3)],
                (1, 2, 10, 10),
                (2, 1),
                4,
                "conv, average pooling, conv",
            ),
            grad_case(
                [nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 1, 3)],
                (2, 1, 9, 8),
                (0, 3),
                5,
                "BatchNorm: evaluate the model in eval mode",
            ),
        ]


# ----------------------------------------------------------------------- stacking_costs
def judge_costs(
    name: str, case: Case, got: Any, expected: dict[str, int], diagnose: Diagnose, *, visible: bool = True
) -> None:
    """``got`` against the expected dict; a failure names the missing keys or every wrong value."""
    at = where(name, case)
    if not isinstance(got, dict):
        raise CheckFailed(
            name,
            dx.WRONG_TYPE,
            "return a dict with the keys listed in the docstring",
            f"{at}\ngot {describe_value(got)}",
            visible=visible,
        )
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        raise CheckFailed(
            name,
            "wrong-keys",
            "the dict must have exactly the keys in the docstring",
            f"{at}\nmissing: {missing}; unexpected: {extra}",
            visible=visible,
        )
    wrong = {k: (expected[k], got[k]) for k in expected if difference(got[k], expected[k], EXACT) is not None}
    if not wrong:
        return
    found = diagnose()
    tag, hint = found if found is not None else (dx.WRONG_VALUE, "wrong values")
    lines = "; ".join(f"{k}: expected {e}, got {describe_value(g)}" for k, (e, g) in wrong.items())
    raise CheckFailed(name, tag, hint, f"{at}\n{lines}", visible=visible)


def _judge_recorded_costs(spec: VisibleSpec, case: Case, got: Any, record: dict) -> None:
    judge_costs(
        spec.name, case, got, record["expected"], lambda: recorded_variant(got, record.get("variants", ()), EXACT)
    )


def _costs_visible() -> list[Case]:
    return [
        Case((1,), note="one channel: the counts are per channel pair"),
        Case((64,), note="VGG-sized layers, dilations 1, 2, 4"),
        Case((16, (1, 2, 5)), note="dilations 1, 2, 5"),
        Case((8, (2,)), note="a single dilated layer"),
    ]


RECEPTIVE_FIELD, GRADIENT_RECEPTIVE_FIELD, STACKING_COSTS = declare(
    VisibleSpec("receptive_field", NOTEBOOK, _rf_visible, tolerance=EXACT, pure=False, judge=_judge_recorded_field),
    VisibleSpec(
        "gradient_receptive_field", NOTEBOOK, _grad_visible, tolerance=EXACT, pure=False, judge=_judge_recorded_mask
    ),
    VisibleSpec("stacking_costs", NOTEBOOK, _costs_visible, tolerance=EXACT, judge=_judge_recorded_costs),
)
