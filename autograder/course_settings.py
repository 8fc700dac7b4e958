"""The instructor's course settings in ``course.toml``: due dates, the late penalty, LMS ids.

``$COURSE_SETTINGS`` names another file (one checkout, several terms). A missing file means
no due dates and no penalty; a malformed one is a one-line :class:`~autograder.course.CourseError`
naming the file and the problem.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograder.course import REPO_ROOT, CourseError

SETTINGS_FILE = "course.toml"
SETTINGS_ENV = "COURSE_SETTINGS"
PENALTIES = ("none", "zero")


@dataclass(frozen=True)
class CourseSettings:
    """``due[assignment]`` (aware UTC datetimes), ``late_penalty``, ``canvas_ids[assignment]``."""

    due: dict[str, datetime] = field(default_factory=dict)
    late_penalty: str = "none"
    canvas_ids: dict[str, int] = field(default_factory=dict)


def settings_path(root: Path = REPO_ROOT) -> Path:
    """``$COURSE_SETTINGS`` if set, else ``course.toml`` in the course's root."""
    named = os.environ.get(SETTINGS_ENV, "").strip()
    return Path(named) if named else root / SETTINGS_FILE


def load_settings(path: Path | None = None, known: list[str] | None = None) -> CourseSettings:
    """Read the course settings (default: :func:`settings_path`); ``known`` assignments catch typos."""
    path = path or settings_path()
    if not path.is_file():
        if os.environ.get(SETTINGS_ENV, "").strip():
            raise CourseError(f"${SETTINGS_ENV} names {path}, which does not exist")
        return CourseSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path}: not valid TOML ({exc})") from None
    due = {name: _aware(path, name, value) for name, value in data.get("due", {}).items()}
    penalty = data.get("late", {}).get("penalty", "none")
    if penalty not in PENALTIES:
        raise CourseError(f"{path}: [late] penalty must be one of {', '.join(PENALTIES)}, not {penalty!r}")
    ids = data.get("canvas", {}).get("assignment_ids", {})
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in ids.values()):
        raise CourseError(f"{path}: [canvas.assignment_ids] values must be whole numbers")
    for name in [*due, *ids]:
        if known is not None and name not in known:
            raise CourseError(f"{path}: unknown assignment {name!r} (known: {', '.join(known)})")
    return CourseSettings(due, penalty, dict(ids))


def _aware(path: Path, name: str, value: object) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise CourseError(f"{path}: due date of {name} is not ISO 8601: {value!r}") from None
    if not isinstance(value, datetime):
        raise CourseError(f"{path}: due date of {name} must be a date and time, like 2027-03-01T23:59:00+08:00")
    if value.tzinfo is None:
        raise CourseError(f"{path}: due date of {name} needs a time zone, like 2027-03-01T23:59:00+08:00")
    return value.astimezone(UTC)
