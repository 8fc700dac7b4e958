"""Run one test cell's hidden tests in the evaluator and turn the outcome into the cell's output.

The hidden block is trusted source (restored from the gradebook). Every name it uses that it
does not define itself is a notebook function: it becomes a :class:`RemoteFunction`, so the
student's code runs only in the kernel, and the seed, references and judgement only here.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import re

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output

from autograder.evaluator.remote import Ask, RemoteCallError, RemoteFunction
from cnnlab import diagnosis as dx
from cnnlab.i18n import translate

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_BLOCK = re.compile(rf"^[ \t]*{re.escape(BEGIN)}[ \t]*\n(.*?)^[ \t]*{re.escape(END)}[ \t]*$", re.S | re.M)
GRADER_ERROR = "grader-error"


def split_hidden(source: str) -> tuple[str, str]:
    """``(visible part, hidden block)`` of a test cell; the hidden block is "" when there is none."""
    match = _BLOCK.search(source)
    if match is None:
        return source, ""
    visible = source[:match.start()] + source[match.end():]
    return visible.rstrip() + "\n", match.group(1)


def notebook_names(hidden: str) -> list[str]:
    """Names the hidden block reads but never binds: the notebook functions it tests."""
    tree = ast.parse(hidden)
    bound: set[str] = set()
    loaded: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [n for n in dict.fromkeys(loaded) if n not in bound and not hasattr(builtins, n)]


def run_hidden(hidden: str, ask: Ask, sources: list[str]) -> NotebookNode:
    """Run ``hidden`` with remote notebook functions; return the test cell's one output.

    ``sources`` is the code the student wrote before this cell (for the static forbidden-call check).
    """
    scope: dict = {"__builtins__": builtins, "__name__": "__hidden_tests__"}
    for name in notebook_names(hidden):
        scope[name] = RemoteFunction(name, ask, sources)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(hidden, "<hidden tests>", "exec"), scope)  # noqa: S102 - the course's own source
    except dx.CheckFailed as failure:
        return _error("HiddenTestFailed", str(failure), failure._render_traceback_())
    except RemoteCallError as exc:
        return _error("HiddenTestFailed", f"[{exc.tag}] {translate(str(exc))}")
    except Exception as exc:  # noqa: BLE001 - a fault of the grader: say so, never hide it
        why = translate(f"the hidden tests could not run: {type(exc).__name__}: {exc}")
        return _error("GraderError", f"[{GRADER_ERROR}] {why}")
    text = printed.getvalue() or translate("✓ hidden tests passed.") + "\n"
    return new_output("stream", name="stdout", text=text)


def _error(ename: str, evalue: str, traceback: list[str] | None = None) -> NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=traceback or evalue.splitlines())
