"""Notebook 04: the references agree with PyTorch, the solutions pass, every diagnosis fires."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers import diagnosed_tags, solution_namespace
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.exercises import get_exercise
from autograder.exercises.pooling import (
    STUDENT_MISTAKES,
    _every_window_sees_input,
    _pool_size_formula,
    pool2d_case,
    pool_output_size_reference,
    pool_size_case,
    unpool_case,
)
from autograder.hidden import hidden_tests
from cnnlab.cases import Case, RandomInputs
from cnnlab.diagnosis import CheckFailed
from cnnlab.forbidden import POOLING, UNPOOLING

pytestmark = pytest.mark.nb04

EXERCISES = ("pool_output_size", "max_pool2d_naive", "avg_pool2d_naive", "max_unpool2d_naive")


def _random_case(name: str, r: RandomInputs, *, edge: bool = False) -> Case:
    if name == "pool_output_size":
        return pool_size_case(r, edge=edge)
    if name == "max_unpool2d_naive":
        return unpool_case(r)
    return pool2d_case(r, kind="max" if name == "max_pool2d_naive" else "avg", edge=edge)


@pytest.fixture(scope="module")
def nb():  # noqa: ANN201
    return solution_namespace("04_pooling")


# ------------------------------------------------------------------ size references
def _pytorch_pool_size(n, k, s, p, d, ceil):  # noqa: ANN001, ANN202
    """The size of a real max pool and a real average pool (dilation 1), or None if PyTorch refuses."""
    try:
        return F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil_mode=ceil).shape[-1]
    except RuntimeError:
        return None


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 4), d=st.integers(1, 3),
       ceil=st.booleans())
def test_size_reference_is_the_size_of_a_real_pooling(n, k, s, p, d, ceil) -> None:  # noqa: ANN001
    real = _pytorch_pool_size(n, k, s, p, d, ceil)
    if real is None:
        with pytest.raises(ValueError):
            pool_output_size_reference(n, k, s, p, d, ceil)
        return
    assert pool_output_size_reference(n, k, s, p, d, ceil) == real
    assert _pool_size_formula()(n, k, s, p, d, ceil) == real  # the rule the notebook teaches
    if d == 1:
        assert F.avg_pool1d(torch.zeros(1, 1, n), k, s, p, ceil_mode=ceil).shape[-1] == real


def test_the_notebooks_examples_of_the_ceil_rule() -> None:
    assert pool_output_size_reference(3, 2, 2, 1, ceil_mode=True) == 2  # naive ceil says 3
    assert pool_output_size_reference(8, 3, 2, ceil_mode=True) == 4
    assert pool_output_size_reference(24, 2) == 12  # stride defaults to kernel_size
    assert F.avg_pool1d(torch.arange(1.0, 8.0).view(1, 1, 7), 3, 2)[0, 0].tolist() == [2.0, 4.0, 6.0]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_edge_cases_are_where_the_naive_ceil_formula_is_wrong(seed) -> None:  # noqa: ANN001
    case = pool_size_case(RandomInputs(seed), edge=True)
    naive = _pool_size_formula(ceil="naive")(*case.args, **case.kwargs)
    truth = pool_output_size_reference(*case.args, **case.kwargs)
    assert case.kwargs["ceil_mode"] and naive != truth


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["max", "avg"]), edge=st.booleans())
def test_random_pooling_cases_are_valid_and_never_pool_padding_alone(seed, kind, edge) -> None:  # noqa: ANN001
    case = pool2d_case(RandomInputs(seed), kind=kind, edge=edge)
    x, k = case.args
    kw = case.kwargs
    stride = kw["stride"] if kw["stride"] is not None else k
    for axis in (0, 1):
        def pick(v, a=axis):  # noqa: ANN001, ANN202
            return v[a] if isinstance(v, tuple) else v

        n, kk, ss, pp = x.shape[2 + axis], pick(k), pick(stride), pick(kw["padding"])
        assert pp <= kk // 2  # PyTorch's limit
        dd = pick(kw.get("dilation", 1))
        out = pool_output_size_reference(n, kk, ss, pp, dd, kw["ceil_mode"])
        assert _every_window_sees_input(n, kk, ss, pp, dd, out)
    expected = get_exercise(f"{kind}_pool2d_naive").reference(*case.args, **case.kwargs)
    values = expected[0] if isinstance(expected, tuple) else expected
    assert torch.isfinite(values).all()


# ------------------------------------------------------------------------- solutions
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), edge=st.booleans())
def test_pooling_solutions_match_pytorch(nb, seed, edge) -> None:  # noqa: ANN001
    r = RandomInputs(seed)
    case = pool2d_case(r, kind="max", edge=edge)
    got, expected = case.call(nb.max_pool2d_naive), case.call(F.max_pool2d)
    torch.testing.assert_close(got, expected)
    case = pool2d_case(r, kind="avg", edge=edge)
    torch.testing.assert_close(case.call(nb.avg_pool2d_naive), case.call(F.avg_pool2d), rtol=1e-5, atol=1e-6)
    case = unpool_case(r)
    torch.testing.assert_close(case.call(nb.max_unpool2d_naive), case.call(F.max_unpool2d))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_size_solution_matches_the_reference(nb, seed) -> None:  # noqa: ANN001
    case = pool_size_case(RandomInputs(seed), edge=seed % 3 == 0)
    assert case.call(nb.pool_output_size) == case.call(pool_output_size_reference)


def test_indices_are_int64_and_match_nn_maxpool2d(nb) -> None:  # noqa: ANN001
    x = torch.randn(2, 3, 7, 6)
    values, indices = nb.max_pool2d_naive(x, 3, stride=2, padding=1, return_indices=True)
    ref_values, ref_indices = nn.MaxPool2d(3, 2, 1, return_indices=True)(x)
    assert indices.dtype == torch.int64
    assert torch.equal(indices, ref_indices) and torch.equal(values, ref_values)


@pytest.mark.parametrize("name", EXERCISES)
def test_solutions_pass_visible_and_hidden_checks(nb, name) -> None:  # noqa: ANN001
    fn = getattr(nb, name)
    ex = get_exercise(name)
    for case in ex.visible():
        ex.check_case(fn, case)
    with hidden_tests(name) as t:
        for i in range(6):
            t.check(fn, _random_case(name, t, edge=i % 2 == 0))


@pytest.mark.parametrize(("name", "pattern"), [("max_pool2d_naive", POOLING), ("avg_pool2d_naive", POOLING),
                                               ("max_unpool2d_naive", UNPOOLING)])
def test_builtins_are_forbidden_and_the_solution_is_allowed(nb, name, pattern) -> None:  # noqa: ANN001
    builtin = {"max_pool2d_naive": F.max_pool2d, "avg_pool2d_naive": F.avg_pool2d,
               "max_unpool2d_naive": F.max_unpool2d}[name]
    with hidden_tests(name, seed=3) as t:
        t.forbid(getattr(nb, name), _random_case(name, t), pattern, "pooling")
    with pytest.raises(CheckFailed) as info, hidden_tests(name, seed=3) as t:
        t.forbid(builtin, _random_case(name, t), pattern, "pooling")
    assert info.value.tag == "used-builtin"


# ------------------------------------------------------------------------ diagnoses
def test_the_issues_diagnoses_exist() -> None:
    assert {"ceil-everywhere", "ceil-last-window-kept", "stride-defaults-to-1"} <= set(
        STUDENT_MISTAKES["pool_output_size"])
    assert {"zero-padding-in-max", "stride-defaults-to-1"} <= set(STUDENT_MISTAKES["max_pool2d_naive"])
    assert {"count-include-pad-wrong", "stride-defaults-to-1"} <= set(STUDENT_MISTAKES["avg_pool2d_naive"])
    for name, mistakes in STUDENT_MISTAKES.items():
        assert set(mistakes) == {m.tag for m in get_exercise(name).misconceptions}, name


@pytest.mark.parametrize(("name", "tag"), [(n, t) for n, ms in STUDENT_MISTAKES.items() for t in ms],
                         ids=lambda v: v)
def test_every_mistake_is_diagnosed(name, tag) -> None:  # noqa: ANN001
    ex = get_exercise(name)
    wrong = STUDENT_MISTAKES[name][tag]
    cases = list(ex.visible()) + [_random_case(name, RandomInputs(s), edge=s % 3 == 0) for s in range(120)]
    tags = diagnosed_tags(ex, wrong, cases, until=tag)
    assert tag in tags, f"{tag} never diagnosed; got {sorted(set(tags))}"


def test_ceil_everywhere_is_named_on_a_floor_mode_question() -> None:
    ex = get_exercise("pool_output_size")
    with pytest.raises(CheckFailed) as info:
        ex.check_case(STUDENT_MISTAKES["pool_output_size"]["ceil-everywhere"], Case((8, 3), {"stride": 2}))
    assert info.value.tag == "ceil-everywhere"
    assert "floor" in info.value.hint


def test_zero_padding_is_named_on_negative_inputs() -> None:
    ex = get_exercise("max_pool2d_naive")
    case = Case((-torch.rand(1, 2, 5, 5) - 0.1, 3), {"stride": 2, "padding": 1, "return_indices": True})
    with pytest.raises(CheckFailed) as info:
        ex.check_case(STUDENT_MISTAKES["max_pool2d_naive"]["zero-padding-in-max"], case)
    assert info.value.tag == "zero-padding-in-max" and "-inf" in info.value.hint


# --------------------------------------------------------------- warnings and plots
def test_pooling_and_unpooling_emit_no_warnings() -> None:
    x = torch.randn(1, 2, 5, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, indices = nn.MaxPool2d(2, return_indices=True)(x)
        nn.MaxUnpool2d(2)(values, indices, output_size=x.shape)
        F.max_unpool2d(values, indices, 2, output_size=(5, 5))
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=2)(x)
        F.interpolate(x, scale_factor=2, mode="nearest")


def test_pool_window_figure_has_title_and_labels() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.plots import draw_pool_windows

    fig = draw_pool_windows(3, 2, stride=2, padding=1, ceil_mode=True)
    ax = fig.axes[0]
    assert "H_out = 2" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert sum("dropped" in t.get_text() for t in ax.texts) == 1
    plt.close(fig)


def test_ceil_formula_rule_in_words() -> None:
    """The rule as the notebook states it, on every small case: ceil, then drop a window starting in the right pad."""
    for n in range(1, 12):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    steps = n + 2 * p - k
                    out = math.ceil(steps / s) + 1
                    if (out - 1) * s >= n + p:
                        out -= 1
                    real = _pytorch_pool_size(n, k, s, p, 1, True)
                    assert out == real or (real is None and out < 1), (n, k, s, p)
