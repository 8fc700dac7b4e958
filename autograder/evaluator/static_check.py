"""The evaluator's "do not call the builtin" rule: read the student's source, not their kernel.

Starting at the exercise's function, follow every name it uses to the student's own
top-level definitions (functions, classes, assignments, imports) in the cells run so far,
and collect what those reach: attribute names (``F.conv2d``), imported names
(``from torch.nn.functional import conv2d as c``) and strings given to ``getattr``,
``eval``, ``exec``, ``__import__`` and friends. Names matching the exercise's pattern fail
the test. Docstrings, comments and the student's own names do not count. What it cannot
see: names built at run time (``"con" + "v2d"``), code reached through objects that the
course's setup cell imported, and ``exec`` of computed strings (see the README).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

DYNAMIC_LOOKUPS = {"getattr", "eval", "exec", "compile", "__import__", "import_module", "attrgetter",
                   "methodcaller", "__getattribute__", "get_overloads", "find_spec"}


def parse_cell(source: str) -> ast.Module | None:
    """A code cell as a Python AST (IPython magics translated first), or None if it does not parse."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - without IPython, parse the text as it is
        pass
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    names: list[str] = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def definitions(sources: Iterable[str]) -> dict[str, list[ast.stmt]]:
    """Every top-level statement that binds a name, by name, across the given cells."""
    found: dict[str, list[ast.stmt]] = {}
    for source in sources:
        tree = parse_cell(source)
        if tree is None:
            continue
        for node in tree.body:
            for name in _bound_names(node):
                found.setdefault(name, []).append(node)
    return found


def _is_docstring(node: ast.AST, parent: ast.AST | None) -> bool:
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)


def _reached(node: ast.AST) -> tuple[set[str], set[str]]:
    """(names used, suspicious identifiers) within one statement."""
    used: set[str] = set()
    seen: set[str] = set()
    local: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
        local = _local_names(node)
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            if child.id not in local:
                used.add(child.id)
        elif isinstance(child, ast.Attribute):
            seen.add(child.attr)
        elif isinstance(child, ast.alias):
            seen.update(child.name.split("."))
            if child.asname:
                seen.add(child.asname)
        elif isinstance(child, ast.ImportFrom) and child.module:
            seen.update(child.module.split("."))
        elif isinstance(child, ast.Call):
            func = child.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in DYNAMIC_LOOKUPS:
                for arg in ast.walk(child):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        seen.add(arg.value)
        elif isinstance(child, ast.Subscript) and isinstance(child.slice, ast.Constant) \
                and isinstance(child.slice.value, str):
            seen.add(child.slice.value)  # vars(F)["conv2d"], F.__dict__["conv2d"]
    return used, seen


def _local_names(node: ast.AST) -> set[str]:
    """Names a function (or class) binds itself: arguments and assignments, not globals it declares."""
    local: set[str] = set()
    declared: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.arg):
            local.add(child.arg)
        elif isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
            local.add(child.id)
        elif isinstance(child, ast.Global | ast.Nonlocal):
            declared.update(child.names)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child is not node:
            local.add(child.name)
    return local - declared


def forbidden_uses(sources: Iterable[str], entry: str, pattern: str) -> list[str]:
    """The identifiers matching ``pattern`` that ``entry`` can reach in the student's code, sorted."""
    defs = definitions(sources)
    regex = re.compile(pattern, re.IGNORECASE)
    todo, visited, hits = [entry], set(), set()
    while todo:
        name = todo.pop()
        if name in visited:
            continue
        visited.add(name)
        for node in defs.get(name, []):
            used, seen = _reached(node)
            hits.update(s for s in seen if regex.search(s))
            todo.extend(u for u in used if u in defs and u not in visited)
    return sorted(hits)
