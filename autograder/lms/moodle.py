"""Moodle: the assignment's "Download all submissions" zip, and its offline grading worksheet.

The download (``mod/assign/locallib.php``, ``download_submissions``) prefixes every file with
``<Full Name>_<participant id>_assignsubmission_file_``: as a folder holding the student's
files by their own names (the default), or glued to each file name. Moodle turns ``_`` in a
name into a space and keeps accents and CJK. A participant id is fixed for one student in one
assignment, but differs between assignments: a roster keeps one person under one id.

The worksheet upload (``assignfeedback_offline``) needs the columns ``Identifier``
(``Participant <id>``), ``Grade`` and ``Last modified (grade)``; it skips a row whose grade in
Moodle changed more recently than that time.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath

from autograder.lms import ExportEntry, LmsIdentity

PREFIX = re.compile(r"^(?P<name>.+)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
          "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def parse(path: PurePath) -> ExportEntry | str:
    """The entry for one downloaded file (in a participant folder or prefixed), or why not."""
    folders = [f for f in map(PREFIX.match, path.parts[:-1]) if f is not None and f.group("rest") == ""]
    if folders:
        m, file = folders[-1], path.name
    else:
        m = PREFIX.match(path.name)
        if m is None:
            return "not a Moodle download name (<Full Name>_<participant id>_assignsubmission_file_...)"
        file = m.group("rest")
    if m.group("plugin") != "file":
        return f"Moodle's {m.group('plugin')} submission, not an uploaded file: skipped"
    identity = LmsIdentity("moodle", m.group("participant"), m.group("name"), None, 0, str(path))
    return ExportEntry(identity, file)


@dataclass(frozen=True)
class WorksheetRow:
    """One participant's line: Moodle's participant id, name, email, score."""

    participant: str
    name: str
    email: str
    score: float


def write_worksheet(path: str, max_points: float, rows: Iterable[WorksheetRow],
                    now: datetime | None = None) -> int:
    """Write one assignment's grading worksheet for Moodle's "Upload grading worksheet".

    ``Last modified (grade)`` is the time of writing, so Moodle takes these grades unless a
    grade was changed in Moodle afterwards. Returns how many rows were written.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")  # Moodle reads it with strtotime
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for row in rows:
            out.writerow([f"Participant {row.participant}", row.name, row.email, "", f"{row.score:g}",
                          f"{max_points:g}", "Yes", "", stamp, ""])
            count += 1
    return count
