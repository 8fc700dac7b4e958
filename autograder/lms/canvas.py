"""Canvas: the "Download Submissions" zip, and a CSV for the gradebook's "Import".

A downloaded file is named ``<name>[_LATE]_<user id>_<attachment id>_<file>`` (canvas-lms,
``lib/content_zipper.rb``): ``name`` is the student's sortable name, lower-cased, with every
non-word character removed (``doejohn``); ``LATE`` marks work Canvas counts as late, extensions
included; an anonymized download has ``anon_<id>`` and no name. A file uploaded again under the
same name gets ``-1``, ``-2`` ... before its extension, and attachment ids grow with every upload.

The import (``GradebookImporter``) matches a student by the ``ID`` column (Canvas's user id)
first, and an assignment by a ``NAME (ID)`` header, else by its exact title.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from autograder.lms import ExportEntry, LmsIdentity

FILE_NAME = re.compile(
    r"^(?:(?P<name>.*?)_)??(?:(?P<late>(?i:late))_)?(?P<user>\d+|anon_[^\W_]+)_(?P<attachment>\d+)_(?P<file>.+)$")
RESUBMITTED = re.compile(r"^(?P<stem>.+?)-\d+$")
HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_ROW = "    Points Possible"


def parse(path: PurePath) -> ExportEntry | str:
    """The entry for one downloaded file, or why its name is not Canvas's."""
    m = FILE_NAME.match(path.name)
    if not m:
        return "not a Canvas download name (<name>[_LATE]_<user id>_<attachment id>_<file>)"
    file = PurePath(m.group("file"))
    stem = file.stem
    again = RESUBMITTED.match(stem)
    if again:
        stem = again.group("stem")
    identity = LmsIdentity("canvas", m.group("user"), m.group("name") or "", bool(m.group("late")),
                           int(m.group("attachment")), str(path))
    return ExportEntry(identity, stem + file.suffix)


@dataclass(frozen=True)
class GradeRow:
    """One student's line in the import: Canvas's user id, a display name, scores by assignment."""

    user_id: str
    name: str
    scores: dict[str, float]


def write_import(path: str, assignments: list[str], max_points: dict[str, float], rows: Iterable[GradeRow],
                 assignment_ids: dict[str, int]) -> int:
    """Write Canvas's gradebook-import CSV; return how many students it holds.

    Columns: Student, ID (Canvas's user id, which the import matches on), SIS User ID, SIS
    Login ID and Section (left empty), then one column per assignment headed ``NAME (ID)``
    when Canvas's assignment id is known, else ``NAME``. The second row gives points possible.
    """
    heads = [f"{a} ({assignment_ids[a]})" if a in assignment_ids else a for a in assignments]
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER + heads)
        out.writerow([POINTS_ROW, "", "", "", ""] + [f"{max_points.get(a, 0):g}" for a in assignments])
        for row in rows:
            out.writerow([row.name, row.user_id, "", "", ""]
                         + [f"{row.scores[a]:g}" if a in row.scores else "" for a in assignments])
            count += 1
    return count
