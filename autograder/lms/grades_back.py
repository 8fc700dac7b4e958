"""Grades back into the LMS: read the gradebook and write the file that LMS's import accepts.

The score sent for a submission is nbgrader's score minus its late penalty (``course.toml``);
an assignment a student did not hand in is left empty (Canvas) or left out (Moodle), so the
import leaves it alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import COURSE_ID, CourseError, Workspace
from autograder.course_settings import CourseSettings
from autograder.lms import IDENTITY_FILE, LmsIdentity, canvas, moodle


@dataclass(frozen=True)
class Graded:
    """One graded submission as the LMS needs it."""

    student: str
    assignment: str
    score: float  # after the late penalty
    max_score: float
    identity: LmsIdentity | None
    name: str  # "Last, First" from the roster, else the name the LMS gave, else the id
    email: str
    lms_user_id: str


def graded_submissions(workspace: Workspace) -> list[Graded]:
    """Every graded submission in the workspace's gradebook, with who the LMS said sent it."""
    rows = []
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        for assignment in sorted(a.name for a in gb.assignments):
            for student in sorted(gb.students, key=lambda s: s.id):
                try:
                    sub = gb.find_submission(assignment, student.id)
                except MissingEntry:
                    continue
                identity = read_identity(workspace.submitted / student.id / assignment / IDENTITY_FILE)
                penalty = float(sub.late_submission_penalty or 0)
                if student.last_name or student.first_name:
                    name = ", ".join(n for n in (student.last_name, student.first_name) if n)
                else:
                    name = identity.name if identity and identity.name else student.id
                rows.append(Graded(student.id, assignment, max(0.0, float(sub.score) - penalty),
                                   float(sub.max_score), identity, name, student.email or "",
                                   student.lms_user_id or ""))
    return rows


def read_identity(path: Path) -> LmsIdentity | None:
    try:
        return LmsIdentity.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_canvas(workspace: Workspace, path: Path, settings: CourseSettings) -> tuple[list[Path], list[str]]:
    """One CSV for Canvas's gradebook import; students without a Canvas user id are listed, not written."""
    graded = graded_submissions(workspace)
    assignments = sorted({g.assignment for g in graded})
    max_points = {g.assignment: g.max_score for g in graded}
    by_user: dict[str, canvas.GradeRow] = {}
    skipped = []
    for g in graded:
        user_id = _canvas_id(g)
        if not user_id:
            skipped.append(f"{g.student}/{g.assignment}: no Canvas user id (not from a Canvas download, "
                           "and no lms_id on the roster): left out")
            continue
        row = by_user.setdefault(user_id, canvas.GradeRow(user_id, g.name, {}))
        row.scores[g.assignment] = g.score
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.write_import(str(path), assignments, max_points, by_user.values(), settings.canvas_ids)
    return [path], skipped


def _canvas_id(g: Graded) -> str:
    if g.identity is not None and g.identity.lms == "canvas" and not g.identity.user_id.startswith("anon_"):
        return g.identity.user_id
    return g.lms_user_id.split(";")[0] if g.lms_user_id else ""


def write_moodle(workspace: Workspace, path: Path) -> tuple[list[Path], list[str]]:
    """One grading worksheet per assignment (Moodle's participant ids belong to one assignment).

    With one assignment the worksheet is ``path``; with several, ``<stem>-<assignment><suffix>``.
    """
    graded = graded_submissions(workspace)
    assignments = sorted({g.assignment for g in graded})
    if not assignments:
        raise CourseError(f"the gradebook {workspace.gradebook_url} holds no graded submission yet")
    written, skipped = [], []
    for assignment in assignments:
        rows = []
        for g in (g for g in graded if g.assignment == assignment):
            if g.identity is None or g.identity.lms != "moodle":
                skipped.append(f"{g.student}/{assignment}: not from a Moodle download (no participant id): left out")
                continue
            rows.append(moodle.WorksheetRow(g.identity.user_id, _full_name(g), g.email, g.score))
        target = path if len(assignments) == 1 else path.with_name(f"{path.stem}-{assignment}{path.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        moodle.write_worksheet(str(target), max(g.max_score for g in graded if g.assignment == assignment), rows)
        written.append(target)
    return written, skipped


def _full_name(g: Graded) -> str:
    if g.identity is not None and g.identity.name and "," not in g.name:
        return g.identity.name
    last, _, first = g.name.partition(", ")
    return f"{first} {last}".strip() if first else g.name
