"""Notebook 05: the references and library helpers agree with PyTorch, the solutions pass, diagnoses fire."""

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
from autograder.exercises.conv_arithmetic import conv_matrix_reference
from autograder.exercises.upsampling import (
    STUDENT_MISTAKES,
    _corners,
    _half_pixel,
    _resample,
    conv_transpose2d_case,
    conv_transpose_output_size_reference,
    conv_transpose_size_case,
    conv_transpose_size_error_case,
    interpolate_bilinear_case,
    interpolate_nearest_case,
    overlap_case,
    overlap_map_reference,
    transposed_matrix_case,
)
from autograder.hidden import hidden_tests
from cnnlab.cases import RandomInputs
from cnnlab.diagnosis import CheckFailed
from cnnlab.forbidden import CONVOLUTION, INTERPOLATION, aten_ops_called
from cnnlab.resampling import conv_transpose2d_macs, upsampling_costs, zero_stretch

pytestmark = pytest.mark.nb05

CASES = {
    "conv_transpose_output_size": conv_transpose_size_case,
    "conv_transpose2d_naive": conv_transpose2d_case,
    "transposed_conv_via_matrix": transposed_matrix_case,
    "interpolate_nearest": interpolate_nearest_case,
    "interpolate_bilinear": interpolate_bilinear_case,
    "overlap_map": overlap_case,
}


@pytest.fixture(scope="module")
def nb():  # noqa: ANN201
    return solution_namespace("05_upsampling")


# ------------------------------------------------------------------ size reference
@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), op=st.integers(0, 4),
       d=st.integers(1, 3))
def test_size_reference_is_the_size_of_a_real_transposed_conv(n, k, s, p, op, d) -> None:  # noqa: ANN001
    formula = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if op >= s and op >= d or formula < 1:
        with pytest.raises(ValueError):
            conv_transpose_output_size_reference(n, k, s, p, op, d)
        return
    real = F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op,
                              dilation=d)
    assert conv_transpose_output_size_reference(n, k, s, p, op, d) == real.shape[-1] == formula


def test_seed_examples() -> None:
    assert conv_transpose_output_size_reference(512, 3, 2) == 1025
    assert conv_transpose_output_size_reference(2, 3) == 4
    assert conv_transpose_output_size_reference(7, 4, 2, 1) == 14


def test_the_pasted_conv_matrix_calls_no_convolution_and_is_notebook_01s_matrix(nb) -> None:  # noqa: ANN001
    weight = torch.randn(2, 3, 3, 2)
    matrix, ops = aten_ops_called(nb.conv_matrix, weight, (5, 4))
    assert not [op for op in ops if "conv" in op]
    torch.testing.assert_close(matrix, conv_matrix_reference(weight, (5, 4)))


def test_the_library_ships_no_conv_matrix() -> None:
    import importlib.util

    assert importlib.util.find_spec("cnnlab.linear_maps") is None


