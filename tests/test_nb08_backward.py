"""Notebook 08: autograd-based references, valid random cases, solutions that pass, every diagnosis fires."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import diagnosed_tags, solution_namespace
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.exercises import get_exercise
from autograder.exercises.backward import (
    CASES,
    STUDENT_MISTAKES,
    _conv_backward_loops,
    max_pool_backward_case,
)
from autograder.hidden import hidden_tests
from cnnlab.cases import Case, RandomInputs
from cnnlab.diagnosis import CheckFailed
from cnnlab.forbidden import AUTOGRAD

pytestmark = pytest.mark.nb08

EXERCISES = tuple(CASES)


@pytest.fixture(scope="module")
def nb():  # noqa: ANN201
    return solution_namespace("08_backward")


def _random_case(name: str, r: RandomInputs, *, ties: bool = False) -> Case:
    if name == "max_pool2d_backward":
        return max_pool_backward_case(r, ties=ties)
    return CASES[name](r)


# ---------------------------------------------------------------------- references
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_references_pass_gradcheck_in_float64(seed) -> None:  # noqa: ANN001
    """The oracle behind every reference: torch.autograd.gradcheck on each forward op, in float64."""
    r = RandomInputs(seed)
    case = CASES["conv2d_backward"](r)
    dout, x, w = case.args
    kw = case.kwargs
    assert torch.autograd.gradcheck(
        lambda a, b: F.conv2d(a, b, None, kw["stride"], kw["padding"], kw["dilation"], kw["groups"]),
        (x.double().requires_grad_(), w.double().requires_grad_()), eps=1e-6, atol=1e-5)
    case = CASES["batch_norm2d_backward"](r)
    dout, x, w = case.args
    eps = case.kwargs.get("eps", 1e-5)
    assert torch.autograd.gradcheck(lambda a, b: F.batch_norm(a, None, None, b, None, True, 0.1, eps),
                                    (x.double().requires_grad_(), w.double().requires_grad_()), atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_the_scatter_form_of_conv_backward_is_autograd(seed) -> None:  # noqa: ANN001
    """The loop form the notebook teaches (and the mistakes are built from) matches autograd."""
    case = CASES["conv2d_backward"](RandomInputs(seed))
    ours = case.call(_conv_backward_loops)
    theirs = case.call(get_exercise("conv2d_backward").reference)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_max_pool_ties_go_to_the_first_maximum() -> None:
    x = torch.tensor([[[[2.0, 2.0], [2.0, 1.0]]]])
    dx = get_exercise("max_pool2d_backward").reference(torch.ones(1, 1, 1, 1), x, 2)
    assert dx.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), name=st.sampled_from(EXERCISES))
def test_random_cases_run_on_the_reference(seed, name) -> None:  # noqa: ANN001
    case = _random_case(name, RandomInputs(seed), ties=seed % 2 == 0)
    result = case.call(get_exercise(name).reference)
    parts = result if isinstance(result, tuple) else (result,)
    assert all(torch.isfinite(p).all() for p in parts)


def test_numeric_reference_is_close_to_autograd() -> None:
    for seed in range(10):
        f, x = CASES["numeric_gradient"](RandomInputs(seed)).args
        leaf = x.clone().requires_grad_()
        (true,) = torch.autograd.grad(f(leaf), leaf)
        torch.testing.assert_close(get_exercise("numeric_gradient").reference(f, x, 1e-6), true, rtol=1e-5,
                                   atol=1e-7)


# ------------------------------------------------------------------------ solutions
@pytest.mark.parametrize("name", EXERCISES)
def test_solutions_pass_visible_and_hidden_checks(nb, name) -> None:  # noqa: ANN001
    fn = getattr(nb, name)
    ex = get_exercise(name)
    for case in ex.visible():
        ex.check_case(fn, case)
    with hidden_tests(name) as t:
        for i in range(12):
            t.check(fn, _random_case(name, t, ties=i % 2 == 0))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_solutions_match_autograd_in_float64(nb, seed) -> None:  # noqa: ANN001
    r = RandomInputs(seed)
    for name in ("conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward", "batch_norm2d_backward"):
        case = _random_case(name, r, ties=True)
        double = Case(tuple(a.double() if isinstance(a, torch.Tensor) else a for a in case.args), case.kwargs)
        got, expected = double.call(getattr(nb, name)), double.call(get_exercise(name).reference)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-10)


def _autograd_numeric_gradient(f, x, eps=1e-6):  # noqa: ANN001, ANN202
    leaf = x.detach().clone().requires_grad_()
    return torch.autograd.grad(f(leaf), leaf)[0]


@pytest.mark.parametrize("name", EXERCISES)
def test_autograd_is_forbidden_and_the_solution_is_allowed(nb, name) -> None:  # noqa: ANN001
    with hidden_tests(name, seed=5) as t:
        t.forbid(getattr(nb, name), _random_case(name, t), AUTOGRAD, "autograd")
    by_autograd = _autograd_numeric_gradient if name == "numeric_gradient" else get_exercise(name).reference
    with pytest.raises(CheckFailed) as info, hidden_tests(name, seed=5) as t:
        t.forbid(by_autograd, _random_case(name, t), AUTOGRAD, "autograd")
    assert info.value.tag == "used-builtin"


# ------------------------------------------------------------------------ diagnoses
def test_the_issues_diagnoses_exist() -> None:
    assert "kernel-not-flipped" in STUDENT_MISTAKES["conv2d_backward"]
    assert {"stride-ignored-in-scatter", "dilation-ignored-in-scatter"} <= set(STUDENT_MISTAKES["conv2d_backward"])
    assert "ties-to-every-max" in STUDENT_MISTAKES["max_pool2d_backward"]
    assert "bn-mean-term-missing" in STUDENT_MISTAKES["batch_norm2d_backward"]
    assert "mean-over-batch-missing" in STUDENT_MISTAKES["cross_entropy_backward"]
    for name, mistakes in STUDENT_MISTAKES.items():
        assert set(mistakes) == {m.tag for m in get_exercise(name).misconceptions}, name


@pytest.mark.parametrize(("name", "tag"), [(n, t) for n, ms in STUDENT_MISTAKES.items() for t in ms],
                         ids=lambda v: v)
def test_every_mistake_is_diagnosed(name, tag) -> None:  # noqa: ANN001
    ex = get_exercise(name)
    wrong = STUDENT_MISTAKES[name][tag]
    cases = list(ex.visible()) + [_random_case(name, RandomInputs(s), ties=s % 2 == 0) for s in range(60)]
    tags = diagnosed_tags(ex, wrong, cases, until=tag)
    assert tag in tags, f"{tag} never diagnosed; got {sorted(set(tags))}"


@pytest.mark.parametrize(("name", "tag"), [(n, t) for n, ms in STUDENT_MISTAKES.items() for t in ms],
                         ids=lambda v: v)
def test_every_mistake_fails_the_visible_checks(name, tag) -> None:  # noqa: ANN001
    """A student who makes a classic mistake learns it at the desk, before grading."""
    ex = get_exercise(name)
    failed = False
    for case in ex.visible():
        try:
            ex.check_case(STUDENT_MISTAKES[name][tag], case)
        except CheckFailed:
            failed = True
            break
    assert failed, f"{tag} passes every visible case of {name}"
