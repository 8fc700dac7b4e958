"""A corpus of hostile or broken submissions of notebook 01, each with its expected outcome.

Every case starts from the full solution with the demo cells removed (so grading is quick),
then changes it the way a cheating student or an accident would. ``Expect`` says what the
grader must do; ``tests/test_hostile.py`` grades the whole corpus in one run, beside an
honest student, and checks each case.

Notebook 01's tests: conv_output_size (2 points), same_padding (2), conv2d_naive (3),
conv2d_unfold (3), conv_matrix (2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from autograder.course import Course
from autograder.examples import filled, solution_sources

ASSIGNMENT = "01_conv_arithmetic"
TESTS = {"test_conv_output_size": 2.0, "test_same_padding": 2.0, "test_conv2d_naive": 3.0, "test_conv2d_unfold": 3.0, "test_conv_matrix": 2.0}
_TUPLE_SIZES = """
    if isinstance(size, tuple):  # right for tuples, so the convolutions that call it still work
        spread = [x if isinstance(x, tuple) else (x,) * len(size) for x in (kernel_size, stride, padding, dilation)]
        return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(size, *spread))
"""
# Wrong for plain ints (what test_conv_output_size checks), right for the tuples the convolutions use.
WRONG_SIZE = (
    "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):" + _TUPLE_SIZES + "    return 0\n"
)


@dataclass
class Context:
    """What a case may need to know about the grading run it attacks."""

    repo: str
    workspace: str
    port: int  # a TCP port on the grading host that is listening


@dataclass
class Expect:
    """The required outcome of one hostile case."""

    status: str = "ok"  # ok | kernel-died | notebook-timeout | rejected | ...
    full: tuple[str, ...] = ()  # tests that keep full points
    zero: tuple[str, ...] = ()  # tests that must score 0
    tags: dict[str, str] = field(default_factory=dict)  # test -> diagnosis tag in its output
    output: dict[str, str] = field(default_factory=dict)  # answer-cell id -> text its output must contain
    not_output: dict[str, str] = field(default_factory=dict)  # answer-cell id -> text that must not appear
    test_output: dict[str, str] = field(default_factory=dict)  # test id -> text its output must contain
    reason: str = ""  # for rejections: text in the reason
    max_score: float = 16.0  # 12 autograded + 4 for the think questions (graded by hand)


@dataclass
class Case:
    name: str
    what: str  # the attack, for the README table
    build: Callable[[Context], bytes | nbformat.NotebookNode]
    expect: Expect
    filename: str | None = None  # submit under another file name

    @property
    def outcome(self) -> str:
        """What happens, in words (the README's table)."""
        return OUTCOMES[self.name]


def base(answers: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The full solution (answers overridden by ``answers``) without the ungraded demo cells."""
    course = Course()
    plan = dict.fromkeys(solution_sources(course, ASSIGNMENT), "solution")
    plan.update(answers or {})
    nb = filled(course, ASSIGNMENT, plan)
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown" or c.metadata.get("nbgrader")]
    return nb


def solution(grade_id: str) -> str:
    return solution_sources(Course(), ASSIGNMENT)[grade_id]


def _prepend(grade_id: str, code: str, keep_solution: bool = True) -> dict[str, str]:
    return {grade_id: code + "\n" + (solution(grade_id) if keep_solution else "")}


def _set_test_source(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


def _set_points(nb: nbformat.NotebookNode, grade_id: str, points: float) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.metadata.nbgrader["points"] = points
    return nb


def _earns_nothing(name: str, what: str, build: Callable[[Context], nbformat.NotebookNode]) -> Case:
    """A trick with wrong answers or stubs: every test must score 0."""
    return Case(name, what, build, Expect(zero=tuple(TESTS)))


ALL_BUT_SIZE = ("test_conv2d_naive", "test_conv2d_unfold", "test_conv_matrix")
FIRST_THREE = ("test_conv_output_size", "test_conv2d_naive", "test_conv2d_unfold")
TAMPERED = "tampered-environment"

CASES: list[Case] = [
    Case(
        "patch-allclose",
        "monkeypatches torch.allclose to always say True, with a wrong answer",
        lambda ctx: base({"conv_output_size": "import torch\ntorch.allclose = lambda *a, **k: True\n" + WRONG_SIZE}),
        Expect(zero=("test_conv_output_size",), full=ALL_BUT_SIZE, tags={"test_conv_output_size": "wrong-value"}),
    ),
    Case(
        "patch-assert-close",
        "replaces torch.testing.assert_close with a no-op, with a wrong answer",
        lambda ctx: base(
            {"conv_output_size": "import torch\ntorch.testing.assert_close = lambda *a, **k: None\n" + WRONG_SIZE}
        ),
        Expect(zero=("test_conv_output_size",), full=ALL_BUT_SIZE),
    ),
    Case(
        "patch-equal",
        "monkeypatches torch.equal, with a wrong answer",
        lambda ctx: base({"conv_output_size": "import torch\ntorch.equal = lambda *a, **k: True\n" + WRONG_SIZE}),
        Expect(zero=("test_conv_output_size",), full=ALL_BUT_SIZE),
    ),
    Case(
        "input-transformer",
        "turns every later cell into `pass` with an IPython input transformer",
        lambda ctx: base(
            _prepend(
                "conv2d_naive",
                "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
                keep_solution=False,
            )
        ),
        Expect(
            full=("test_conv_output_size",),
            zero=ALL_BUT_SIZE,
            tags={"test_conv2d_naive": "no-reply", "test_conv_matrix": "no-reply"},
        ),
    ),
    Case(
        "ast-transformer",
        "an AST transformer that deletes every `raise` and `assert`",
        lambda ctx: base(
            {
                "conv_output_size": (
                    "import ast\nclass Quiet(ast.NodeTransformer):\n"
                    "    def visit_Raise(self, node): return ast.Pass()\n"
                    "    def visit_Assert(self, node): return ast.Pass()\n"
                    "get_ipython().ast_transformers.append(Quiet())\n" + WRONG_SIZE
                )
            }
        ),
        Expect(zero=("test_conv_output_size",), full=ALL_BUT_SIZE),
    ),
    Case(
        "read-solutions",
        "reads solutions/ (the hidden tests) and the gradebook",
        lambda ctx: base(
            _prepend(
                "conv_output_size",
                (
                    "for _path in [r'{repo}/solutions/01_conv_arithmetic/01_conv_arithmetic.ipynb', r'{ws}/gradebook.db']:\n"
                    "    try:\n"
                    "        open(_path, 'rb').read(100)\n"
                    "        print('READ OK', _path)\n"
                    "    except OSError as _e:\n"
                    "        print('BLOCKED', type(_e).__name__)\n"
                ).format(repo=ctx.repo, ws=ctx.workspace),
            )
        ),
        Expect(full=tuple(TESTS), output={"conv_output_size": "BLOCKED"}, not_output={"conv_output_size": "READ OK"}),
    ),
    Case(
        "write-gradebook",
        "overwrites, then deletes, the gradebook",
        lambda ctx: base(
            _prepend(
                "conv_output_size",
                (
                    "import os\n_db = r'{ws}/gradebook.db'\n"
                    "for _act in (lambda: open(_db, 'wb').write(b'garbage'), lambda: os.remove(_db)):\n"
                    "    try:\n        _act()\n        print('WROTE', _db)\n"
                    "    except OSError as _e:\n        print('BLOCKED', type(_e).__name__)\n"
                ).format(ws=ctx.workspace),
            )
        ),
        Expect(full=tuple(TESTS), output={"conv_output_size": "BLOCKED"}, not_output={"conv_output_size": "WROTE"}),
    ),
    Case(
        "os-exit",
        "calls os._exit(0) in an answer cell",
        lambda ctx: base(_prepend("conv2d_unfold", "import os\nos._exit(0)", keep_solution=False)),
        Expect(
            status="kernel-died",
            full=("test_conv_output_size", "test_conv2d_naive"),
            zero=("test_conv2d_unfold", "test_conv_matrix"),
            tags={"test_conv_matrix": "not-run"},
        ),
    ),
    Case(
        "sys-exit",
        "calls sys.exit(3) before defining its answer",
        lambda ctx: base(_prepend("conv_matrix", "import sys\nsys.exit(3)", keep_solution=False)),
        Expect(full=FIRST_THREE, zero=("test_conv_matrix",), tags={"test_conv_matrix": "not-defined"}),
    ),
    Case(
        "infinite-loop",
        "an infinite loop in an answer cell (stopped by the per-cell limit)",
        lambda ctx: base({"conv_matrix": "while True:\n    pass\n" + solution("conv_matrix")}),
        Expect(full=FIRST_THREE, zero=("test_conv_matrix",)),
    ),
    Case(
        "loop-ignoring-interrupts",
        "ignores SIGINT, then loops forever (the kernel is stopped)",
        lambda ctx: base(
            {"conv_matrix": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"}
        ),
        Expect(
            status="kernel-unresponsive",
            full=FIRST_THREE,
            zero=("test_conv_matrix",),
            tags={"test_conv_matrix": "not-run"},
        ),
    ),
    Case(
        "memory-bomb",
        "allocates 64 GiB",
        lambda ctx: base(_prepend("conv_matrix", "_hog = bytearray(64 * 2**30)", keep_solution=False)),
        Expect(full=FIRST_THREE, zero=("test_conv_matrix",)),
    ),
    Case(
        "fork-bomb",
        "forks in a loop",
        lambda ctx: base(_prepend("conv_matrix", "import os\nwhile True:\n    os.fork()", keep_solution=False)),
        Expect(status="any", full=FIRST_THREE, zero=("test_conv_matrix",)),
    ),
    Case(
        "network",
        "opens a TCP connection to the grading host",
        lambda ctx: base(
            _prepend(
                "conv_output_size",
                (
                    "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
                    "    print('CONNECTED')\nexcept OSError as _e:\n    print('NETWORK BLOCKED', type(_e).__name__)\n"
                ).format(port=ctx.port),
            )
        ),
        Expect(
            full=tuple(TESTS),
            output={"conv_output_size": "NETWORK BLOCKED"},
            not_output={"conv_output_size": "CONNECTED"},
        ),
    ),
    Case(
        "print-flood",
        "prints 1 GB",
        lambda ctx: base(
            _prepend("conv_output_size", "_chunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(_chunk)")
        ),
        Expect(full=tuple(TESTS), output={"conv_output_size": "[output-limit]"}),
    ),
    Case(
        "corrupt-json",
        "a notebook file that is not JSON",
        lambda ctx: b'{"cells": [ this is not json',
        Expect(status="rejected", reason="corrupt notebook"),
    ),
    Case(
        "renamed-notebook",
        "the notebook saved under another name",
        lambda ctx: base(),
        Expect(status="rejected", reason="wrong file name"),
        filename="my answers.ipynb",
    ),
    Case("deleted-test-cells", "deletes every test cell", lambda ctx: _drop_tests(base()), Expect(full=tuple(TESTS))),
    Case(
        "edited-test-cell",
        "rewrites a test cell to `pass`, with a wrong answer",
        lambda ctx: _set_test_source(base({"conv_output_size": WRONG_SIZE}), "test_conv_output_size", "pass"),
        Expect(full=ALL_BUT_SIZE, zero=("test_conv_output_size",)),
    ),
    Case(
        "edited-points",
        "sets a test's points to 100, with a wrong answer",
        lambda ctx: _set_points(base({"conv_output_size": WRONG_SIZE}), "test_conv_output_size", 100),
        Expect(full=ALL_BUT_SIZE, zero=("test_conv_output_size",)),
    ),
    Case(
        "changed-kernelspec",
        "switches the notebook to another kernel",
        lambda ctx: _kernelspec(base(), {"name": "evil", "display_name": "Evil", "language": "python"}),
        Expect(full=tuple(TESTS)),
    ),
    Case(
        "hardcoded-visible",
        "hard-codes the answers of the visible checks",
        lambda ctx: base({"conv_output_size": _HARDCODED}),
        Expect(
            full=ALL_BUT_SIZE,
            zero=("test_conv_output_size",),
            test_output={"test_conv_output_size": "expected"},
        ),
    ),
    # ---- issue 14: tricks that forged grades while the hidden tests ran in the kernel (all wrong answers)
    _earns_nothing(
        "patch-course-library",
        "replaces the checking code of every importable module (cnnlab's hidden_tests, check_case, judge, "
        "the channel's encoder), with wrong answers",
        lambda ctx: base(_all_wrong(PATCH_EVERYTHING)),
    ),
    _earns_nothing(
        "walk-frames",
        "walks the call stack and the garbage collector for any object with a `reference`, and imports "
        "the exercise modules, to delegate to the answer key",
        lambda ctx: base(_all_wrong(DELEGATE_TO_REFERENCE, delegate=True)),
    ),
    _earns_nothing(
        "forged-kernel-messages",
        "publishes a fake `execute_result` (10 points) and `status: idle` from a pre-run hook, with stubs",
        lambda ctx: base(_all_wrong(FORGE_MESSAGES, stubs=True)),
    ),
    _earns_nothing(
        "hooks-clear-errors",
        "a custom exception handler and a post-run hook that swallow every error, with stubs",
        lambda ctx: base(_all_wrong(CLEAR_ERRORS, stubs=True)),
    ),
    _earns_nothing(
        "cell-above-setup",
        "a cell moved above the locked setup cell installs the hooks, with wrong answers",
        lambda ctx: _insert_first(base(_all_wrong("")), FORGE_MESSAGES + CLEAR_ERRORS),
    ),
    _earns_nothing(
        "wrap-message-handlers",
        "wraps the kernel's execute_request handler to answer `ok` without running anything, with stubs",
        lambda ctx: base(_all_wrong(WRAP_HANDLERS, stubs=True)),
    ),
    Case(
        "builtin-in-thread",
        "calls F.conv2d from a worker thread (and via getattr with a string) inside its convolutions",
        lambda ctx: base({"conv2d_naive": CONV_IN_THREAD, "conv2d_unfold": CONV_BY_GETATTR}),
        Expect(
            full=("test_conv_output_size", "test_conv_matrix"),
            zero=("test_conv2d_naive", "test_conv2d_unfold"),
            tags={"test_conv2d_naive": "used-builtin", "test_conv2d_unfold": "used-builtin"},
        ),
    ),
    Case(
        "hangs-on-hidden-inputs",
        "passes the visible checks, then loops forever on the grader's larger inputs",
        lambda ctx: base({"conv_matrix": _only_small("while True:\n            pass")}),
        Expect(full=FIRST_THREE, zero=("test_conv_matrix",), tags={"test_conv_matrix": "call-timeout"}),
    ),
    Case(
        "exits-on-hidden-inputs",
        "passes the visible checks, then kills its kernel (os._exit) on the grader's inputs",
        lambda ctx: base({"conv_matrix": _only_small("import os\n        os._exit(0)")}),
        Expect(status="kernel-died", full=FIRST_THREE, zero=("test_conv_matrix",),
               tags={"test_conv_matrix": "kernel-died"}),
    ),
    # ---- honest students whose correct code lost points before issue 14
    Case(
        "honest-styles",
        "correct code in other styles: numpy, einsum over as_strided windows, F.unfold, helpers in their own "
        "cell, a helper named `check`, a tqdm bar on stderr, float64 as the default dtype",
        lambda ctx: _insert_after(base(HONEST_STYLES), "conv_output_size", HONEST_HELPERS),
        Expect(full=tuple(TESTS)),
    ),
]


OUTCOMES = {
    "patch-allclose": "the wrong answer scores 0 (`[wrong-value]`): the evaluator compares in its own process, where the patch does not exist; the honest answers keep their points",
    "patch-assert-close": "the wrong answer scores 0; nothing the kernel patches reaches the evaluator",
    "patch-equal": "the wrong answer scores 0; nothing the kernel patches reaches the evaluator",
    "input-transformer": "tests before the attack keep their points; the transformer also swallows the grader's call, which then finds no answer file: every later test 0 (`[no-reply]`)",
    "ast-transformer": "the wrong answer scores 0; the transformer changes only the student's own cells",
    "read-solutions": "both reads fail (the files do not exist inside the sandbox); graded normally",
    "write-gradebook": "both writes fail (the gradebook is not in the sandbox); graded normally",
    "os-exit": "marked `kernel-died`; tests before keep their points, later tests 0 tagged `[not-run]`",
    "sys-exit": "the cell errors, its test scores 0 (`[not-defined]`); the rest are graded normally",
    "infinite-loop": "interrupted at the per-cell limit; its test 0, the rest graded normally",
    "loop-ignoring-interrupts": "marked `kernel-unresponsive` and stopped; tests before keep their points, later tests 0 (`[not-run]`)",
    "memory-bomb": "`MemoryError` under the address-space limit; its test 0, the rest graded normally",
    "fork-bomb": "stopped by the cgroup process limit and the kernel is killed; tests before keep their points, its test 0",
    "network": "the connection fails (no network in the sandbox); graded normally",
    "print-flood": "output beyond 200,000 characters per cell is dropped as it arrives (`[output-limit]`); graded normally",
    "corrupt-json": "rejected before grading: “corrupt notebook: invalid JSON at line …”",
    "renamed-notebook": "rejected before grading: “wrong file name: expected 01_conv_arithmetic.ipynb”",
    "deleted-test-cells": "the test cells are put back from the gradebook and run; graded normally",
    "edited-test-cell": "the test cell is restored from the gradebook (checksum); the wrong answer scores 0 there",
    "edited-points": "points come from the gradebook: still out of 12; the wrong answer scores 0",
    "changed-kernelspec": "the kernelspec is restored and the course kernel pinned; graded normally",
    "hardcoded-visible": "the visible checks would pass at the desk; the hidden tests (random inputs, drawn by the evaluator) fail: 0 for that exercise",
    "patch-course-library": "every test 0: the hidden tests, references and comparisons live in the evaluator's process, which the kernel cannot reach",
    "walk-frames": "every test 0: no reference exists in the kernel (`cnnlab` holds none, `autograder` is not importable there), so there is nothing to find",
    "forged-kernel-messages": "every test 0: the score is the evaluator's verdict, written into the test cell by the grader; kernel messages count for nothing",
    "hooks-clear-errors": "every test 0: errors the kernel swallows do not matter, the evaluator judges the returned values",
    "cell-above-setup": "every test 0, like the same hooks anywhere else",
    "wrap-message-handlers": "every test 0 (`[no-reply]`): the evaluator reads only the answer file, and there is none",
    "builtin-in-thread": "both convolutions 0 (`[used-builtin]`): the evaluator reads the source, where the thread and the string still name conv2d",
    "hangs-on-hidden-inputs": "its test 0 (`[call-timeout]`): the evaluator's call is interrupted at the per-cell limit; the rest graded normally",
    "exits-on-hidden-inputs": "marked `kernel-died`; its test 0 (`[kernel-died]`), earlier tests keep their points",
    "honest-styles": "full marks",
}


STUBS = {
    "conv_output_size": "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n    raise NotImplementedError()\n",
    "conv2d_naive": "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n    raise NotImplementedError()\n",
    "conv2d_unfold": "def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n    raise NotImplementedError()\n",
    "conv_matrix": "def conv_matrix(weight, input_size):\n    raise NotImplementedError()\n",
    "same_padding": "def same_padding(kernel_size, dilation=1):\n    raise NotImplementedError()\n",
}
WRONG = {
    "conv_output_size": WRONG_SIZE,
    "conv2d_naive": "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n    return torch.zeros(1)\n",
    "conv2d_unfold": "def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n    return torch.zeros(1)\n",
    "conv_matrix": "def conv_matrix(weight, input_size):\n    return torch.zeros(1, 1)\n",
    "same_padding": "def same_padding(kernel_size, dilation=1):\n    return (0, 0)\n",
}
DELEGATING = {
    "conv_output_size": "def conv_output_size(*a, **k):\n    return _delegate('conv_output_size', WRONG_SIZE_FN, *a, **k)\n",
    "conv2d_naive": "def conv2d_naive(*a, **k):\n    return _delegate('conv2d_naive', lambda *a, **k: torch.zeros(1), *a, **k)\n",
    "conv2d_unfold": "def conv2d_unfold(*a, **k):\n    return _delegate('conv2d_unfold', lambda *a, **k: torch.zeros(1), *a, **k)\n",
    "conv_matrix": "def conv_matrix(*a, **k):\n    return _delegate('conv_matrix', lambda *a, **k: torch.zeros(1, 1), *a, **k)\n",
    "same_padding": "def same_padding(*a, **k):\n    return _delegate('same_padding', lambda *a, **k: (0, 0), *a, **k)\n",
}


def _all_wrong(prelude: str, *, stubs: bool = False, delegate: bool = False) -> dict[str, str]:
    """Every answer wrong (or a stub), with ``prelude`` (the trick) at the top of the first answer cell."""
    answers = dict(STUBS if stubs else DELEGATING if delegate else WRONG)
    answers["conv_output_size"] = prelude + "\n" + answers["conv_output_size"]
    return answers


PATCH_EVERYTHING = """
import contextlib, sys
class _Yes:
    def __getattr__(self, name):
        return lambda *a, **k: None
@contextlib.contextmanager
def _pass(*a, **k):
    yield _Yes()
for _module in list(sys.modules.values()):
    for _name in ('hidden_tests', 'check', 'check_case', 'judge', 'require_pristine', 'difference',
                  'find_misconception', 'forbid_builtin', 'assert_close'):
        try:
            if hasattr(_module, _name):
                setattr(_module, _name, _pass if _name == 'hidden_tests' else (lambda *a, **k: None))
        except Exception:
            pass
try:  # the answer key, if the kernel could import it (it cannot)
    import autograder.exercises.base as _base
    _base.Exercise.check_case = lambda *a, **k: None
    _base.Exercise.judge = lambda *a, **k: None
except ImportError:
    pass
import cnnlab.checks.calling, cnnlab.remote
cnnlab.checks.calling.mismatch = lambda *a, **k: None
_real_encode = cnnlab.remote.encode
cnnlab.remote.encode = lambda value, **k: _real_encode(value, **k)
"""
DELEGATE_TO_REFERENCE = """
import gc, sys
WRONG_SIZE_FN = lambda *a, **k: 0
def _delegate(name, fallback, *a, **k):
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            ref = getattr(value, 'reference', None)
            if callable(ref) and getattr(value, 'name', None) == name:
                return ref(*a, **k)
        frame = frame.f_back
    for obj in gc.get_objects():
        try:
            if getattr(obj, 'name', None) == name and callable(getattr(obj, 'reference', None)):
                return obj.reference(*a, **k)
        except Exception:
            pass
    try:
        from autograder.exercises import get_exercise
        return get_exercise(name).reference(*a, **k)
    except Exception:
        pass
    return fallback(*a, **k)
"""
FORGE_MESSAGES = """
def _forge(*args, **kwargs):
    ip = get_ipython()
    kernel = getattr(ip, 'kernel', None)
    if kernel is None:
        return
    parent = kernel.get_parent() if hasattr(kernel, 'get_parent') else {}
    content = {'data': {'text/plain': '10'}, 'metadata': {}, 'execution_count': 1}
    kernel.session.send(kernel.iopub_socket, 'execute_result', content, parent=parent)
    kernel.session.send(kernel.iopub_socket, 'status', {'execution_state': 'idle'}, parent=parent)
get_ipython().events.register('pre_run_cell', _forge)
"""
CLEAR_ERRORS = """
get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
def _clear(result):
    result.error_in_exec = None
    result.error_before_exec = None
get_ipython().events.register('post_run_cell', _clear)
"""
WRAP_HANDLERS = """
_kernel = get_ipython().kernel
_real = _kernel.shell_handlers['execute_request']
async def _answer_ok(stream, ident, parent):
    _kernel.session.send(stream, 'execute_reply', {'status': 'ok', 'execution_count': 1, 'user_expressions': {}},
                         parent, ident=ident)
_kernel.shell_handlers['execute_request'] = _answer_ok
"""
CONV_IN_THREAD = """
import concurrent.futures
def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(F.conv2d, x, weight, bias, stride, padding, dilation, groups).result()
"""
CONV_BY_GETATTR = """
def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return getattr(torch.nn.functional, 'conv2d')(x, weight, bias, stride, padding, dilation, groups)
"""
HONEST_HELPERS = """
import numpy as np
from tqdm.auto import tqdm

torch.set_default_dtype(torch.float64)  # the student's own choice: the grader's references must not care


def check(*args, **kwargs):  # a helper of the student's own, named like the course's
    return True


def _window_view(xp, kh, kw, sh, sw, dh, dw, h_out, w_out):
    n, c = xp.shape[:2]
    s = xp.stride()
    return xp.as_strided((n, c, h_out, w_out, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw))
"""
HONEST_STYLES = {
    "conv_output_size": """
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    args = [np.atleast_1d(np.asarray(a, dtype=np.int64)) for a in (size, kernel_size, stride, padding, dilation)]
    n, k, s, p, d = np.broadcast_arrays(*args)
    span = d * (k - 1) + 1
    if np.any(n + 2 * p < span):
        raise ValueError("the dilated kernel does not fit in the padded input")
    out = (n + 2 * p - span) // s + 1
    if not any(isinstance(a, (tuple, list)) for a in (size, kernel_size, stride, padding, dilation)):
        return int(out[0])
    return tuple(int(v) for v in out)
""",
    "conv2d_naive": """
def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (ph, pw), (dh, dw) = as_pair(stride), as_pair(padding), as_pair(dilation)
    c_out, cin_g, kh, kw = weight.shape
    h_out, w_out = conv_output_size((x.shape[2], x.shape[3]), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    xp = F.pad(x, (pw, pw, ph, ph)).contiguous()
    windows = _window_view(xp, kh, kw, sh, sw, dh, dw, h_out, w_out)
    outs = []
    for g in tqdm(range(groups), desc="groups"):  # a progress bar on stderr
        w = weight[g * (c_out // groups):(g + 1) * (c_out // groups)]
        outs.append(torch.einsum("nchwij,ocij->nohw", windows[:, g * cin_g:(g + 1) * cin_g], w))
    out = torch.cat(outs, dim=1)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
}


def _only_small(trick: str) -> str:
    """conv_matrix that is right for the visible checks' inputs (at most 5 pixels) and runs ``trick`` on others."""
    body = solution("conv_matrix").replace("def conv_matrix(", "def _conv_matrix_ok(", 1)
    return body + f"""

def conv_matrix(weight, input_size):
    if max(as_pair(input_size)) > 5 or weight.shape[0] > 2:
        {trick}
    return _conv_matrix_ok(weight, input_size)
"""


def _insert_first(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    nb.cells.insert(0, nbformat.v4.new_code_cell(source))
    return nb


def _insert_after(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    """A cell of the student's own (no nbgrader metadata) just before the answer cell ``grade_id``."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    return nb


def _drop_tests(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    return nb


def _kernelspec(nb: nbformat.NotebookNode, spec: dict) -> nbformat.NotebookNode:
    nb.metadata["kernelspec"] = spec
    return nb


_HARDCODED = (
    """
_SEEN = {(28, 5): 24, (7, 3, 2): 3, (8, 3, 2): 3, (32, 3, 1, 1): 32, (10, 3, 1, 0, 2): 6, (9, 3, 2, 1, 2): 4}
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):"""
    + _TUPLE_SIZES
    + """
    if size + 2 * padding < dilation * (kernel_size - 1) + 1:
        raise ValueError("does not fit")
    for key, value in _SEEN.items():
        if key[:2] == (size, kernel_size):
            return value
    return 1
"""
)


def write_case(case: Case, root, ctx: Context):  # noqa: ANN001, ANN201
    """Write one case as ``root/<case>/<assignment>/<file>``; return the path."""
    folder = root / case.name / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (case.filename or f"{ASSIGNMENT}.ipynb")
    content = case.build(ctx)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content, indent=1))
    return path


def markdown_table() -> str:
    """The README's table: case, attack, outcome."""
    rows = ["| case | what the submission does | outcome |", "|---|---|---|"]
    rows += [f"| `{c.name}` | {c.what} | {c.outcome} |" for c in CASES]
    return "\n".join(rows)


README_START = "<!-- hostile-corpus-table: generated by tests/hostile_corpus.py, checked by tests/test_hostile.py -->"
README_END = "<!-- end hostile-corpus-table -->"


def readme_section(text: str) -> str:
    """The table currently between the README's markers."""
    return text.split(README_START, 1)[1].split(README_END, 1)[0].strip()


def update_readme(path) -> None:  # noqa: ANN001
    """Rewrite the README's table from ``CASES`` (``python tests/hostile_corpus.py``)."""
    text = path.read_text()
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    path.write_text(f"{before}{README_START}\n{markdown_table()}\n{README_END}{after}")


if __name__ == "__main__":
    update_readme(Course().root / "README.md")
