"""Notebook 03: the counts agree with PyTorch and FlopCounterMode, the solutions pass, every diagnosis fires."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
import torch.nn as nn
from helpers import solution_namespace
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import cnnlab
from autograder.exercises import get_exercise
from autograder.exercises.params_flops import (
    COUNT_MACS_MISCONCEPTIONS,
    COUNT_MISCONCEPTIONS,
    MACS_MISCONCEPTIONS,
    PARAM_MISCONCEPTIONS,
    RATIO_MISCONCEPTIONS,
    conv2d_macs_case,
    conv2d_macs_reference,
    conv2d_param_count_case,
    conv2d_param_count_reference,
    count_macs_case,
    count_parameters_case,
    count_parameters_reference,
    depthwise_separable_case,
    flop_counter_flops,
    macs_by_hooks,
    macs_reference,
    random_counting_model,
    separable_ratio_reference,
)
from autograder.hidden import hidden_tests
from cnnlab import counting, resampling
from cnnlab.cases import Case, RandomInputs
from cnnlab.counting import layer_costs, summary
from cnnlab.diagnosis import CheckFailed
from cnnlab.expected import load_expected
from cnnlab.models import SeedMNISTNet

pytestmark = pytest.mark.nb03

NOTEBOOK = "03_params_flops"
CASE_MAKERS = {
    "conv2d_param_count": conv2d_param_count_case,
    "conv2d_macs": conv2d_macs_case,
    "count_parameters": count_parameters_case,
    "count_macs": lambda r: count_macs_case(r, meta=0.5),
    "depthwise_separable": depthwise_separable_case,
}


@pytest.fixture(scope="module")
def nb():  # noqa: ANN201
    return solution_namespace(NOTEBOOK)


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


def _cases(name: str, n: int) -> Iterator[Case]:
    """The visible cases, then ``n`` random ones, built one at a time."""
    yield from get_exercise(name).visible()
    for seed in range(n):
        yield CASE_MAKERS[name](RandomInputs(seed))


# ----------------------------------------------------------------- the references
REFERENCES = {"count_parameters": count_parameters_reference, "count_macs": macs_reference}


def test_seed_mnist_network_counts() -> None:
    net = SeedMNISTNet()
    assert count_parameters_reference(net) == 21840
    assert macs_by_hooks(net, (1, 1, 28, 28)) == macs_reference(net, (1, 1, 28, 28)) == 480500
    assert flop_counter_flops(net, (1, 1, 28, 28)) == counting.flop_counter_flops(net, (1, 1, 28, 28)) == 961000
    costs = layer_costs(net, (1, 1, 28, 28), **REFERENCES)
    assert [c.name for c in costs] == ["conv1", "conv2", "fc1", "fc2"]
    assert [c.macs for c in costs] == [144000, 320000, 16000, 500]
    assert [c.params for c in costs] == [260, 5020, 16050, 510]
    assert summary(net, (1, 1, 28, 28), **REFERENCES) == {"params": 21840, "macs": 480500, "flops": 961000}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_hook_count_is_half_of_flop_counter_mode(seed: int) -> None:
    """The course's convention (hooks) equals FlopCounterMode / 2 on random models, bias ignored."""
    model, shape, note = random_counting_model(RandomInputs(seed), meta=0.5)
    assert 2 * macs_by_hooks(model, shape) == flop_counter_flops(model, shape), note


