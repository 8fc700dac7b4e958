"""Notebook 01: the references agree with PyTorch, the solutions pass, every diagnosis fires."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import diagnosed_tags, solution_namespace
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.exercises import get_exercise
from autograder.exercises.conv_arithmetic import (
    CONV_MISCONCEPTIONS,
    SIZE_MISCONCEPTIONS,
    conv2d_case,
    conv_matrix_case,
    conv_matrix_reference,
    conv_output_size_case,
    conv_output_size_reference,
)
from autograder.hidden import hidden_tests
from cnnlab.cases import Case, RandomInputs
from cnnlab.diagnosis import CheckFailed

pytestmark = pytest.mark.nb01


@pytest.fixture(scope="module")
def nb():  # noqa: ANN201
    return solution_namespace("01_conv_arithmetic")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_size_reference_is_the_size_of_a_real_convolution(n, k, s, p, d) -> None:  # noqa: ANN001
    if n + 2 * p < d * (k - 1) + 1:
        with pytest.raises(ValueError):
            conv_output_size_reference(n, k, s, p, d)
        return
    out = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
    assert conv_output_size_reference(n, k, s, p, d) == out.shape[-1]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_conv_solutions_match_pytorch(nb, seed) -> None:  # noqa: ANN001
    case = conv2d_case(RandomInputs(seed))
    expected = case.call(F.conv2d)
    for fn in (nb.conv2d_naive, nb.conv2d_unfold):
        torch.testing.assert_close(case.call(fn), expected, rtol=1e-4, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_conv_matrix_times_image_is_the_convolution(nb, seed) -> None:  # noqa: ANN001
    r = RandomInputs(seed)
    weight, size = conv_matrix_case(r).args
    h, w = (size, size) if isinstance(size, int) else size
    x = r.randn(weight.shape[1], h, w)
    C = nb.conv_matrix(weight, size)
    torch.testing.assert_close(C, conv_matrix_reference(weight, size))
    torch.testing.assert_close(C @ x.flatten(), F.conv2d(x[None], weight).flatten(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["conv_output_size", "conv2d_naive", "conv2d_unfold", "conv_matrix"])
def test_solutions_pass_visible_and_hidden_checks(nb, name) -> None:  # noqa: ANN001
    fn = getattr(nb, name)
    ex = get_exercise(name)
    for case in ex.visible():
        ex.check_case(fn, case)
    with hidden_tests(name) as t:
        for _ in range(5):
            case = {"conv_output_size": conv_output_size_case, "conv_matrix": conv_matrix_case}.get(
                name, conv2d_case)(t)
            t.check(fn, case)


@pytest.mark.parametrize("m", SIZE_MISCONCEPTIONS, ids=lambda m: m.tag)
def test_every_size_mistake_is_diagnosed(m) -> None:  # noqa: ANN001
    ex = get_exercise("conv_output_size")
    student = m.variant or (lambda size, kernel_size, stride=1, padding=0, dilation=1: float(
        conv_output_size_reference(size, kernel_size, stride, padding, dilation)))
    tags = set()
    for case in ex.visible() + [conv_output_size_case(RandomInputs(s)) for s in range(200)]:
        if case.raises:
            continue
        try:
            ex.check_case(student, case)
        except CheckFailed as failure:
            tags.add(failure.tag)
    assert m.tag in tags


@pytest.mark.parametrize("m", CONV_MISCONCEPTIONS, ids=lambda m: m.tag)
def test_every_convolution_mistake_is_diagnosed(m) -> None:  # noqa: ANN001
    ex = get_exercise("conv2d_unfold")
    tags = set()
    for seed in range(60):
        try:
            ex.check_case(m.variant, conv2d_case(RandomInputs(seed)))
        except CheckFailed as failure:
            tags.add(failure.tag)
    assert m.tag in tags


def test_transposed_matrix_is_diagnosed() -> None:
    ex = get_exercise("conv_matrix")
    with pytest.raises(CheckFailed) as info:
        ex.check_case(lambda w, s: conv_matrix_reference(w, s).T, Case((torch.randn(2, 1, 2, 2), 3)))
    assert info.value.tag == "returned-transpose"


# --------------------------------------------------------------------- same padding
@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 11), d=st.integers(1, 4), n=st.integers(1, 30))
def test_same_padding_keeps_the_size_like_pytorchs_same(nb, k, d, n) -> None:  # noqa: ANN001
    left, right = get_exercise("same_padding").reference(k, d)
    assert nb.same_padding(k, d) == (left, right)
    x, w = torch.randn(1, 1, n, dtype=torch.float64), torch.randn(1, 1, k, dtype=torch.float64)
    by_hand = F.conv1d(F.pad(x, (left, right)), w, dilation=d)
    assert by_hand.shape[-1] == n
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.testing.assert_close(by_hand, F.conv1d(x, w, padding="same", dilation=d))


def test_the_stem_halves_the_image_with_same_padding(nb) -> None:  # noqa: ANN001
    left, _ = nb.same_padding(7)
    assert conv_output_size_reference((304, 228), 7, stride=2, padding=left) == (152, 114)


@pytest.mark.parametrize("tag", ["extra-padding-on-left", "dilation-ignored", "same-padding-floored"])
def test_every_same_padding_mistake_is_diagnosed(tag) -> None:  # noqa: ANN001
    from autograder.exercises.conv_arithmetic import _SAME_VARIANTS, same_padding_case

    ex = get_exercise("same_padding")
    tags = diagnosed_tags(ex, _SAME_VARIANTS[tag], list(ex.visible()) + [same_padding_case(RandomInputs(s))
                                                                         for s in range(40)])
    assert tag in tags and tags[0] == tag, tags
