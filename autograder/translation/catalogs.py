"""Per-notebook gettext catalogs: ``i18n/zh_CN/<notebook>.po``, one entry per translated cell.

``update`` merges a notebook's current cells into its catalog: a cell whose English changed
keeps its old translation marked *fuzzy* (Babel's fuzzy matching), which counts as missing
until someone checks it. ``problems`` lists every cell without a current translation.

Translators may edit the ``.po`` directly or a side-by-side *work file* (``export_work`` /
``import_work``) that needs no escaping of LaTeX backslashes and quotes.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from autograder.translation.units import CJK, Unit, same_code, units

LOCALE = "zh_CN"
PROJECT = "cnn-course"


def catalog_path(root: Path, notebook: str) -> Path:
    return root / "i18n" / LOCALE / f"{notebook}.po"


def load(path: Path) -> Catalog:
    """The catalog at ``path`` (an empty one when there is none yet)."""
    if not path.is_file():
        return Catalog(locale=LOCALE, project=PROJECT, domain=path.stem)
    with path.open("rb") as fh:
        return read_po(fh, locale=LOCALE, domain=path.stem)


def save(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.revision_date = catalog.creation_date  # no timestamp churn in git
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, sort_output=False, ignore_obsolete=True, include_lineno=False)


def template(notebook: str, cells: list[Unit]) -> Catalog:
    tpl = Catalog(locale=LOCALE, project=PROJECT, domain=notebook)
    for unit in cells:
        tpl.add(unit.source, locations=[(f"{notebook}.ipynb", 0)], auto_comments=[f"{unit.kind} cell {unit.cell_id}"])
    return tpl


def update(nb: nbformat.NotebookNode, notebook: str, path: Path) -> Catalog:
    """Merge the notebook's cells into the catalog at ``path`` and save it; return it."""
    catalog = load(path)
    catalog.update(template(notebook, units(nb)), update_header_comment=False)
    catalog.obsolete.clear()
    save(catalog, path)
    return catalog


def translation(catalog: Catalog, unit: Unit) -> str | None:
    """The current translation of ``unit`` (``None`` when missing or fuzzy)."""
    message = catalog.get(unit.source)
    if message is None or message.fuzzy or not message.string:
        return None
    return str(message.string)


def entry_problem(message: Message | None) -> str | None:
    """Why a catalog entry is not a current translation (``None`` when it is)."""
    if message is None or not message.string:
        return "no translation"
    if message.fuzzy:
        return "fuzzy (the English changed; check the translation and clear the flag)"
    return None


def problems(nb: nbformat.NotebookNode, catalog: Catalog) -> list[str]:
    """One line per cell without a usable translation."""
    found = []
    for unit in units(nb):
        message = catalog.get(unit.source)
        where = f"{unit.kind} cell {unit.cell_id}"
        why = entry_problem(message)
        if why is None and unit.kind == "code":
            why = same_code(unit.source, str(message.string))
        if why:
            found.append(f"{where}: {why}")
        elif unit.kind == "markdown" and not CJK.search(str(message.string)) and re.search(r"[A-Za-z]{4}", unit.source):
            found.append(f"{where}: the translation holds no Chinese")
    return found


# --- the side-by-side work file ------------------------------------------------------------------
HEAD = re.compile(r"^##### UNIT (?P<id>\S+) (?P<kind>\S+)$")


def export_work(items: list[tuple[str, str, str]], catalog: Catalog, path: Path) -> int:
    """Write ``(id, kind, english)`` items with their current translation (if any); return the count."""
    out = []
    for key, kind, english in items:
        message = catalog.get(english)
        zh = str(message.string) if message is not None and message.string and not message.fuzzy else ""
        out += [f"##### UNIT {key} {kind}", english, "##### ZH", zh, "##### END", ""]
    path.write_text("\n".join(out), encoding="utf-8")
    return len(items)


def import_work(items: list[tuple[str, str, str]], catalog: Catalog, path: Path) -> list[str]:
    """Copy a work file's translations into ``catalog``; return the problems found."""
    known = {english.rstrip(): english for _, _, english in items}
    lines = path.read_text(encoding="utf-8").splitlines()
    errors, i = [], 0
    while i < len(lines):
        m = HEAD.match(lines[i])
        if not m:
            i += 1
            continue
        try:
            zh_at = lines.index("##### ZH", i)
            end_at = lines.index("##### END", zh_at)
        except ValueError:
            errors.append(f"line {i + 1}: a unit without its ##### ZH / ##### END lines")
            break
        english = known.get("\n".join(lines[i + 1:zh_at]).rstrip())
        zh = "\n".join(lines[zh_at + 1:end_at]).strip("\n").rstrip()
        if english is None:
            errors.append(f"{m['id']}: the English does not match the source (export the work file again)")
        elif zh:
            message = catalog.get(english)
            if message is None:
                catalog.add(english, zh)
            else:
                message.string = zh
                message.flags.discard("fuzzy")
        i = end_at + 1
    return errors


def notebook_items(nb: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    return [(u.cell_id, u.kind, u.source) for u in units(nb)]
