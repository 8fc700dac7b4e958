"""Find submissions and reject bad ones before anything is graded.

Input is a folder in nbgrader layout, ``<student>/<assignment>/<assignment>.ipynb``.
Every problem becomes a :class:`Rejection` with one clear line; valid submissions are
still graded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course
from autograder.lms import LmsIdentity

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


@dataclass(frozen=True)
class Submission:
    """One student's notebook for one assignment.

    ``timestamp`` (ISO 8601, UTC) is when it counts as submitted, where the input says;
    ``identity`` is who the LMS export named, for exporting grades back.
    """

    student: str
    assignment: str
    path: Path
    timestamp: str | None = None
    identity: LmsIdentity | None = None

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"

    def digest(self) -> str:
        """SHA-256 of the submitted file, to tell a changed resubmission from a graded one."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """An input that will not be graded, and why (one line)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


MAX_NOTEBOOK_BYTES = 50 * 1024**2


def check_notebook_file(path: Path) -> str | None:
    """Return why ``path`` is not a readable notebook, or ``None`` if it is."""
    if path.is_symlink():
        return "a symbolic link, not a file: submit the notebook itself"
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return f"too large ({size // 2**20} MiB): a notebook should be well under {MAX_NOTEBOOK_BYTES // 2**20} MiB"
        data = json.loads(path.read_bytes())
    except UnicodeDecodeError:
        return "not a notebook: the file is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"corrupt notebook: invalid JSON at line {exc.lineno} column {exc.colno}"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror}"
    except RecursionError:
        return "not a notebook: its JSON is nested too deeply to read"
    except ValueError as exc:
        return f"not a readable notebook: {type(exc).__name__}"
    if not isinstance(data, dict) or "cells" not in data or data.get("nbformat") != 4:
        return "not a Jupyter notebook (nbformat 4) file"
    return None


def check_timestamp(path: Path) -> str | None:
    """Return why an nbgrader ``timestamp.txt`` cannot be used, or ``None`` if it can (or is absent)."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        return "timestamp.txt is not a plain file"
    from nbgrader.utils import parse_utc

    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            parse_utc(text)
    except (OSError, UnicodeDecodeError, ValueError, OverflowError, TypeError) as exc:
        return f"timestamp.txt is not a date and time ({type(exc).__name__}); fix or delete it"
    return None


def discover_layout(root: Path, course: Course) -> tuple[list[Submission], list[Rejection]]:
    """Read ``root/<student>/<assignment>/<assignment>.ipynb`` and check every entry."""
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    known = set(course.assignments())
    found: list[Submission] = []
    rejected: list[Rejection] = []
    for student_dir in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if student_dir.is_symlink():
            rejected.append(Rejection(student_dir, "a symbolic link, not a folder: copy the submissions in"))
            continue
        if not student_dir.is_dir():
            rejected.append(Rejection(student_dir, "expected a folder per student (<student>/<assignment>/)"))
            continue
        if not STUDENT_ID.match(student_dir.name):
            rejected.append(Rejection(student_dir, "student id may only use letters, digits and _ . @ + -"))
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if not p.name.startswith(".")):
            if assignment_dir.is_symlink():
                rejected.append(Rejection(assignment_dir, "a symbolic link, not a folder: copy the submission in"))
                continue
            if not assignment_dir.is_dir():
                rejected.append(Rejection(assignment_dir, "expected <student>/<assignment>/<assignment>.ipynb"))
                continue
            if assignment_dir.name not in known:
                rejected.append(Rejection(assignment_dir, unknown_assignment(assignment_dir.name, known)))
                continue
            found_one = _scan_assignment_dir(student_dir.name, assignment_dir, found, rejected)
            if not found_one and not any(r.path.parent == assignment_dir for r in rejected):
                rejected.append(Rejection(assignment_dir, f"no {assignment_dir.name}.ipynb in this folder"))
    return found, rejected


def _scan_assignment_dir(student: str, folder: Path, found: list[Submission], rejected: list[Rejection]) -> bool:
    expected = folder / f"{folder.name}.ipynb"
    for nb in sorted(folder.glob("*.ipynb")):
        if nb != expected:
            rejected.append(Rejection(nb, f"wrong file name: expected {expected.name} (rename the notebook)"))
    if not expected.is_file() and not expected.is_symlink():
        return False
    problem = check_notebook_file(expected) or check_timestamp(folder / "timestamp.txt")
    if problem:
        rejected.append(Rejection(expected, problem))
        return True
    found.append(Submission(student, folder.name, expected))
    return True


def unknown_assignment(name: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"unknown assignment {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
