"""Build the Chinese edition: the translated solutions, ``course-zh/``, the glossaries, the ``.mo``.

The Chinese solutions (``build/solutions-zh/``) are the English ones with every translatable
cell replaced from its catalog and ``{"cnn_course": {"language": "zh"}}`` in the metadata. They
are released through the same nbgrader step as the English course, so grade cells, their ids
and points are identical and both releases grade into one gradebook.
"""

from __future__ import annotations

import copy
import csv
import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder.course import Course, CourseError, Workspace
from autograder.translation import catalogs, library
from autograder.translation.units import units
from cnnlab.i18n import MARKER_FILE, METADATA_KEY

ZH_RELEASE_DIR = "course-zh"
ZH_SOURCE_DIR = Path("build") / "solutions-zh"
GLOSSARY_SOURCE = Path("i18n") / "glossary.csv"
GLOSSARY_NOTEBOOK = "glossary.ipynb"


class MissingTranslation(CourseError):
    """A source string has no current translation."""


def translated(nb: nbformat.NotebookNode, catalog, notebook: str) -> nbformat.NotebookNode:  # noqa: ANN001
    """A copy of ``nb`` in Chinese; raises ``MissingTranslation`` naming the cells without one."""
    problems = catalogs.problems(nb, catalog)
    if problems:
        raise MissingTranslation(f"{notebook}: {len(problems)} cells lack a current Chinese translation "
                                 f"(first: {problems[0]}); see `python -m autograder.translation status`")
    out = copy.deepcopy(nb)
    wanted = {u.cell_id: catalogs.translation(catalog, u) for u in units(nb)}
    for cell in out.cells:
        if cell.id in wanted and wanted[cell.id] is not None:
            cell.source = wanted[cell.id]
    out.metadata[METADATA_KEY] = {"language": "zh"}
    return out


def write_zh_solutions(course: Course, names: list[str]) -> Path:
    """Write ``build/solutions-zh/<a>/<a>.ipynb`` (and the assignment's other files); return the folder."""
    target = course.root / ZH_SOURCE_DIR
    for name in names:
        nb = nbformat.read(course.source_notebook(name), as_version=4)
        catalog = catalogs.load(catalogs.catalog_path(course.root, name))
        zh = translated(nb, catalog, name)
        folder = target / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(course.source_dir / name, folder,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))
        nbformat.write(zh, folder / f"{name}.ipynb")
    (target / MARKER_FILE).write_text("zh\n", encoding="utf-8")
    return target


def release_zh(course: Course, names: list[str] | None = None, target: Path | None = None) -> Path:
    """Release the Chinese solutions into ``course-zh/`` (or ``target``), with a throw-away gradebook."""
    from autograder.release import generate

    names = names or course.assignments()
    source = write_zh_solutions(course, names)
    target = target or course.root / ZH_RELEASE_DIR
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="release-zh-") as tmp:
        for name in names:
            if (target / name).exists():
                shutil.rmtree(target / name)
            generate(course, Workspace(Path(tmp)), name, target, source_dir=source)
    (target / MARKER_FILE).write_text("zh\n", encoding="utf-8")
    write_glossary(course.root, target / GLOSSARY_NOTEBOOK, "zh")
    return target


# --- the glossary ------------------------------------------------------------------------------------
def glossary_rows(root: Path) -> list[dict[str, str]]:
    """The glossary's terms: ``en``, ``zh``, ``notebook``, ``en_note``, ``zh_note``."""
    path = root / GLOSSARY_SOURCE
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def glossary_markdown(rows: list[dict[str, str]], lang: str) -> str:
    if lang == "zh":
        head = ["# 术语表 · Glossary", "",
                "本课程用到的术语，中英对照。术语的写法与《动手学深度学习》中文版一致；“笔记”一栏是该术语首次详细讲解的笔记。",
                "", "| 中文 | English | 笔记 | 说明 |", "|---|---|---|---|"]
        body = [f"| {r['zh']} | {r['en']} | {r['notebook']} | {r['zh_note']} |" for r in rows]
    else:
        head = ["# Glossary · 术语表", "",
                "The course's terms in English and Simplified Chinese, as d2l.ai's Chinese edition writes them. "
                "*Notebook* is where the term is explained in full.",
                "", "| English | 中文 | Notebook | Meaning |", "|---|---|---|---|"]
        body = [f"| {r['en']} | {r['zh']} | {r['notebook']} | {r['en_note']} |" for r in rows]
    return "\n".join(head + body)


def write_glossary(root: Path, path: Path, lang: str) -> Path:
    """The glossary as a one-cell notebook (it opens in JupyterLab beside the course)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "cnn-course", "display_name": "Python 3 (cnn-course)", "language": "python"},
                   METADATA_KEY: {"language": lang}}
    cell = nbformat.v4.new_markdown_cell(glossary_markdown(glossary_rows(root), lang))
    cell.id = "glossary"
    nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def release_chinese(course: Course, names: list[str] | None = None) -> Path:
    """The Chinese edition: compile the library's ``.mo`` and release ``course-zh/``; return that folder."""
    library.compile_mo(course.root)
    return release_zh(course, names)
