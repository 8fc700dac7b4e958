"""Issue 17: the course in English and Simplified Chinese, from one source.

English is the source; the Chinese edition is built from gettext catalogs (``i18n/zh_CN/*.po``
for notebooks, ``cnnlab/locale/zh_CN/LC_MESSAGES/cnnlab.po`` for the library).
"""

from __future__ import annotations

import filecmp
import json
import re
import warnings

import nbformat
import pytest
from helpers import COURSE

from autograder.examples import ZH_PARTIAL
from autograder.translation import catalogs, library, status
from autograder.translation.build import (
    GLOSSARY_NOTEBOOK,
    ZH_RELEASE_DIR,
    glossary_rows,
    release_zh,
    translated,
)
from autograder.translation.units import CJK, same_code, units
from cnnlab import i18n

ASSIGNMENTS = COURSE.assignments()
ZH = COURSE.root / ZH_RELEASE_DIR


@pytest.fixture
def chinese(monkeypatch):  # noqa: ANN201
    monkeypatch.setenv(i18n.LANG_ENV, "zh")
    yield
    i18n.use_language(None)


# -- one source: nothing untranslated, nothing stale --------------------------------------------
def test_every_english_string_has_a_current_chinese_translation() -> None:
    missing = status.missing(COURSE.root)
    assert not missing, "untranslated or fuzzy strings (python -m autograder.translation status): " + "; ".join(
        f"{path}: {len(lines)}, first: {lines[0]}" for path, lines in missing.items())


