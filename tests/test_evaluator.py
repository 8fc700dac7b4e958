"""Issue 14: the trusted evaluator's parts, without a kernel.

The channel's decoding, the static forbidden-call check, how a hidden block finds the
notebook's functions, and how kernel replies become results and exceptions. The whole path
through a sandboxed kernel is exercised by tests/test_hostile.py and tests/test_course.py.
"""

from __future__ import annotations

import io
import pickle

import pytest
import torch
import torch.nn as nn

from autograder.evaluator.channel import MAX_REPLY_BYTES, _read_replies
from autograder.evaluator.remote import RebuiltModule, RemoteCallError, RemoteFunction, RemoteModule, decode
from autograder.evaluator.runner import notebook_names, run_hidden, split_hidden
from autograder.evaluator.static_check import forbidden_uses
from cnnlab import diagnosis as dx
from cnnlab import remote
from cnnlab.harness import ProbeNet, Recorder

# ------------------------------------------------------------------ static forbidden-call check
STUDENT = {
    "direct": "def f(x, w):\n    return F.conv2d(x, w)\n",
    "alias": "from torch.nn.functional import conv2d as c\ndef f(x, w):\n    return c(x, w)\n",
    "getattr": "def f(x, w):\n    return getattr(F, 'conv' + '2d')(x, w) if 0 else getattr(F, 'conv2d')(x, w)\n",
    "thread": ("import threading\ndef f(x, w):\n    out = []\n"
               "    t = threading.Thread(target=lambda: out.append(torch.nn.functional.conv2d(x, w)))\n"
               "    t.start(); t.join()\n    return out[0]\n"),
    "module": "def f(x, w):\n    return nn.Conv2d(1, 1, 3)(x)\n",
    "vars": "def f(x, w):\n    return vars(F)['conv2d'](x, w)\n",
}


@pytest.mark.parametrize("style", sorted(STUDENT))
def test_the_static_check_sees_every_way_of_naming_the_builtin(style: str) -> None:
    assert forbidden_uses([STUDENT[style]], "f", r"conv"), style


def test_the_static_check_follows_helpers_in_other_cells_and_module_level_aliases() -> None:
    cells = ["conv = F.conv2d\n", "def helper(x, w):\n    return conv(x, w)\n",
             "def f(x, w):\n    return helper(x, w)\n"]
    assert forbidden_uses(cells, "f", r"conv") == ["conv2d"]


def test_the_static_check_ignores_docstrings_messages_locals_and_the_students_own_names() -> None:
    honest = [
        "x_demo = F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 1, 1))\n",  # a demo cell: not reached
        "def conv_output_size(n, k):\n    return n - k + 1\n",
        '''def f(x, w):
    """Matches ``F.conv2d`` for small inputs."""
    x_demo = F.pad(x, (1, 1, 1, 1))  # a local that shares a demo's name
    cols = x_demo.unfold(2, 3, 1)
    if x.ndim != 4:
        raise ValueError("conv inputs are 4-d")
    return conv_output_size(x.shape[-1], w.shape[-1]), cols
''',
    ]
    assert forbidden_uses(honest, "f", r"conv") == []


def test_the_static_check_survives_magics_and_cells_that_do_not_parse() -> None:
    cells = ["%timeit 1 + 1\n", "def broken(:\n", "!ls\ndef f(x):\n    return torch.max_pool2d(x, 2)\n"]
    assert forbidden_uses(cells, "f", r"pool") == ["max_pool2d"]


# ------------------------------------------------------------------ hidden blocks
TEST_CELL = '''check("double")
### BEGIN HIDDEN TESTS
from cnnlab.diagnosis import CheckFailed
from cnnlab.cases import Case

for case in [Case((k,)) for k in range(1, 4)]:
    if double(*case.args) != 2 * case.args[0]:
        raise CheckFailed("double", "wrong-value", "not twice the input", case.describe("double"))
print("✓ double: 3 cases")
### END HIDDEN TESTS
'''


def test_a_test_cell_splits_into_its_visible_part_and_its_hidden_block() -> None:
    visible, hidden = split_hidden(TEST_CELL)
    assert visible.strip() == 'check("double")'
    assert "double(*case.args)" in hidden and "BEGIN" not in hidden
    assert split_hidden("check('x')\n") == ("check('x')\n", "")


def test_the_names_a_hidden_block_reads_without_binding_are_the_notebooks_functions() -> None:
    hidden = split_hidden(TEST_CELL)[1]
    assert notebook_names(hidden) == ["double"]
    loop = ("for name, fn in (('relu', relu), ('elu', elu)):\n"
            "    with hidden_tests(name) as t:\n        t.check(fn, 1)\n")
    assert notebook_names(loop) == ["relu", "elu", "hidden_tests"]


def _fake_kernel(fn):  # noqa: ANN001, ANN202
    """An ``ask`` that answers like cnnlab.remote.serve, through a real weights_only round trip."""

    def ask(name: str, calls: list, op: str = "call") -> list[dict]:
        replies = [remote._call(fn, args, kwargs) for args, kwargs in calls]
        buffer = io.BytesIO()
        torch.save(replies, buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)

    return ask


