"""Feedback HTML per student, with hidden-test source removed (see ``HideHiddenTests``)."""

from __future__ import annotations

import logging
from pathlib import Path

from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory

from autograder.course import Course, CourseError, Workspace
from autograder.release import ErrorCollector
from autograder.settings import make_config


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
    return sorted(workspace.feedback.glob("*/*/*.html"))