def _tiny_notebook(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "intro"
    code = nbformat.v4.new_code_cell("x = 1  # one pixel\nprint(f'size: {x}')")
    code.id = "code"
    nb.cells = [cell, code]
    return nb


def test_a_changed_english_cell_makes_its_translation_fuzzy_and_missing(tmp_path) -> None:
    path = tmp_path / "tiny.po"
    nb = _tiny_notebook("The output size floors.")
    catalog = catalogs.update(nb, "tiny", path)
    catalog.get("The output size floors.").string = "输出尺寸向下取整。"
    catalog.get(nb.cells[1].source).string = "x = 1  # 一个像素\nprint(f'尺寸：{x}')"
    catalogs.save(catalog, path)
    assert catalogs.problems(nb, catalogs.load(path)) == []
    changed = _tiny_notebook("The output size always floors.")
    catalog = catalogs.update(changed, "tiny", path)
    problems = catalogs.problems(changed, catalog)
    assert len(problems) == 1 and "fuzzy" in problems[0], problems
    with pytest.raises(Exception, match="lack a current Chinese translation"):
        translated(changed, catalog, "tiny")


def test_a_translated_code_cell_must_be_the_same_program() -> None:
    english = 'def f(x):\n    """Double x."""\n    ### BEGIN SOLUTION\n    return 2 * x  # twice\n    ### END SOLUTION'
    assert same_code(english, english.replace("Double x.", "把 x 加倍。").replace("twice", "两倍")) is None
    assert "code differs" in same_code(english, english.replace("2 * x", "3 * x"))
    assert "markers" in same_code(english, english.replace("### END SOLUTION", ""))
    assert same_code("print(f'{a} of {b}')", "print(f'{b} 中的 {a}')") is None  # fields may move
    assert "code differs" in same_code("print(f'{a}')", "print(f'{a + 1}')")


def test_locked_cells_have_no_translation_unit() -> None:
    for name in ASSIGNMENTS:
        nb = nbformat.read(COURSE.source_notebook(name), as_version=4)
        locked = {c.id for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("locked")}
        assert not locked & {u.cell_id for u in units(nb)}, name


def test_the_compiled_catalog_matches_its_po(tmp_path) -> None:
    (tmp_path / "cnnlab").mkdir()
    shadow = tmp_path / library.po_path(tmp_path).relative_to(tmp_path)
    shadow.parent.mkdir(parents=True)
    shadow.write_bytes(library.po_path().read_bytes())
    fresh = library.compile_mo(tmp_path)
    assert fresh.read_bytes() == library.mo_path().read_bytes(), "run `make release` and commit cnnlab/locale/"


# -- the Chinese release --------------------------------------------------------------------------
@pytest.mark.slow
def test_course_zh_is_in_sync_with_a_fresh_release(tmp_path) -> None:
    release_zh(COURSE, ASSIGNMENTS, tmp_path)
    for name in ASSIGNMENTS:
        cmp = filecmp.dircmp(ZH / name, tmp_path / name, ignore=[".ipynb_checkpoints", "__pycache__"])
        assert not (cmp.left_only or cmp.right_only or cmp.diff_files), (
            f"{ZH_RELEASE_DIR}/{name} differs from a fresh release: run `make release` and commit it")
        assert filecmp.cmp(ZH / name / f"{name}.ipynb", tmp_path / name / f"{name}.ipynb", shallow=False), name
    assert filecmp.cmp(ZH / GLOSSARY_NOTEBOOK, tmp_path / GLOSSARY_NOTEBOOK, shallow=False)


def _grade_cells(nb: nbformat.NotebookNode) -> list[tuple]:
    return [(c.metadata["nbgrader"].get("grade_id"), c.metadata["nbgrader"].get("points"), c.cell_type,
             c.metadata["nbgrader"].get("checksum"), c.source if c.metadata["nbgrader"].get("locked") else None)
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            or c.get("metadata", {}).get("nbgrader", {}).get("locked")]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_both_releases_share_grade_cells_ids_points_and_locked_code(assignment: str) -> None:
    en = nbformat.read(COURSE.release_notebook(assignment), as_version=4)
    zh = nbformat.read(ZH / assignment / f"{assignment}.ipynb", as_version=4)
    assert _grade_cells(en) == _grade_cells(zh)
    assert i18n.notebook_language(zh.metadata) == "zh" and i18n.notebook_language(en.metadata) == "en"
    prose = [c.source for c in zh.cells if c.cell_type == "markdown" and len(c.source) > 80]
    assert prose and all(CJK.search(p) for p in prose), "every paragraph of the Chinese release is Chinese"


def test_every_notebook_links_the_glossary_in_both_languages() -> None:
    rows = glossary_rows(COURSE.root)
    assert len(rows) >= 38 and all(r["en"] and CJK.search(r["zh"]) and r["en_note"] and CJK.search(r["zh_note"])
                                   for r in rows)
    terms = {r["zh"] for r in rows}
    for term in ("感受野", "空洞卷积", "分组卷积", "深度可分离卷积", "棋盘效应", "批归一化", "随机失活", "上采样",
                 "下采样"):
        assert any(term in t for t in terms), term
    for folder in (COURSE.release_dir, ZH):
        assert (folder / GLOSSARY_NOTEBOOK).is_file()
        for name in ASSIGNMENTS:
            first = nbformat.read(folder / name / f"{name}.ipynb", as_version=4).cells[0].source
            assert "../glossary.ipynb" in first, f"{folder.name}/{name} does not link the glossary"
    assert (ZH / i18n.MARKER_FILE).read_text().strip() == "zh"


# -- the library speaks the student's language ----------------------------------------------------
def test_language_comes_from_env_then_notebook_then_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    i18n._marker_language.cache_clear()
    monkeypatch.chdir(tmp_path)
    assert i18n.language() == "en"
    folder = tmp_path / "course-zh" / "01"
    folder.mkdir(parents=True)
    (tmp_path / "course-zh" / i18n.MARKER_FILE).write_text("zh\n")
    monkeypatch.chdir(folder)
    i18n._marker_language.cache_clear()
    assert i18n.language() == "zh"
    (folder / "n.ipynb").write_text(json.dumps({"metadata": {}, "cells": []}))
    monkeypatch.setenv("JPY_SESSION_NAME", "course-zh/01/n.ipynb")  # relative to the server's root
    assert i18n.language() == "en", "the open notebook's metadata wins over the folder"
    monkeypatch.setenv(i18n.LANG_ENV, "zh_CN.UTF-8")
    assert i18n.language() == "zh"
    i18n._marker_language.cache_clear()


def test_failure_messages_are_chinese_and_keep_their_english_tag(chinese) -> None:
    from cnnlab import comparing
    from cnnlab.diagnosis import CheckFailed, tags_in

    failure = CheckFailed("conv_output_size", "ceil-vs-floor",
                          "output size used ceil where PyTorch floors: a window that would run past the padded "
                          "edge is dropped", "expected 3, got 4")
    text = str(failure)
    assert tags_in(text) == ["ceil-vs-floor"] and "conv_output_size" in text
    assert CJK.search(failure.hint) and CJK.search(failure.details), text
    diff = comparing.difference(4, 3)
    assert diff is not None and CJK.search(i18n.translate(diff[1])), diff


def test_visible_check_output_is_chinese(chinese, capsys) -> None:
    from cnnlab import check
    from cnnlab.diagnosis import CheckFailed

    def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):  # noqa: ANN001, ANN202
        return -(-(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1  # ceil: wrong

    with pytest.raises(CheckFailed) as info:
        check("conv_output_size", conv_output_size)
    assert "[ceil-vs-floor]" in str(info.value) and CJK.search(str(info.value)), str(info.value)
    rendered = "\n".join(info.value._render_traceback_())
    assert CJK.search(rendered.split("\n")[-1]), rendered


def test_the_feedback_page_labels_follow_the_submission(tmp_path) -> None:
    from autograder.feedback import localise_page

    page = tmp_path / "f.html"
    page.write_text('<html><li><a href="#x">Test cell</a> (Score: 2.0 / 2.0)</li>'
                    '<span class="nbgrader-label">Student\'s answer</span> Score: 1 / 2 <a href="#top">(Top)</a>')
    localise_page(page, "zh")
    text = page.read_text()
    assert "Test cell" not in text and "Score:" not in text and 'lang="zh-CN"' in text and CJK.search(text), text


# -- figures draw Chinese glyphs -----------------------------------------------------------------
def test_matplotlib_draws_chinese_titles_with_a_cjk_font(chinese) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from cnnlab import plots

    if not plots.cjk_fonts():
        pytest.skip("no CJK font installed (.ci/run installs Debian's fonts-noto-cjk)")
    plots.use_cjk_fonts()
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plots.plot_curves(__import__("torch").arange(3.0), {"input": __import__("torch").arange(3.0)},
                                title="感受野随层数增长", xlabel="层数", ylabel="感受野（像素）")
        fig.canvas.draw()
        plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:2]


def test_figures_from_the_library_are_translated(chinese) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.plots import draw_pool_windows

    fig = draw_pool_windows(5, 2)
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    plt.close(fig)
    assert any(CJK.search(t) for t in texts), texts[:8]


def test_widget_labels_are_chinese(chinese) -> None:
    pytest.importorskip("ipywidgets")
    from cnnlab.widgets import conv_explorer

    box = conv_explorer()
    labels = [w.description for row in box.children[:2] for w in row.children]
    assert all(CJK.search(label) for label in labels), labels


@pytest.mark.parametrize("text", ["expected 3, got 4", "✓ conv2d_naive: all 5 visible checks passed."])
def test_translation_fills_templates(chinese, text: str) -> None:
    done = i18n.translate(text)
    assert CJK.search(done) and all(n in done for n in re.findall(r"\d+", text)), done


# -- both releases grade into one gradebook ------------------------------------------------------
@pytest.mark.grading
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_chinese_solution_earns_every_point_like_the_english_one(example_class, assignment: str) -> None:
    """The Chinese solutions, submitted and graded (sandbox, hidden tests), score what the English ones do."""
    zh = example_class.cell_scores("student-full-zh", assignment)
    assert zh == example_class.cell_scores("student-full", assignment)
    hand = {g for g in zh if g.startswith("think_")}
    assert all(score == most for g, (score, most) in zh.items() if g not in hand), zh
    assert example_class.outcome("student-full-zh", assignment).status == "ok"


@pytest.mark.grading
@pytest.mark.parametrize("assignment", ZH_PARTIAL)
def test_a_chinese_submission_scores_exactly_as_its_english_twin(example_class, assignment: str) -> None:
    from autograder.examples import partial_spec

    en = example_class.cell_scores("student-partial", assignment)
    zh = example_class.cell_scores("student-partial-zh", assignment)
    assert zh == en, "the same code in the Chinese release must earn the same points, cell by cell"
    assert example_class.outcome("student-partial-zh", assignment).status == "ok"
    expected = partial_spec(assignment).get("EXPECTED_TAGS", {})
    assert expected
    for grade_id, tag in expected.items():
        assert tag in example_class.cell_tags("student-partial-zh", assignment, grade_id), (grade_id, tag)
        feedback = example_class.cell_text("student-partial-zh", assignment, grade_id)
        english = example_class.cell_text("student-partial", assignment, grade_id)
        assert len(CJK.findall(feedback)) > len(CJK.findall(english)) + 10, f"{grade_id}, not Chinese: {feedback}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_chinese_release_is_the_english_release_program_so_it_fails_every_test(assignment: str) -> None:
    """Cell by cell, the Chinese release runs the English release's program (only strings differ), and
    its grade cells are the English ones byte for byte; `test_release_passes_no_test` runs that program
    through `nbgrader validate --invert`."""
    en = nbformat.read(COURSE.release_notebook(assignment), as_version=4)
    zh = nbformat.read(ZH / assignment / f"{assignment}.ipynb", as_version=4)
    assert [c.cell_type for c in en.cells] == [c.cell_type for c in zh.cells]
    for a, b in zip(en.cells, zh.cells, strict=True):
        if a.cell_type == "code":
            assert same_code(a.source, b.source) is None, f"{assignment}: cell {a.id} is another program in Chinese"
    stubs = [c.source for c in zh.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")
             and c.cell_type == "code"]
    assert stubs and all("raise NotImplementedError()" in src for src in stubs)
