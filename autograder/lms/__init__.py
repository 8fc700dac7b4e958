"""What learning-management systems export and import.

Each LMS module reads the file names of that LMS's submission download (:func:`parse`) and
writes the grade file its gradebook import accepts. ``generic`` is the course's own pattern,
``<student>_<assignment>.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

LMS_CHOICES = ("generic", "canvas", "moodle")
IDENTITY_FILE = "lms.json"  # beside a staged notebook: who the LMS export named, for grades going back


@dataclass(frozen=True)
class LmsIdentity:
    """Who submitted a file, as the LMS named them.

    - ``user_id``: Canvas's user id, or Moodle's participant id;
    - ``name``: the name in the file or folder name (Canvas squashes it, e.g. ``doejohn``);
    - ``late``: Canvas's ``LATE`` flag (``None`` where the LMS does not say);
    - ``version``: orders a student's files, newest largest (Canvas's attachment id);
    - ``file``: the path inside the export.
    """

    lms: str
    user_id: str
    name: str
    late: bool | None = None
    version: int = 0
    file: str = ""

    def to_dict(self) -> dict:
        return {"lms": self.lms, "user_id": self.user_id, "name": self.name, "late": self.late,
                "version": self.version, "file": self.file}

    @classmethod
    def from_dict(cls, data: dict) -> LmsIdentity:
        return cls(str(data["lms"]), str(data["user_id"]), str(data.get("name", "")), data.get("late"),
                   int(data.get("version", 0)), str(data.get("file", "")))


@dataclass(frozen=True)
class ExportEntry:
    """One notebook in an export: who sent it and which notebook it is (LMS suffixes removed)."""

    identity: LmsIdentity
    notebook: str  # e.g. "01_conv_arithmetic.ipynb"
