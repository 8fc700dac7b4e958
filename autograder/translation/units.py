"""What in a notebook gets translated, and proof that a translated code cell is the same code.

A *unit* is one cell: every markdown cell, and every code cell the student may edit that holds
English (a comment, a docstring or a phrase in a string). Locked cells (setup, tests) stay
byte-identical in both languages, so both releases share one gradebook.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

import nbformat

MARKER = re.compile(r"^\s*###\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$", re.MULTILINE)
PRAGMA = re.compile(r"#\s*(noqa|type:|fmt:|pragma)")
PHRASE = re.compile(r"[A-Za-z]{2,}[ ,:]+[A-Za-z]{2,}")
CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Unit:
    """One translatable cell: its id, its type, and its English source."""

    cell_id: str
    kind: str  # "markdown" | "code"
    source: str


def _python(source: str) -> str:
    """The cell as plain Python (IPython magics turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _comments(source: str) -> list[str]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(_python(source)).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    return [t.string for t in tokens if t.type == tokenize.COMMENT
            and not MARKER.match(t.string) and not PRAGMA.match(t.string)]


def _strings(tree: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def has_english(source: str) -> bool:
    """True when a code cell holds text for people: a comment, a docstring, or a phrase in a string."""
    if _comments(source):
        return True
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return False
    return any(PHRASE.search(s) for s in _strings(tree))


def is_locked(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("locked"))


def units(nb: nbformat.NotebookNode) -> list[Unit]:
    """The notebook's translatable cells, in order."""
    found = []
    for cell in nb.cells:
        if not cell.source.strip():
            continue
        if cell.cell_type == "markdown":
            found.append(Unit(cell.id, "markdown", cell.source))
        elif cell.cell_type == "code" and not is_locked(cell) and has_english(cell.source):
            found.append(Unit(cell.id, "code", cell.source))
    return found


class _Shape(ast.NodeTransformer):
    """Blank every string (docstrings, messages, f-string text), keep everything else."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant(value="") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        parts = sorted(ast.dump(self.visit(v.value)) for v in node.values if isinstance(v, ast.FormattedValue))
        return ast.Constant(value="f" + "|".join(parts))


def code_shape(source: str) -> str:
    """The code of a cell with its strings blanked: equal for a cell and its translation."""
    return ast.dump(_Shape().visit(ast.parse(_python(source))))


def same_code(english: str, translated: str) -> str | None:
    """``None`` when ``translated`` is ``english`` with only comments and strings changed, else why not."""
    if MARKER.findall(english) != MARKER.findall(translated):
        return "the ### BEGIN/END SOLUTION markers differ"
    try:
        if code_shape(english) != code_shape(translated):
            return "the code differs (only comments, docstrings and strings may be translated)"
    except SyntaxError as exc:
        return f"the translation is not valid Python: {exc.msg} (line {exc.lineno})"
    return None