@settings(max_examples=80, deadline=None)
@given(
    cin=st.integers(1, 6),
    cout=st.integers(1, 6),
    g=st.sampled_from([1, 2, 3]),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    bias=st.booleans(),
    oh=st.integers(1, 9),
    ow=st.integers(1, 9),
)
def test_formula_references_match_pytorch(cin, cout, g, kh, kw, bias, oh, ow) -> None:  # noqa: ANN001
    cin, cout = cin * g, cout * g
    layer = nn.Conv2d(cin, cout, (kh, kw), groups=g, bias=bias)
    assert conv2d_param_count_reference(cin, cout, (kh, kw), g, bias) == sum(p.numel() for p in layer.parameters())
    assert conv2d_param_count_reference(cin, cout, (kh, kw), g, bias) == (cin // g * kh * kw + bias) * cout
    x = torch.zeros(1, cin, oh + kh - 1, ow + kw - 1)
    with FlopCounterMode(display=False) as counter:
        assert layer(x).shape[-2:] == (oh, ow)
    expected = cout * oh * ow * (cin // g) * kh * kw
    assert conv2d_macs_reference(cin, cout, (kh, kw), (oh, ow), g) == expected == counter.get_total_flops() // 2


def test_transposed_convolution_is_counted_per_input_element() -> None:
    layer = nn.ConvTranspose2d(4, 6, 3, stride=2)
    assert macs_by_hooks(layer, (1, 4, 5, 5)) == 25 * 4 * 6 * 9 == 5400
    assert macs_by_hooks(layer, (1, 4, 5, 5), transposed_per="output") == 11 * 11 * 6 * 4 * 9 == 26136
    assert flop_counter_flops(layer, (1, 4, 5, 5)) == 2 * 5400


def test_separable_ratio_is_the_cost_ratio() -> None:
    for cin, cout, k in ((32, 64, 3), (3, 8, 5), (16, 16, 1)):
        standard = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
        separable = nn.Sequential(
            nn.Conv2d(cin, cin, k, padding=k // 2, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)
        )
        ratio = separable_ratio_reference(cin, cout, k)
        assert math.isclose(macs_by_hooks(separable, (1, cin, 9, 9)) / macs_by_hooks(standard, (1, cin, 9, 9)), ratio)
        assert math.isclose(count_parameters_reference(separable) / count_parameters_reference(standard), ratio)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_batchnorm_cancels_the_bias(seed: int) -> None:
    """The notebook's claim: conv+bias -> BN equals conv -> BN in training mode; the bias gets no gradient."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(3, 5, 3)
    with torch.no_grad():
        conv.bias.uniform_(-5, 5)
    plain = nn.Conv2d(3, 5, 3, bias=False)
    with torch.no_grad():
        plain.weight.copy_(conv.weight)
    x = torch.randn(4, 3, 8, 8)
    out = nn.BatchNorm2d(5)(conv(x))
    torch.testing.assert_close(out, nn.BatchNorm2d(5)(plain(x)), rtol=1e-4, atol=1e-4)
    out.square().mean().backward()
    assert conv.bias.grad.abs().max() < 1e-5


def test_a_skip_connection_costs_what_the_serial_block_costs() -> None:
    class Residual(nn.Module):
        def __init__(self, body: nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.body(x)

    body = nn.Sequential(
        nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1, bias=False)
    ).to("meta")
    shape = (1, 64, 56, 56)
    assert macs_by_hooks(Residual(body), shape) == macs_by_hooks(body, shape) == 2 * 64 * 64 * 9 * 56 * 56
    assert flop_counter_flops(Residual(body), shape) == flop_counter_flops(body, shape)
    assert count_parameters_reference(Residual(body)) == count_parameters_reference(body)


# ------------------------------------------------------------------ the solutions
@pytest.mark.parametrize("name", list(CASE_MAKERS))
def test_solutions_pass_visible_and_hidden_checks(nb, name: str) -> None:  # noqa: ANN001
    fn = getattr(nb, name)
    ex = get_exercise(name)
    for case in ex.visible():
        ex.check_case(fn, case)
    with hidden_tests(name) as t:
        for _ in range(8):
            t.check(fn, CASE_MAKERS[name](t))


def test_solution_counts_the_seed_network(nb) -> None:  # noqa: ANN001
    assert nb.count_parameters(SeedMNISTNet()) == 21840
    assert nb.count_macs(SeedMNISTNet(), (1, 1, 28, 28)) == 480500


# --------------------------------------------------------------- every diagnosis
@pytest.mark.parametrize(
    ("name", "m"),
    [("conv2d_param_count", m) for m in PARAM_MISCONCEPTIONS if m.variant]
    + [("conv2d_macs", m) for m in MACS_MISCONCEPTIONS if m.variant]
    + [("count_parameters", m) for m in COUNT_MISCONCEPTIONS]
    + [("count_macs", m) for m in COUNT_MACS_MISCONCEPTIONS if m.variant],
    ids=lambda v: v if isinstance(v, str) else v.tag,
)
def test_every_counting_mistake_is_diagnosed(name: str, m) -> None:  # noqa: ANN001
    assert m.tag in _failure_tags(name, m.variant, _cases(name, 40), want=m.tag)


@pytest.mark.parametrize("name", ["conv2d_param_count", "conv2d_macs", "count_macs"])
def test_float_counts_are_diagnosed(name: str) -> None:
    reference = get_exercise(name).reference
    assert "float-count" in _failure_tags(
        name, lambda *a, **k: float(reference(*a, **k)), _cases(name, 5), want="float-count"
    )


def test_flops_instead_of_macs_is_diagnosed_for_models() -> None:
    assert "flops-not-macs" in _failure_tags(
        "count_macs", flop_counter_flops, _cases("count_macs", 5), want="flops-not-macs"
    )


def _hooked(model, input_shape):  # noqa: ANN001, ANN202
    model.register_forward_hook(lambda *args: None)
    return macs_by_hooks(model, input_shape)


def test_counting_shortcuts_and_leftover_hooks_are_rejected() -> None:
    cases = [count_macs_case(RandomInputs(s)) for s in range(4)]
    assert _failure_tags("count_macs", lambda m, s: flop_counter_flops(m, s) // 2, cases) == {"used-builtin"}
    assert _failure_tags("count_macs", macs_by_hooks, cases) == {"used-builtin"}
    plain = [Case((nn.Sequential(nn.Conv2d(2, 3, 3)), (1, 2, 6, 6)))]
    assert _failure_tags("count_macs", _hooked, plain) == {"hooks-left-behind"}


def _separable(*, groups=True, order="dw-pw", bias=False, padding=True, pointwise_k=1, extra=False, ratio=None):  # noqa: ANN001, ANN202, E501
    def student(cin, cout, k):  # noqa: ANN001, ANN202
        dw = nn.Conv2d(cin, cin, k, padding=k // 2 if padding else 0, groups=cin if groups else 1, bias=bias)
        pw = nn.Conv2d(cin, cout, pointwise_k, padding=pointwise_k // 2, bias=bias)
        layers = [dw, nn.ReLU(), pw] if extra else [dw, pw]
        if order == "pw-dw":
            layers = [
                nn.Conv2d(cin, cout, 1, bias=False),
                nn.Conv2d(cout, cout, k, padding=k // 2, groups=cout, bias=False),
            ]
        value = separable_ratio_reference(cin, cout, k) if ratio is None else ratio(cin, cout, k)
        return nn.Sequential(*layers), value

    return student


@pytest.mark.parametrize(
    ("tag", "student"),
    [
        ("depthwise-groups-missing", _separable(groups=False)),
        ("pointwise-first", _separable(order="pw-dw")),
        ("bias-not-disabled", _separable(bias=True)),
        ("same-padding-missing", _separable(padding=False)),
        ("pointwise-not-1x1", _separable(pointwise_k=3)),
        ("extra-layers", _separable(extra=True)),
        ("not-two-convs", lambda cin, cout, k: (nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), 1.0)),
    ]
    + [(m.tag, _separable(ratio=m.variant)) for m in RATIO_MISCONCEPTIONS],
)
def test_every_separable_mistake_is_diagnosed(tag: str, student) -> None:  # noqa: ANN001
    cases = [Case((32, 64, 3)), Case((3, 8, 5))]
    assert tag in _failure_tags("depthwise_separable", student, cases, want=tag)


# ------------------------------------------------------------ the visible checks
EXERCISES = ["conv2d_param_count", "conv2d_macs", "count_parameters", "count_macs", "depthwise_separable"]


def _visible_tag(name: str, fn) -> str | None:  # noqa: ANN001
    try:
        cnnlab.check(name, fn, quiet=True)
    except CheckFailed as failure:
        return failure.tag
    return None


@pytest.mark.parametrize("name", EXERCISES)
def test_visible_checks_use_recorded_data(nb, name: str) -> None:  # noqa: ANN001
    """The solution passes against the release-time record; every recorded wrong variant is named."""
    assert _visible_tag(name, getattr(nb, name)) is None
    recorded = {v["tag"] for r in load_expected(NOTEBOOK)[name]["results"] for v in r.get("variants", ())}
    variants = {m.tag: m.variant for m in get_exercise(name).misconceptions if m.variant is not None}
    assert recorded == set(variants), name  # every wrong variant differs on some visible case
    for tag in sorted(recorded):
        assert _visible_tag(name, variants[tag]) == tag


@pytest.mark.parametrize("name", ["conv2d_param_count", "conv2d_macs", "count_macs"])
def test_visible_checks_name_float_counts(name: str) -> None:
    reference = get_exercise(name).reference
    assert _visible_tag(name, lambda *a, **k: float(reference(*a, **k))) == "float-count"


def _with_flop_counter(model, input_shape):  # noqa: ANN001, ANN202
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(input_shape, device=next(model.parameters()).device))
    return counter.get_total_flops()


def test_visible_count_macs_checks_the_hidden_properties() -> None:
    assert _visible_tag("count_macs", _with_flop_counter) == "used-builtin"
    assert _visible_tag("count_macs", lambda m, s: _with_flop_counter(m, s) // 2) == "used-builtin"
    assert _visible_tag("count_macs", lambda m, s: counting.flop_counter_flops(m, s) // 2) == "used-builtin"
    assert _visible_tag("count_macs", _hooked) == "hooks-left-behind"
    assert _visible_tag("count_macs", lambda m, s: 2 * macs_by_hooks(m, s)) == "flops-not-macs"


@pytest.mark.parametrize(
    ("tag", "student"),
    [
        ("depthwise-groups-missing", _separable(groups=False)),
        ("pointwise-first", _separable(order="pw-dw")),
        ("bias-not-disabled", _separable(bias=True)),
        ("same-padding-missing", _separable(padding=False)),
        ("pointwise-not-1x1", _separable(pointwise_k=3)),
        ("extra-layers", _separable(extra=True)),
        ("not-two-convs", lambda cin, cout, k: (nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), 1.0)),
        ("wrong-type", lambda cin, cout, k: _separable()(cin, cout, k)[0]),
        ("wrong-value", _separable(ratio=lambda cin, cout, k: 0.5)),
    ]
    + [(m.tag, _separable(ratio=m.variant)) for m in RATIO_MISCONCEPTIONS],
)
def test_visible_separable_check_names_mistakes_as_the_hidden_one_does(tag: str, student) -> None:  # noqa: ANN001
    assert _visible_tag("depthwise_separable", student) == tag
    assert tag in _failure_tags("depthwise_separable", student, get_exercise("depthwise_separable").visible())


# ------------------------------------------------------- the student's library
def test_student_library_holds_no_counting_answer() -> None:
    for name in ("count_parameters_reference", "conv2d_param_count_reference", "conv2d_macs_reference",
                 "macs_reference", "macs_by_hooks", "layer_macs"):
        assert not hasattr(counting, name), name
    assert not hasattr(resampling, "conv2d_macs")


def test_teaching_helpers_count_with_the_functions_they_are_given() -> None:
    net = SeedMNISTNet()
    fake = {"count_parameters": lambda m: 7, "count_macs": lambda m, s: s[0]}
    assert summary(net, (3, 1, 28, 28), **fake) == {"params": 7, "macs": 3, "flops": 3 * 961000}
    assert [(c.params, c.macs) for c in layer_costs(net, (2, 1, 28, 28), **fake)] == [(7, 2)] * 4

    def unfinished(*args):  # noqa: ANN002, ANN202
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match="exercise 4"):
        summary(net, (1, 1, 28, 28), count_parameters=count_parameters_reference, count_macs=unfinished)
    with pytest.raises(TypeError):
        summary(net, (1, 1, 28, 28))  # no counting functions, no counts


def test_upsampling_costs_come_from_flop_counter_mode() -> None:
    costs = resampling.upsampling_costs(8, 4, (6, 5), scale=2, kernel_size=3)
    assert costs["transposed conv"] == 8 * 4 * 9 * 6 * 5
    assert costs["nearest + conv"] == conv2d_macs_reference(8, 4, 3, (12, 10))
    assert costs["bilinear + conv"] == costs["nearest + conv"] + 4 * 8 * 12 * 10
