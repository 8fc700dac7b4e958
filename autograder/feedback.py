"""Feedback HTML per student, with hidden-test source removed (see ``HideHiddenTests``)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import nbformat
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory

from autograder.course import Course, CourseError, Workspace
from autograder.release import ErrorCollector
from autograder.settings import make_config
from cnnlab.i18n import N_, notebook_language, translate

# The labels of nbgrader's feedback page; a Chinese submission's page gets them in Chinese.
PAGE_LABELS = (N_("Test cell"), N_("Written response"), N_("Coding free-response"), N_("Comment"),
               N_("Student's answer"), N_("Student's task"), N_("Grade cell:"), N_("Late submission penalty"),
               N_("Task"))
SCORE, TOP = N_("Score:"), N_("(Top)")


def generate_feedback(course: Course, workspace: Workspace, problems: list[str] | None = None) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<assignment>.html`` for every autograded notebook.

    nbgrader writes every page it can before it reports a failure. With ``problems`` given, a
    failure is added there (one line per submission) and the pages written are still returned;
    without it, a failure raises :class:`CourseError`.
    """
    if not any(workspace.autograded.glob("*/*/*.ipynb")):
        return []
    for name in ("traitlets", "nbgrader"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cfg = make_config(course, workspace)
    cfg.GenerateFeedback.force = True
    cfg.CourseDirectory.assignment_id = "*"
    converter = GenerateFeedback(coursedir=CourseDirectory(config=cfg), config=cfg)
    converter.log.setLevel(logging.ERROR)
    errors = ErrorCollector()
    converter.log.addHandler(errors)
    try:
        converter.start()
    except Exception as exc:
        if problems is None:
            raise CourseError(f"feedback failed: {errors.summary() or exc}") from exc
        problems += [line for line in (errors.summary() or str(exc)).splitlines() if line.strip()]
    finally:
        converter.log.removeHandler(errors)
    pages = sorted(workspace.feedback.glob("*/*/*.html"))
    for page in pages:
        student, assignment = page.parent.parent.name, page.parent.name
        localise_page(page, page_language(workspace.autograded_notebook(student, assignment)))
    return pages


def page_language(notebook: Path) -> str:
    """The language the student submitted in (English when the notebook cannot be read)."""
    try:
        return notebook_language(nbformat.read(notebook, as_version=4).metadata)
    except Exception:  # noqa: BLE001 - a page for an unreadable notebook stays English
        return "en"


def localise_page(page: Path, lang: str) -> None:
    """Put nbgrader's labels of one feedback page into ``lang`` (cell outputs are already in it)."""
    if lang == "en":
        return
    text = page.read_text(encoding="utf-8")
    for label in PAGE_LABELS:
        text = text.replace(f">{label}<", f">{translate(label, lang)}<").replace(
            f'"nbgrader-label">{label} ', f'"nbgrader-label">{translate(label, lang)} ')
    text = re.sub(r"([(\s])Score: ", lambda m: f"{m.group(1)}{translate(SCORE, lang)} ", text)
    text = text.replace(f">{TOP}<", f">{translate(TOP, lang)}<").replace("<html>", '<html lang="zh-CN">', 1)
    page.write_text(text, encoding="utf-8")
