"""When a submission counts as handed in, so that nbgrader can tell late work from on-time work.

nbgrader calls a submission late when its timestamp is after the assignment's due date
(``course.toml``), and its late-submission plugin then applies the course's penalty.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from autograder.course import COURSE_ID, Workspace
from autograder.lms import LmsIdentity

ONE_SECOND = timedelta(seconds=1)


def submission_time(identity: LmsIdentity | None, path: Path, due: datetime | None) -> str | None:
    """The timestamp to record (ISO 8601, UTC), or ``None`` where the input says nothing.

    - Moodle: the file's time in the download (the zip keeps the upload time).
    - Canvas: Canvas's ``LATE`` flag decides, since it knows each student's extensions: late
      work gets a time after the due date, on-time work one no later than it. Without a due
      date the file's time is kept.
    - The course's own pattern: nothing (as before LMS exports were read).
    """
    if identity is None:
        return None
    when = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(microsecond=0)
    if identity.lms == "canvas" and due is not None and identity.late is not None:
        when = max(when, due + ONE_SECOND) if identity.late else min(when, due)
    return when.isoformat()


def record_due_dates(workspace: Workspace, due: dict[str, datetime], assignments: list[str]) -> None:
    """Give each of ``assignments`` its due date from the course settings (or none) in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        for name in assignments:
            gb.update_or_create_assignment(name, duedate=due.get(name))
