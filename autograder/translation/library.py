"""The library's own strings: extract them into ``cnnlab/locale/zh_CN/LC_MESSAGES/cnnlab.po``, compile ``.mo``.

Every string a student can read comes from the student-facing modules below: ``check()``
messages, hidden-test feedback and misconception hints, widget labels, plot titles, the
feedback page and ``make grade-me``. Extraction takes each string with words in it, except
docstrings; an f-string becomes a template whose ``{0}``, ``{1}`` ... stand for its fields
(``cnnlab.i18n.translate`` fills them in at run time). A multi-line string gives one entry per line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from autograder.translation.catalogs import LOCALE, PROJECT, entry_problem, load, save
from autograder.translation.units import PHRASE

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "cnnlab"
STUDENT_FACING = ("cnnlab", "autograder/exercises", "autograder/feedback.py", "autograder/selfstudy.py",
                  "autograder/handgraded.py",
                  "autograder/hidden.py", "autograder/evaluator/runner.py", "autograder/evaluator/remote.py")
SKIP = ("cnnlab/i18n.py",)
FIELD = re.compile(r"(?<!\{)\{\d+\}(?!\})")
MARKERS = ("_", "N_", "gettext", "translate")  # a string given to one of these is extracted even if one word


def po_path(root: Path = ROOT) -> Path:
    return root / "cnnlab" / "locale" / LOCALE / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(root: Path = ROOT) -> Path:
    return po_path(root).with_suffix(".mo")


def source_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for entry in STUDENT_FACING:
        path = root / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if f.relative_to(root).as_posix() not in SKIP]


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
    return found


def _template(node: ast.JoinedStr, source: str) -> tuple[str, list[str]]:
    """``f"got {x:.3g} of {n}"`` -> ``("got {0} of {1}", ["x", "n"])``."""
    text, fields = [], []
    for part in node.values:
        if isinstance(part, ast.Constant):
            text.append(str(part.value).replace("{", "{{").replace("}", "}}"))
        else:
            text.append(f"{{{len(fields)}}}")
            fields.append(ast.get_source_segment(source, part.value) or "?")
    return "".join(text), fields


def strings_in(path: Path) -> list[tuple[str, int, str]]:
    """``(message, line, comment)`` for every string with words in it in one module."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
    marked = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call)
              and getattr(node.func, "id", getattr(node.func, "attr", "")) in MARKERS for arg in node.args}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            lines, fields = node.value.split("\n"), []
        elif isinstance(node, ast.JoinedStr):
            text, fields = _template(node, source)
            lines = text.split("\n")
        else:
            continue
        for line in lines:
            line = line.strip()
            words = re.findall(r"[A-Za-z]{2,}", FIELD.sub(" ", line))
            long_words = re.findall(r"[A-Za-z]{3,}", FIELD.sub(" ", line))
            wanted = PHRASE.search(line) or (fields and "{" in line and (len(words) >= 2 or long_words))
            if not (wanted or (id(node) in marked and any(c.isalpha() for c in line))):
                continue
            if fields:
                used = [f"{{{i}}} = {f}" for i, f in enumerate(fields) if f"{{{i}}}" in line]
                comment = "fields: " + "; ".join(used) if used else ""
                if not used:
                    line = line.replace("{{", "{").replace("}}", "}")
            else:
                comment = ""
            found.append((line, node.lineno, comment))
    return found


def template(root: Path = ROOT) -> Catalog:
    tpl = Catalog(locale=LOCALE, project=PROJECT, domain=DOMAIN)
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        for message, line, comment in strings_in(path):
            tpl.add(message, locations=[(rel, line)], auto_comments=[comment] if comment else [])
    return tpl


def items(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """``(id, kind, english)`` for the work file: kind is the first place the string is used."""
    return [(f"m{i:04d}", f"{m.locations[0][0]}:{m.locations[0][1]}", m.id)
            for i, m in enumerate(m for m in template(root) if m.id)]


def update(root: Path = ROOT) -> Catalog:
    """Merge the library's current strings into its catalog (changed ones become fuzzy)."""
    catalog = load(po_path(root))
    catalog.update(template(root), update_header_comment=False)
    catalog.obsolete.clear()
    save(catalog, po_path(root))
    return catalog


def problems(root: Path = ROOT) -> list[str]:
    """One line per library string without a current translation."""
    catalog = load(po_path(root))
    found = []
    for message in template(root):
        if not message.id:
            continue
        entry = catalog.get(message.id)
        where = f"{message.locations[0][0]}:{message.locations[0][1]}"
        if why := entry_problem(entry):
            found.append(f"{where}: {why}: {message.id[:60]!r}")
        elif sorted(FIELD.findall(message.id)) != sorted(FIELD.findall(str(entry.string))):
            found.append(f"{where}: the translation must keep each of {sorted(set(FIELD.findall(message.id)))} once")
    return found


def compile_mo(root: Path = ROOT) -> Path:
    """Write the ``.mo`` that ``gettext`` reads (translated, non-fuzzy entries only)."""
    catalog = load(po_path(root))
    target = mo_path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=False)
    return target


def update_all(root: Path = ROOT) -> None:
    catalog = update(root)
    print(f"{po_path(root).relative_to(root)}: {len(catalog)} entries")