def test_cost_formulas_match_pytorchs_flop_counter() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, 8, 6, 5)
    tconv = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, bias=False)
    resize_conv = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, padding=1, bias=False))
    costs = upsampling_costs(8, 4, (6, 5), scale=2, kernel_size=3)
    for name, layer in (("transposed conv", tconv), ("nearest + conv", resize_conv)):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            layer(x)
        assert counter.get_total_flops() == 2 * costs[name], name
    assert costs["nearest + conv"] == 4 * costs["transposed conv"]
    assert conv_transpose2d_macs(8, 4, 3, (6, 5), groups=2) == costs["transposed conv"] // 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_transposed_conv_is_a_conv_over_the_stretched_input(seed) -> None:  # noqa: ANN001
    r = RandomInputs(seed)
    s, d, k = r.rng.randint(1, 3), r.rng.randint(1, 2), r.rng.randint(1, 4)
    p = r.rng.randint(0, d * (k - 1))
    op = r.rng.randint(0, max(s, d) - 1)
    x, w = r.randn(1, 2, r.rng.randint(2, 5), r.rng.randint(2, 5)), r.randn(2, 3, k, k)
    if (min(x.shape[-2:]) - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:  # no output: nothing to compare
        return
    edge = d * (k - 1) - p
    stretched = F.pad(zero_stretch(x, s), (edge, edge + op, edge, edge + op))
    direct = F.conv2d(stretched, w.flip(-1, -2).transpose(0, 1), dilation=d)
    expected = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op, dilation=d)
    torch.testing.assert_close(direct, expected, rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_the_bilinear_formulas_are_pytorchs(seed) -> None:  # noqa: ANN001
    case = interpolate_bilinear_case(RandomInputs(seed))
    x, size = case.args
    corners = case.kwargs["align_corners"]
    expected = F.interpolate(x, size=size, mode="bilinear", align_corners=corners)
    torch.testing.assert_close(_resample(x, size, _corners if corners else _half_pixel), expected,
                               rtol=1e-4, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_nearest_cases_follow_the_plain_formula_in_float64(seed) -> None:  # noqa: ANN001
    """The hidden cases avoid float32 rounding and the CPU's same-size / double-size shortcut."""
    case = interpolate_nearest_case(RandomInputs(seed))
    (x,) = case.args
    h, w = x.shape[-2:]
    if "size" in case.kwargs:
        size = case.kwargs["size"]
        hs, ws = (size, size) if isinstance(size, int) else size
        rows = [min(math.floor(i * h / hs), h - 1) for i in range(hs)]
        cols = [min(math.floor(j * w / ws), w - 1) for j in range(ws)]
    else:
        f = case.kwargs["scale_factor"]
        fh, fw = (f, f) if isinstance(f, (int, float)) else f
        rows = [min(math.floor(i / fh), h - 1) for i in range(math.floor(h * fh))]
        cols = [min(math.floor(j / fw), w - 1) for j in range(math.floor(w * fw))]
    expected = F.interpolate(x, mode="nearest", **case.kwargs)
    torch.testing.assert_close(x[:, :, rows][:, :, :, cols], expected)


def test_overlap_reference_is_the_product_of_1d_counts() -> None:
    counts = overlap_map_reference(3, 2, 4)
    row = torch.tensor([1, 1, 2, 1, 2, 1, 2, 1, 1])
    assert counts.dtype == torch.int64 and torch.equal(counts, row[:, None] * row[None, :])
    assert torch.equal(overlap_map_reference(4, 2, 3)[2:-2, 2:-2], torch.full((4, 4), 4))


# ------------------------------------------------------------------------ solutions
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_solutions_match_pytorch(nb, seed) -> None:  # noqa: ANN001
    r = RandomInputs(seed)
    case = conv_transpose2d_case(r)
    kw = dict(case.kwargs)
    x, w, b = case.args
    expected = F.conv_transpose2d(x, w, b, kw["stride"], kw["padding"], kw["output_padding"], kw["groups"],
                                  kw["dilation"])
    torch.testing.assert_close(case.call(nb.conv_transpose2d_naive), expected, rtol=1e-4, atol=1e-4)
    y, weight = transposed_matrix_case(r).args
    torch.testing.assert_close(nb.transposed_conv_via_matrix(y, weight), F.conv_transpose2d(y[None], weight)[0],
                               rtol=1e-4, atol=1e-4)
    case = interpolate_nearest_case(r)
    torch.testing.assert_close(case.call(nb.interpolate_nearest), F.interpolate(*case.args, **case.kwargs))
    case = interpolate_bilinear_case(r)
    torch.testing.assert_close(case.call(nb.interpolate_bilinear),
                               F.interpolate(case.args[0], size=case.args[1], mode="bilinear", **case.kwargs),
                               rtol=1e-4, atol=1e-5)
    case = overlap_case(r)
    assert torch.equal(case.call(nb.overlap_map), case.call(overlap_map_reference))
    case = conv_transpose_size_case(r)
    assert case.call(nb.conv_transpose_output_size) == case.call(conv_transpose_output_size_reference)


@pytest.mark.parametrize("name", list(CASES))
def test_solutions_pass_visible_and_hidden_checks(nb, name) -> None:  # noqa: ANN001
    fn = getattr(nb, name)
    ex = get_exercise(name)
    for case in ex.visible():
        ex.check_case(fn, case)
    with hidden_tests(name) as t:
        for _ in range(5):
            t.check(fn, CASES[name](t))
        if name == "conv_transpose_output_size":
            t.check(fn, conv_transpose_size_error_case(t))


def test_output_padding_error_says_why(nb) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="output_padding"):
        nb.conv_transpose_output_size(5, 3, stride=2, output_padding=2)


@pytest.mark.parametrize(("name", "pattern"), [("conv_transpose2d_naive", CONVOLUTION),
                                               ("transposed_conv_via_matrix", CONVOLUTION),
                                               ("interpolate_nearest", INTERPOLATION),
                                               ("interpolate_bilinear", INTERPOLATION),
                                               ("overlap_map", CONVOLUTION)])
def test_builtins_are_forbidden_and_the_solution_is_allowed(nb, name, pattern) -> None:  # noqa: ANN001
    builtin = {
        "conv_transpose2d_naive": lambda x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1:
            F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
        "transposed_conv_via_matrix": lambda y, w: F.conv_transpose2d(y[None], w)[0],
        "interpolate_nearest": lambda x, size=None, scale_factor=None: F.interpolate(x, size, scale_factor),
        "interpolate_bilinear": lambda x, size, align_corners=False: F.interpolate(
            x, size, mode="bilinear", align_corners=align_corners),
        "overlap_map": overlap_map_reference,
    }[name]
    with hidden_tests(name, seed=5) as t:
        t.forbid(getattr(nb, name), CASES[name](t), pattern, "builtin")
    with pytest.raises(CheckFailed) as info, hidden_tests(name, seed=5) as t:
        t.forbid(builtin, CASES[name](t), pattern, "builtin")
    assert info.value.tag == "used-builtin"


# ------------------------------------------------------------------------ diagnoses
def test_every_misconception_has_a_wrong_implementation() -> None:
    for name, mistakes in STUDENT_MISTAKES.items():
        assert set(mistakes) == {m.tag for m in get_exercise(name).misconceptions}, name


@pytest.mark.parametrize(("name", "tag"), [(n, t) for n, ms in STUDENT_MISTAKES.items() for t in ms],
                         ids=lambda v: v)
def test_every_mistake_is_diagnosed(name, tag) -> None:  # noqa: ANN001
    ex = get_exercise(name)
    wrong = STUDENT_MISTAKES[name][tag]
    cases = list(ex.visible()) + [CASES[name](RandomInputs(s)) for s in range(80)]
    tags = diagnosed_tags(ex, wrong, cases, until=tag)
    assert tag in tags, f"{tag} never diagnosed; got {sorted(set(tags))}"


def test_missing_output_padding_check_is_reported() -> None:
    ex = get_exercise("conv_transpose_output_size")
    formula_only = STUDENT_MISTAKES["conv_transpose_output_size"]["padding-added"]  # never raises
    case = next(c for c in ex.visible() if c.raises and "output_padding" in c.kwargs)
    with pytest.raises(CheckFailed) as info:
        ex.check_case(formula_only, case)
    assert info.value.tag == "missing-error" and "stride or dilation" in info.value.details


# --------------------------------------------------------------- warnings and plots
def test_upsampling_layers_emit_no_warnings() -> None:
    x = torch.randn(1, 2, 5, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode, corners in (("nearest", None), ("bilinear", False), ("bilinear", True), ("bicubic", False)):
            F.interpolate(x, size=9, mode=mode, align_corners=corners)
        F.interpolate(x, scale_factor=1.75, mode="nearest")
        nn.Upsample(scale_factor=2, mode="bilinear")(x)
        nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)(x)


def test_source_position_figure_has_title_and_labels() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.plots import draw_source_positions

    fig = draw_source_positions(4, 8)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 3  # nearest and the two bilinear conventions
    plt.close(fig)
