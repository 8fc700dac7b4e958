"""LMS downloads as Canvas and Moodle really name them, built from the example students.

Each builder writes the export as a zip or as an unpacked folder, and returns what importing
it must give. Layouts follow canvas-lms ``lib/content_zipper.rb`` and Moodle's
``mod/assign/locallib.php`` (``download_submissions``); see :mod:`autograder.lms`.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from helpers import EXAMPLES, trimmed_copy

NB01 = "01_conv_arithmetic"
DUE = datetime(2027, 3, 1, 15, 59, tzinfo=UTC)  # 2027-03-01T23:59:00+08:00
BEFORE = datetime(2027, 2, 27, 10, 30, tzinfo=UTC)
AFTER = datetime(2027, 3, 2, 9, 15, tzinfo=UTC)


@dataclass
class Export:
    """A built export and what reading it must give."""

    path: Path
    students: dict[str, str]  # student id -> which example student's notebook it holds
    late: set[str]  # student ids the LMS or the clock says are late
    rejected: dict[str, str]  # file name -> a word of the reason
    notes: list[str] = field(default_factory=list)  # words each expected in one note


def _notebook(tmp: Path, example: str) -> bytes:
    source = EXAMPLES / "submissions" / example / NB01 / f"{NB01}.ipynb"
    return trimmed_copy(source, tmp / "trimmed" / f"{example}.ipynb").read_bytes()


def _write(path: Path, files: list[tuple[str, bytes, datetime]], as_zip: bool) -> Path:
    if as_zip:
        with zipfile.ZipFile(path, "w") as zf:
            for name, data, when in files:
                zf.writestr(zipfile.ZipInfo(name, when.timetuple()[:6]), data)
        return path
    for name, data, when in files:
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (when.timestamp(), when.timestamp()))
    return path


def canvas_export(tmp: Path, *, as_zip: bool) -> Export:
    """Canvas's "Download Submissions": a late resubmission, an accented name, stray files."""
    full, partial, untouched = (_notebook(tmp, f"student-{k}") for k in ("full", "partial", "untouched"))
    files = [
        (f"doejohn_12345_6789012_{NB01}.ipynb", full, BEFORE),
        (f"smithann_LATE_23456_7890123_{NB01}.ipynb", untouched, AFTER),  # first upload ...
        (f"smithann_LATE_23456_7890124_{NB01}-1.ipynb", partial, AFTER),  # ... uploaded again: graded
        (f"garcíamaría_34567_7890200_{NB01}.ipynb", full, BEFORE),
        ("doejohn_12345_6789013_notes.txt", b"my notes", BEFORE),
        ("doejohn_12345_6789014_homework.ipynb", full, BEFORE),
        (f"{NB01}.ipynb", full, BEFORE),
    ]
    path = _write(tmp / ("canvas.zip" if as_zip else "canvas"), files, as_zip)
    return Export(path, {"12345": "full", "23456": "partial", "34567": "full"}, {"23456"},
                  {"doejohn_12345_6789013_notes.txt": "not a notebook",
                   "doejohn_12345_6789014_homework.ipynb": "unknown assignment",
                   f"{NB01}.ipynb": "not a Canvas download name"},
                  ["graded the newest", "marked late"])


def moodle_export(tmp: Path, *, as_zip: bool) -> Export:
    """Moodle's "Download all submissions": folders per participant, accents, CJK, one flat file."""
    full, partial, untouched = (_notebook(tmp, f"student-{k}") for k in ("full", "partial", "untouched"))
    files = [
        (f"Jane Doe_101_assignsubmission_file_/{NB01}.ipynb", full, BEFORE),
        (f"Zoë Núñez_102_assignsubmission_file_/{NB01}.ipynb", partial, AFTER),
        (f"王小明_103_assignsubmission_file_/{NB01}.ipynb", untouched, BEFORE),
        (f"Li Lei_104_assignsubmission_file_{NB01}.ipynb", full, BEFORE),  # "download in folders" off
        ("Jane Doe_101_assignsubmission_onlinetext_/onlinetext.html", b"<p>see my notebook</p>", BEFORE),
        ("王小明_103_assignsubmission_file_/scratch.ipynb", full, BEFORE),
    ]
    path = _write(tmp / ("moodle.zip" if as_zip else "moodle"), files, as_zip)
    return Export(path, {"101": "full", "102": "partial", "103": "untouched", "104": "full"}, {"102"},
                  {"onlinetext.html": "not a notebook", "scratch.ipynb": "unknown assignment"},
                  ["participant ids differ between assignments"])


ROSTER = """id,name,email,lms_id
s001,Jane Doe,jane@example.edu,
s002,Zoe Nunez,zoe@example.edu,
s003,王小明,wang@example.edu,
s004,John Doe,john@example.edu,12345
s005,Ann Smith,ann@example.edu,23456
s006,María García,maria@example.edu,34567
s007,Never Submitted,never@example.edu,99999
"""
ROSTER_IDS = {"101": "s001", "102": "s002", "103": "s003", "12345": "s004", "23456": "s005", "34567": "s006"}


def settings_file(tmp: Path, penalty: str = "zero") -> Path:
    """A course.toml with 01's due date and the given late penalty."""
    path = tmp / "course.toml"
    path.write_text(f'[due]\n"{NB01}" = "2027-03-01T23:59:00+08:00"\n\n[late]\npenalty = "{penalty}"\n\n'
                    f'[canvas.assignment_ids]\n"{NB01}" = 4242\n', encoding="utf-8")
    return path
