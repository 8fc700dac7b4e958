"""Notebook 02: the recurrence agrees with autograd, the solutions pass, every diagnosis fires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn as nn
from helpers import solution_namespace
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.receptive
from autograder.exercises import get_exercise
from autograder.exercises.receptive_field import (
    COSTS_MISCONCEPTIONS,
    GRAD_MISCONCEPTIONS,
    RF_MISCONCEPTIONS,
    gradient_receptive_field_case,
    output_length,
    random_stack,
    receptive_field_case,
    receptive_field_reference,
    stacking_costs_case,
    stacking_costs_reference,
)
from autograder.hidden import hidden_tests
from cnnlab.cases import Case, RandomInputs
from cnnlab.diagnosis import CheckFailed
from cnnlab.expected import load_expected
from cnnlab.models import seed_feature_stack
from cnnlab.probes import probes_in
from cnnlab.receptive import (
    ReceptiveField,
    feature_sizes,
    field_box,
    input_gradient,
    reachable_indices,
    reachable_mask,
)

pytestmark = pytest.mark.nb02

NOTEBOOK = "02_receptive_field"
CASE_MAKERS = {
    "receptive_field": receptive_field_case,
    "gradient_receptive_field": gradient_receptive_field_case,
    "stacking_costs": stacking_costs_case,
}


@pytest.fixture(scope="module")
def nb():  # noqa: ANN201
    return solution_namespace(NOTEBOOK)


def _autograd_mask(model: nn.Module, shape: tuple[int, ...], index: tuple[int, int]) -> torch.Tensor:
    model.eval()
    return input_gradient(model, torch.ones(shape), index) > 0


def _failure_tags(name: str, student, cases, want: str | None = None) -> set[str]:  # noqa: ANN001
    """The diagnosis tags of ``student`` over ``cases`` (stops at ``want`` once it is found)."""
    ex = get_exercise(name)
    tags = set()
    for case in cases:
        if case.raises:
            continue
        try:
            ex.check_case(student, case)
        except CheckFailed as failure:
            tags.add(failure.tag)
            if failure.tag == want:
                break
    return tags


# ----------------------------------------------------------------- the references
def test_seed_mnist_features_have_field_16_and_jump_4() -> None:
    assert receptive_field_reference(seed_feature_stack()) == ReceptiveField((16, 16), (4, 4), (0, 0))
    mask = reachable_mask(seed_feature_stack(), (1, 1, 28, 28), (0, 0))
    assert mask[:16, :16].all() and int(mask.sum()) == 256


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_exact_mask_is_what_autograd_finds(seed: int) -> None:
    """Positive weights, average pooling, eval mode: no gradient is zero by accident."""
    case = gradient_receptive_field_case(RandomInputs(seed))
    model, shape, index = case.cloned().args
    expected = reachable_mask(model, shape, index)
    assert torch.equal(_autograd_mask(model, shape, index), expected), case.note


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_recurrence_box_bounds_the_exact_mask(seed: int) -> None:
    """The mask lies inside start + i*jump .. + size - 1; unclipped, its bounding box IS that box."""
    r = RandomInputs(seed)
    size = (r.rng.randint(8, 40), r.rng.randint(8, 40))
    layers = random_stack(r, size=size, nest=False)
    out_h, out_w = feature_sizes(layers, size)[-1]
    index = (r.rng.randrange(out_h), r.rng.randrange(out_w))
    rf = receptive_field_reference(layers)
    mask = reachable_mask(layers, size, index)
    (r0, c0), (r1, c1) = field_box(rf, index)
    rows, cols = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
    if not (rows.numel() and cols.numel()):  # a border pixel whose windows all fall in the padding
        return
    assert r0 <= rows.min() and rows.max() <= r1 and c0 <= cols.min() and cols.max() <= c1
    if r0 >= 0 and c0 >= 0 and r1 < size[0] and c1 < size[1]:
        assert (rows.min(), rows.max(), cols.min(), cols.max()) == (r0, r1, c0, c1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_feature_sizes_match_pytorch(seed: int) -> None:
    r = RandomInputs(seed)
    size = (r.rng.randint(6, 30), r.rng.randint(6, 30))
    layers = random_stack(r, size=size, nest=False)
    out = nn.Sequential(*layers).eval()(torch.zeros(1, 1, *size))
    assert feature_sizes(layers, size)[-1] == tuple(out.shape[-2:])


def test_feature_sizes_say_when_nothing_is_left() -> None:
    with pytest.raises(ValueError, match="no output pixel"):
        feature_sizes([nn.Conv2d(1, 1, 3), nn.MaxPool2d(2)], (3, 3))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3),
       ceil=st.booleans())
def test_the_graders_length_rule_is_pytorchs(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> None:
    """``output_length`` (grader) agrees with the meta-tensor sizes of the teaching helpers."""
    layer = nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil) if p <= k // 2 else nn.Conv2d(1, 1, k, s, p, d)
    ceil = ceil and isinstance(layer, nn.MaxPool2d)
    assume(n + 2 * p >= d * (k - 1) + 1)  # (with ceil_mode, PyTorch keeps a window that does not fit)
    want = output_length(n, k, s, p, d, ceil)
    assert feature_sizes([layer], (n, n))[-1] == (want, want)


def test_the_student_library_holds_no_recurrence() -> None:
    for name in ("receptive_field_reference", "output_length", "REFERENCE_CALLS"):
        assert not hasattr(cnnlab.receptive, name), name


def test_notebook_measures_match_the_recurrence() -> None:
    """Section 2's plot measures the field on the exact mask; it is the recurrence's size (no padding)."""

    def conv3x3(dilation: int = 1) -> nn.Module:
        return nn.Conv2d(1, 1, 3, dilation=dilation, device="meta")

    for layers in ([conv3x3() for _ in range(8)], [m for _ in range(8) for m in (conv3x3(), nn.MaxPool2d(2))],
                   [conv3x3(2**i) for i in range(8)]):
        rows, _ = reachable_indices(layers, (1024, 1024), (0, 0))
        assert rows[-1] - rows[0] + 1 == receptive_field_reference(layers).size[0]


def test_dilated_stacks_match_the_notebook_pictures() -> None:
    def stack(*dilations: int) -> list[nn.Module]:
        return [nn.Conv2d(1, 1, 3, dilation=d, padding=d) for d in dilations]

    assert int(reachable_mask(stack(2, 2, 2), (21, 21), (10, 10)).sum()) == 49
    assert int(reachable_mask(stack(1, 2, 5), (21, 21), (10, 10)).sum()) == 17 * 17
    costs = stacking_costs_reference(64)
    assert (costs["params_dilated"], costs["rf_dilated"], costs["params_dense_same_rf"]) == (110592, 15, 921600)


# ------------------------------------------------------------------ the solutions
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_solution_recurrence_matches_reference(nb, seed: int) -> None:  # noqa: ANN001
    (layers,) = receptive_field_case(RandomInputs(seed)).args
    assert nb.receptive_field(layers) == receptive_field_reference(layers)


@pytest.mark.parametrize("name", list(CASE_MAKERS))
def test_solutions_pass_visible_and_hidden_checks(nb, name: str) -> None:  # noqa: ANN001
    fn = getattr(nb, name)
    ex = get_exercise(name)
    for case in ex.visible():
        ex.check_case(fn, case)
    with hidden_tests(name) as t:
        for _ in range(6):
            t.check(fn, CASE_MAKERS[name](t))


def _variant(name: str, tag: str):  # noqa: ANN202
    return next(m.variant for m in get_exercise(name).misconceptions if m.tag == tag and m.variant is not None)


def test_visible_checks_use_recorded_data(nb) -> None:  # noqa: ANN001
    """The solutions pass ``cnnlab.check``; every recorded wrong variant fails it with its own tag."""
    recorded = load_expected(NOTEBOOK)
    assert set(recorded) == set(CASE_MAKERS)
    for name in CASE_MAKERS:
        cnnlab.check(name, getattr(nb, name), quiet=True)
        tags = {v["tag"] for r in recorded[name]["results"] for v in r.get("variants", ())}
        wanted = {m.tag for m in get_exercise(name).misconceptions if m.variant is not None}
        assert tags == wanted, f"{name}: variants never recorded: {sorted(wanted - tags)}"
        for tag in sorted(tags):
            with pytest.raises(CheckFailed) as info:
                cnnlab.check(name, _variant(name, tag), quiet=True)
            assert info.value.tag == tag, (name, tag, str(info.value))


def test_visible_checks_name_mistakes_seen_in_the_result(nb) -> None:  # noqa: ANN001
    """Mistakes recognised from the result's shape, without a recorded variant, are named in the notebook too."""

    def scalars(layers):  # noqa: ANN001, ANN202
        rf = nb.receptive_field(layers)
        return rf.size[0], rf.jump[0], rf.start[0]

    def centre(layers):  # noqa: ANN001, ANN202
        rf = nb.receptive_field(layers)
        return ReceptiveField(rf.size, rf.jump, tuple(rf.start[a] + (rf.size[a] - 1) // 2 for a in range(2)))

    def not_reduced(model, input_shape, out_index):  # noqa: ANN001, ANN202
        return _mask_by_autograd(model, input_shape, out_index, reduce=False)

    def gradient(model, input_shape, out_index):  # noqa: ANN001, ANN202
        return _mask_by_autograd(model, input_shape, out_index, as_bool=False)

    def partial(channels, dilations=(1, 2, 4)):  # noqa: ANN001, ANN202
        return {k: v for k, v in nb.stacking_costs(channels, dilations).items() if k != "rf_5x5"}

    expected = [
        ("receptive_field", scalars, "not-per-axis"),
        ("receptive_field", centre, "start-is-center"),
        ("receptive_field", lambda layers: None, "wrong-type"),
        ("gradient_receptive_field", not_reduced, "mask-not-reduced"),
        ("gradient_receptive_field", gradient, "returned-gradient"),
        ("stacking_costs", partial, "wrong-keys"),
        ("stacking_costs", lambda channels, dilations=(1, 2, 4): [], "wrong-type"),
    ]
    for name, student, tag in expected:
        with pytest.raises(CheckFailed) as info:
            cnnlab.check(name, student, quiet=True)
        assert info.value.tag == tag, (name, tag, str(info.value))


def test_a_wrong_field_names_each_wrong_quantity(nb) -> None:  # noqa: ANN001
    def no_start(layers):  # noqa: ANN001, ANN202
        rf = nb.receptive_field(layers)
        return ReceptiveField(rf.size, rf.jump, (7, 7))

    with pytest.raises(CheckFailed) as info:
        cnnlab.check("receptive_field", no_start, quiet=True)
    assert "start (rows, columns): expected (0, 0), got (7, 7)" in str(info.value)
    assert "size (rows" not in str(info.value)


def test_explorers_draw_without_the_answer_key(nb) -> None:  # noqa: ANN001
    import matplotlib.pyplot as plt

    from cnnlab.widgets import _output_width, _rf_layer, draw_conv_geometry, draw_receptive_field

    assert (_output_width(7, 3, 2, 1, 1), _output_width(2, 5, 1, 0, 1)) == (4, 0)
    plt.close(draw_conv_geometry(7, 3, 2, 1, 1))
    stack = [_rf_layer(n) for n in ("conv 3x3", "max-pool 2x2", "conv 3x3, dilation 2")]

    def stub(layers):  # noqa: ANN001, ANN202
        raise NotImplementedError()

    for fn, caption in ((nb.receptive_field, "from your receptive_field"), (stub, "not implemented yet"),
                        (None, "not shown")):
        fig = draw_receptive_field(stack, fn)
        assert caption in fig.axes[1].get_title()
        plt.close(fig)


# --------------------------------------------------------------- every diagnosis
def _cases(name: str, n: int) -> Iterator[Case]:
    """The visible cases, then ``n`` random ones, built one at a time."""
    yield from get_exercise(name).visible()
    for seed in range(n):
        yield CASE_MAKERS[name](RandomInputs(seed))


def RF_CASES() -> Iterator[Case]:  # noqa: N802
    return _cases("receptive_field", 60)


@pytest.mark.parametrize("m", [m for m in RF_MISCONCEPTIONS if m.variant], ids=lambda m: m.tag)
def test_every_recurrence_mistake_is_diagnosed(m) -> None:  # noqa: ANN001
    assert m.tag in _failure_tags("receptive_field", m.variant, RF_CASES(), want=m.tag)


def test_returning_the_centre_is_diagnosed(nb) -> None:  # noqa: ANN001
    def centre(layers):  # noqa: ANN001, ANN202
        rf = nb.receptive_field(layers)
        return ReceptiveField(rf.size, rf.jump, tuple(rf.start[a] + (rf.size[a] - 1) // 2 for a in range(2)))

    assert "start-is-center" in _failure_tags("receptive_field", centre, RF_CASES(), want="start-is-center")


def test_calling_the_library_recurrence_is_rejected() -> None:
    assert _failure_tags("receptive_field", receptive_field_reference, RF_CASES()) == {"used-builtin"}


def test_one_number_per_quantity_is_diagnosed(nb) -> None:  # noqa: ANN001
    def scalars(layers):  # noqa: ANN001, ANN202
        rf = nb.receptive_field(layers)
        return rf.size[0], rf.jump[0], rf.start[0]

    assert "not-per-axis" in _failure_tags("receptive_field", scalars, RF_CASES(), want="not-per-axis")


def GRAD_CASES() -> Iterator[Case]:  # noqa: N802
    return _cases("gradient_receptive_field", 25)


@pytest.mark.parametrize("m", [m for m in GRAD_MISCONCEPTIONS if m.variant], ids=lambda m: m.tag)
def test_every_mask_mistake_is_diagnosed(m) -> None:  # noqa: ANN001
    def student(model, input_shape, out_index):  # noqa: ANN001, ANN202
        model(torch.ones(input_shape, requires_grad=True, device=next(model.parameters()).device))  # ran it
        return m.variant(model, input_shape, out_index)

    assert m.tag in _failure_tags("gradient_receptive_field", student, GRAD_CASES(), want=m.tag)


def _mask_by_autograd(model, input_shape, out_index, *, train=False, reduce=True, as_bool=True):  # noqa: ANN001, ANN202
    model.train(train)
    x = torch.ones(input_shape, device=next(model.parameters()).device, requires_grad=True)
    model(x)[0, :, out_index[0], out_index[1]].sum().backward()
    grad = x.grad.abs()
    if reduce:
        grad = grad.sum(dim=(0, 1))
    return grad > 0 if as_bool else grad


@pytest.mark.parametrize(
    ("tag", "kwargs"),
    [
        ("mask-not-reduced", {"reduce": False}),
        ("returned-gradient", {"as_bool": False}),
        ("train-mode", {"train": True}),
    ],
)
def test_autograd_slips_are_diagnosed(tag: str, kwargs: dict) -> None:
    student = lambda m, s, i: _mask_by_autograd(m, s, i, **kwargs)  # noqa: E731
    assert tag in _failure_tags("gradient_receptive_field", student, GRAD_CASES(), want=tag)


def test_dropout_left_in_training_mode_is_diagnosed() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Dropout(0.5), nn.Conv2d(1, 1, 3, padding=1))
    with torch.no_grad():
        for conv in (model[0], model[2]):
            conv.weight.uniform_(0.2, 1.0)
            conv.bias.fill_(0.1)
    case = Case((model, (1, 1, 12, 12), (5, 5)))
    torch.manual_seed(0)
    student = lambda m, s, i: _mask_by_autograd(m, s, i, train=True)  # noqa: E731
    assert _failure_tags("gradient_receptive_field", student, [case]) == {"train-mode"}


def test_a_mask_not_found_by_autograd_is_rejected() -> None:
    def formula_only(model, input_shape, out_index):  # noqa: ANN001, ANN202
        return reachable_mask(model, input_shape, out_index, device=next(model.parameters()).device)

    def library_gradient(model, input_shape, out_index):  # noqa: ANN001, ANN202
        model.eval()
        return input_gradient(model, torch.ones(input_shape), out_index) > 0

    cases = [gradient_receptive_field_case(RandomInputs(s)) for s in range(3)]
    assert all(probes_in(c.args[0]) for c in cases)
    assert _failure_tags("gradient_receptive_field", formula_only, cases) == {"no-autograd"}
    assert _failure_tags("gradient_receptive_field", library_gradient, cases) == {"used-builtin"}


def COSTS_CASES() -> Iterator[Case]:  # noqa: N802
    return _cases("stacking_costs", 40)


@pytest.mark.parametrize("m", COSTS_MISCONCEPTIONS, ids=lambda m: m.tag)
def test_every_costs_mistake_is_diagnosed(m) -> None:  # noqa: ANN001
    assert m.tag in _failure_tags("stacking_costs", m.variant, COSTS_CASES(), want=m.tag)


def test_missing_keys_are_named() -> None:
    def partial(channels, dilations=(1, 2, 4)):  # noqa: ANN001, ANN202
        full = stacking_costs_reference(channels, dilations)
        full.pop("params_dense_same_rf")
        return full

    with pytest.raises(CheckFailed) as info:
        get_exercise("stacking_costs").check_case(partial, Case((4,)))
    assert info.value.tag == "wrong-keys" and "params_dense_same_rf" in info.value.details
