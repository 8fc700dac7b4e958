"""Unit tests of the cnnlab library: diagnoses, comparisons, exercises, hidden-test machinery."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from autograder.exercises import get_exercise
from autograder.exercises.base import Exercise
from autograder.hidden import hidden_tests
from cnnlab import diagnosis as dx
from cnnlab.cases import Case
from cnnlab.comparing import EXACT, Tolerance, difference, same
from cnnlab.forbidden import CONVOLUTION, aten_ops_called, forbid_builtin
from cnnlab.integrity import require_pristine, tampering
from cnnlab.selfcheck import check


# ---------------------------------------------------------------- diagnosis
def test_misconception_needs_kebab_tag_and_a_way_to_detect() -> None:
    with pytest.raises(ValueError):
        dx.Misconception("Not Kebab", "hint", variant=abs)
    with pytest.raises(ValueError):
        dx.Misconception("no-detector", "hint")


def test_check_failed_message_starts_with_its_tag_and_renders_short() -> None:
    failure = dx.CheckFailed("conv_output_size", "ceil-vs-floor", "used ceil", "on f(8, 3)")
    assert str(failure).startswith("[ceil-vs-floor] conv_output_size: used ceil")
    assert dx.tags_in(str(failure)) == ["ceil-vs-floor"]
    rendered = "\n".join(failure._render_traceback_())
    assert "used ceil" in rendered and "Traceback" not in rendered
    extended = failure.with_details("seed 5")
    assert "seed 5" in str(extended) and extended.tag == failure.tag


def test_tags_in_keeps_order_without_repeats() -> None:
    assert dx.tags_in("[a-1] x [b-c] y [a-1]") == ["a-1", "b-c"]


def test_tags_in_ignores_indices_and_shapes_in_a_message() -> None:
    text = ("[exp-overflow] tanh: ... on tanh(Tensor(float32[9])), weight[target],\n"
            "shape '[320]' is invalid; [not-a-tag-]\nCheckFailed: [batch-dimension-lost] model: ...")
    assert dx.tags_in(text) == ["exp-overflow", "batch-dimension-lost"]


# --------------------------------------------------------------- comparing
@pytest.mark.parametrize(("got", "expected", "tag"), [
    (3, 3, None), (4, 3, dx.WRONG_VALUE), (3.0, 3, dx.WRONG_TYPE), ((1, 2), (1, 2), None),
    ((1, 3), (1, 2), dx.WRONG_VALUE), ([1, 2, 3], (1, 2), dx.WRONG_TYPE), (0.1 + 0.2, 0.3, None),
])
def test_difference_on_python_values(got, expected, tag) -> None:  # noqa: ANN001
    diff = difference(got, expected)
    assert (diff is None) if tag is None else diff[0] == tag


def test_difference_on_tensors_names_shape_dtype_and_values() -> None:
    e = torch.arange(6.0).reshape(2, 3)
    assert difference(e.clone(), e) is None
    assert difference(e.T, e)[0] == dx.WRONG_SHAPE
    assert difference(e.tolist(), e)[0] == dx.WRONG_TYPE
    assert difference(e.long(), e) is None  # integer results for float references compare by value
    assert difference(e.float(), e.long())[0] == dx.WRONG_TYPE
    bad = e.clone()
    bad[1, 2] = float("nan")
    assert difference(bad, e)[0] == dx.NOT_FINITE
    off = e.clone()
    off[0, 1] += 1
    tag, text = difference(off, e)
    assert tag == dx.WRONG_VALUE and "(0, 1)" in text
    assert same(e + 1e-7, e) and not same(e + 1e-7, e, EXACT)
    assert same(e + 0.05, e, Tolerance(0.0, 0.1))


# ---------------------------------------------------------------- exercises
def _toy_exercise(**kwargs) -> Exercise:  # noqa: ANN003
    defaults = dict(
        name="toy_floor_div", notebook="00_test", reference=lambda a, b: a // b,
        visible=lambda: [Case((7, 2)), Case((9, 3))],
        misconceptions=(dx.Misconception("ceil-vs-floor", "used ceil", variant=lambda a, b: math.ceil(a / b)),),
    )
    defaults.update(kwargs)
    return Exercise(**defaults)


def test_case_calls_on_copies() -> None:
    x = torch.zeros(3)
    case = Case((x,))
    case.call(lambda t: t.add_(1))
    assert x.sum() == 0


def test_student_errors_become_tagged_failures() -> None:
    ex = _toy_exercise()

    def stub(a, b):  # noqa: ANN001, ANN202
        raise NotImplementedError()

    with pytest.raises(dx.CheckFailed) as info:
        ex.check_case(stub, Case((7, 2)))
    assert info.value.tag == dx.NOT_IMPLEMENTED

    with pytest.raises(dx.CheckFailed) as info:
        ex.check_case(lambda a, b: [][a], Case((7, 2)))
    assert info.value.tag == dx.RAISED and "IndexError" in str(info.value)


def test_a_known_wrong_variant_is_named_only_where_it_differs() -> None:
    ex = _toy_exercise()
    wrong = lambda a, b: math.ceil(a / b)  # noqa: E731
    ex.check_case(wrong, Case((9, 3)))  # ceil == floor here: passes
    with pytest.raises(dx.CheckFailed) as info:
        ex.check_case(wrong, Case((7, 2)))
    assert info.value.tag == "ceil-vs-floor"
    with pytest.raises(dx.CheckFailed) as info:
        ex.check_case(lambda a, b: 0, Case((7, 2)))
    assert info.value.tag == dx.WRONG_VALUE


def test_mutating_an_input_is_reported() -> None:
    ex = _toy_exercise(reference=lambda t: t.sum(), visible=lambda: [])
    with pytest.raises(dx.CheckFailed) as info:
        ex.check_case(lambda t: t.mul_(0).sum() + 6, Case((torch.arange(4.0),)))
    assert info.value.tag == dx.MUTATED_INPUT


def test_expected_exceptions() -> None:
    ex = _toy_exercise()
    case = Case((1, 0), raises=ZeroDivisionError)
    ex.check_case(lambda a, b: a // b, case)
    with pytest.raises(dx.CheckFailed) as info:
        ex.check_case(lambda a, b: 0, case)
    assert info.value.tag == "missing-error"


def test_unknown_exercise_suggests_a_name() -> None:
    with pytest.raises(KeyError, match="conv2d_naive"):
        get_exercise("conv2d_naiv")


# ------------------------------------------------------- hidden-test machinery
def test_hidden_failures_name_the_seed_that_replays_them(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_SEED", "1234")
    with pytest.raises(dx.CheckFailed) as info, hidden_tests("conv_output_size") as t:
        assert t.seed == 1234
        t.expect(lambda *a, **k: 0, 28, 5)
    assert "COURSE_SEED=1234" in str(info.value) and not info.value.visible


def test_hidden_seeds_are_fresh_and_recorded(capsys) -> None:
    seeds = set()
    for _ in range(3):
        with hidden_tests("conv_output_size") as t:
            seeds.add(t.seed)
            t.expect(lambda size, k: size - k + 1, 28, 5)
    assert len(seeds) == 3
    assert "hidden tests passed (1 random cases" in capsys.readouterr().out


def test_warnings_go_to_stdout_not_stderr(capsys) -> None:
    def noisy(size, kernel_size):  # noqa: ANN001, ANN202
        warnings.warn("careful", UserWarning, stacklevel=1)
        return size - kernel_size + 1

    with hidden_tests("conv_output_size") as t:
        t.expect(noisy, 10, 3)
    out = capsys.readouterr()
    assert "careful" in out.out and out.err == ""


def test_tampered_comparators_fail_every_check(monkeypatch) -> None:
    assert tampering() == []
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    assert any("torch.allclose" in p for p in tampering())
    with pytest.raises(dx.CheckFailed) as info:
        require_pristine("anything")
    assert info.value.tag == dx.TAMPERED


def test_builtin_convolution_is_detected_but_unfold_is_not() -> None:
    x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    _, ops = aten_ops_called(F.unfold, x, 3)
    assert not any("conv" in op for op in ops)
    with pytest.raises(dx.CheckFailed) as info:
        forbid_builtin("conv2d_naive", F.conv2d, (x, w), {}, CONVOLUTION, "convolution")
    assert info.value.tag == dx.USED_BUILTIN
    with pytest.raises(dx.CheckFailed):
        forbid_builtin("conv2d_naive", lambda a, b: torch.nn.Conv2d(2, 3, 3)(a), (x, w), {}, CONVOLUTION, "conv")


# --------------------------------------------------------------- self-check
def test_check_passes_prints_what_it_means(capsys) -> None:
    def good(size, kernel_size, stride=1, padding=0, dilation=1):  # noqa: ANN001, ANN202
        from autograder.exercises.conv_arithmetic import conv_output_size_reference

        return conv_output_size_reference(size, kernel_size, stride, padding, dilation)

    check("conv_output_size", good)
    out = capsys.readouterr().out
    assert "all 8 visible checks passed" in out and "Hidden tests" in out


def test_check_without_a_definition_says_what_to_do() -> None:
    with pytest.raises(dx.CheckFailed) as info:
        check("conv_matrix")
    assert info.value.tag == "not-defined" and "Run the cell" in str(info.value)


# ------------------------------------------------------------ device, data
def test_device_override(monkeypatch) -> None:
    from cnnlab.device import pick_device

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    if not torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="COURSE_DEVICE"):
            pick_device()


def test_missing_mnist_stops_with_one_clear_message(tmp_path, monkeypatch) -> None:
    from cnnlab.data import DataMissing, load_mnist, mnist_digits

    monkeypatch.delenv("COURSE_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(DataMissing, match="COURSE_DATA_DIR"):
        load_mnist(True, root=tmp_path)
    with pytest.raises(DataMissing):
        mnist_digits(2, root=tmp_path)


def test_mnist_digits_read_the_real_files() -> None:
    from cnnlab.data import mnist_digits
    from cnnlab.paths import data_dir

    if not (data_dir() / "MNIST" / "raw").is_dir():
        pytest.skip("MNIST is not available under COURSE_DATA_DIR")
    x, y = mnist_digits(4)
    assert x.shape == (4, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert y.tolist() == [7, 2, 1, 0]


def test_tensor_loader_batches_and_shuffles_reproducibly() -> None:
    from cnnlab.data import TensorLoader

    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    loader = TensorLoader(x, y, batch_size=4)
    assert len(loader) == 3 and [len(b[0]) for b in loader] == [4, 4, 2]
    a = [b[1].tolist() for b in TensorLoader(x, y, 4, True, torch.Generator().manual_seed(0))]
    b = [b[1].tolist() for b in TensorLoader(x, y, 4, True, torch.Generator().manual_seed(0))]
    assert a == b and sorted(sum(a, [])) == list(range(10))
    assert len(TensorLoader(x, y, 4, drop_last=True)) == 2
