"""A corpus of hostile or broken submissions of notebook 01, each with its expected outcome.

Every case starts from the full solution with the demo cells removed (so grading is quick),
then changes it the way a cheating student or an accident would. ``Expect`` says what the
grader must do; ``tests/test_hostile.py`` grades the whole corpus in one run, beside an
honest student, and checks each case.

Notebook 01's tests: conv_output_size (2 points), conv2d_naive (3), conv2d_unfold (3),
conv_matrix (2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from autograder.course import Course
from autograder.examples import filled, solution_sources

ASSIGNMENT = "01_conv_arithmetic"
TESTS = {"test_conv_output_size": 2.0, "test_conv2d_naive": 3.0, "test_conv2d_unfold": 3.0, "test_conv_matrix": 2.0}
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
    max_score: float = 10.0


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


ALL_BUT_SIZE = ("test_conv2d_naive", "test_conv2d_unfold", "test_conv_matrix")
FIRST_THREE = ("test_conv_output_size", "test_conv2d_naive", "test_conv2d_unfold")
TAMPERED = "tampered-environment"

CASES: list[Case] = [
    Case(
        "patch-allclose",
        "monkeypatches torch.allclose to always say True, with a wrong answer",
        lambda ctx: base({"conv_output_size": "import torch\ntorch.allclose = lambda *a, **k: True\n" + WRONG_SIZE}),
        Expect(zero=tuple(TESTS), tags={"test_conv_output_size": TAMPERED, "test_conv_matrix": TAMPERED}),
    ),
    Case(
        "patch-assert-close",
        "replaces torch.testing.assert_close with a no-op, with a wrong answer",
        lambda ctx: base(
            {"conv_output_size": "import torch\ntorch.testing.assert_close = lambda *a, **k: None\n" + WRONG_SIZE}
        ),
        Expect(zero=tuple(TESTS), tags={"test_conv_output_size": TAMPERED}),
    ),
    Case(
        "patch-equal",
        "monkeypatches torch.equal, with a wrong answer",
        lambda ctx: base({"conv_output_size": "import torch\ntorch.equal = lambda *a, **k: True\n" + WRONG_SIZE}),
        Expect(zero=tuple(TESTS), tags={"test_conv_output_size": TAMPERED}),
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
            tags={"test_conv2d_naive": TAMPERED, "test_conv_matrix": TAMPERED},
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
        Expect(zero=tuple(TESTS), tags={"test_conv_output_size": TAMPERED}),
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
            test_output={"test_conv_output_size": "all 8 visible checks passed"},
        ),
    ),
]


OUTCOMES = {
    "patch-allclose": "every test 0, tagged `[tampered-environment]` (the library compares through references captured before student code ran, and notices the patch)",
    "patch-assert-close": "every test 0, tagged `[tampered-environment]`",
    "patch-equal": "every test 0, tagged `[tampered-environment]`",
    "input-transformer": "tests before the attack keep their points; every later test 0, tagged `[tampered-environment]` (the grader inspects the kernel between cells from outside the notebook's code)",
    "ast-transformer": "every test 0, tagged `[tampered-environment]`",
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
    "edited-points": "points come from the gradebook: still out of 10; the wrong answer scores 0",
    "changed-kernelspec": "the kernelspec is restored and the course kernel pinned; graded normally",
    "hardcoded-visible": "the visible checks pass, the hidden tests (random inputs) fail: 0 for that exercise",
}


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