def test_the_verdict_comes_from_the_hidden_block_not_from_the_kernel() -> None:
    hidden = split_hidden(TEST_CELL)[1]
    passed = run_hidden(hidden, _fake_kernel(lambda k: 2 * k), [])
    assert passed.output_type == "stream" and "✓ double" in passed.text
    failed = run_hidden(hidden, _fake_kernel(lambda k: k), [])
    assert (failed.output_type, failed.ename) == ("error", "HiddenTestFailed")
    assert failed.evalue.startswith("[wrong-value] double: not twice the input")


def test_a_kernel_that_cannot_answer_fails_that_cell_with_a_tag() -> None:
    def ask(name: str, calls: list, op: str = "call") -> list[dict]:
        raise RemoteCallError("no-reply", "the kernel did not answer")

    out = run_hidden(split_hidden(TEST_CELL)[1], ask, [])
    assert out.output_type == "error" and out.evalue.startswith("[no-reply]")


# ------------------------------------------------------------------ replies
def test_kernel_errors_come_back_as_builtin_exceptions_with_the_students_line() -> None:
    def student(x):  # noqa: ANN001, ANN202
        raise NotImplementedError()

    fn = RemoteFunction("f", _fake_kernel(student), [])
    with pytest.raises(NotImplementedError):
        fn(1)

    class Custom(ValueError):
        pass

    def picky(x):  # noqa: ANN001, ANN202
        raise Custom("too big")

    with pytest.raises(ValueError, match="Custom.*too big"):
        RemoteFunction("f", _fake_kernel(picky), [])(1)


def test_a_missing_function_is_reported_as_not_defined() -> None:
    fn = RemoteFunction("f", lambda name, calls, op="call": [{"missing": True}], [])
    with pytest.raises(dx.CheckFailed) as info:
        fn(1)
    assert info.value.tag == "not-defined"


def test_in_place_updates_in_the_kernel_reach_the_evaluators_arguments() -> None:
    def update(running: torch.Tensor, model: nn.Module) -> int:
        running.add_(1)
        model(torch.zeros(3, 1, 8, 8))
        return 0

    running, model = torch.zeros(3), Recorder(ProbeNet())
    fn = RemoteFunction("f", _fake_kernel(update), [])
    sent = (running.clone(), pickle.loads(pickle.dumps(model)))  # the kernel works on its own copies
    fn.prefetch([type("C", (), {"args": sent, "kwargs": {}})()])
    fn(running, model)
    assert running.tolist() == [1.0, 1.0, 1.0] and model.calls == [(True, True, 3)]


def test_modules_cross_as_structure_and_student_classes_stay_behind_a_handle() -> None:
    seq = nn.Sequential(nn.Conv2d(2, 2, 3, groups=2, bias=False), nn.Conv2d(2, 4, 1, bias=False))
    rebuilt = decode(remote.encode(seq))
    x = torch.randn(1, 2, 5, 5)
    assert isinstance(rebuilt[0], nn.Conv2d) and rebuilt[0].groups == 2 and rebuilt[0].bias is None
    assert torch.equal(rebuilt(x), seq(x))

    class Mine(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x).relu()

    calls: list[str] = []

    def ask(name: str, calls_: list, op: str = "call") -> list[dict]:
        calls.append(op)
        (handle, sync, *args), kwargs = calls_[0]
        return [remote._forward(handle, sync, tuple(args), kwargs)]

    net = decode(remote.encode(Mine(), handles=True), ask)
    assert isinstance(net, RemoteModule) and isinstance(net.fc, nn.Linear)
    with torch.no_grad():
        net.fc.weight.fill_(1.0)
        net.fc.bias.fill_(-10.0)  # the grader's copy decides the weights used in the kernel
    seen = []
    net.fc.register_forward_hook(lambda m, i, o: seen.append(o.clone()))
    out = net(torch.ones(3, 4))
    assert calls == ["forward"] and torch.equal(out, torch.zeros(3, 2)) and len(seen) == 1
    assert torch.equal(seen[0], torch.full((3, 2), -6.0))


def test_only_torch_nn_and_cnnlab_classes_are_rebuilt_as_themselves() -> None:
    data = remote.encode(nn.Linear(2, 2))
    data["__module__"] = "os.system"
    assert type(decode(data)) is RebuiltModule


def test_replies_are_read_safely(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "reply.pt"
    with pytest.raises(RemoteCallError, match="did not answer"):
        _read_replies(path, 1)
    torch.save([{"result": 1}], path)
    assert _read_replies(path, 1) == [{"result": 1}]
    with pytest.raises(RemoteCallError, match="one reply per call"):
        _read_replies(path, 2)

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (print, ("pwned",))

    torch.save([{"result": Evil()}], path)
    with pytest.raises(RemoteCallError) as info:
        _read_replies(path, 1)
    assert info.value.tag == "unreadable-reply"
    with open(path, "wb") as f:
        f.truncate(MAX_REPLY_BYTES + 1)
    with pytest.raises(RemoteCallError) as info:
        _read_replies(path, 1)
    assert info.value.tag == "reply-too-large"


def test_numpy_scalars_and_builtin_subclasses_come_back_as_plain_numbers() -> None:
    import numpy as np

    fn = RemoteFunction("f", _fake_kernel(lambda: (np.int64(3), np.float64(0.5), np.bool_(True))), [])
    assert fn() == (3, 0.5, True)
    assert [type(v) for v in fn()] == [int, float, bool]
