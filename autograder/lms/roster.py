"""The class roster: who is enrolled, and which LMS id belongs to whom.

``roster.csv`` has a header and the columns ``id`` (the student id used in the gradebook),
``name``, ``email`` and ``lms_id`` (Canvas's user id, or a Moodle participant id; several
separated by ``;``). A submission is matched by its LMS id, else by the exact full name
(accents and case aside) where only one person on the roster has it.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from autograder.course import COURSE_ID, CourseError, Workspace
from autograder.lms import LmsIdentity
from autograder.submissions import STUDENT_ID

COLUMNS = ("id", "name", "email", "lms_id")


@dataclass(frozen=True)
class Person:
    """One enrolled student."""

    id: str
    name: str
    email: str
    lms_ids: tuple[str, ...]

    @property
    def first_last(self) -> tuple[str, str]:
        """(first name, last name) for nbgrader: the last word is the last name."""
        first, _, last = self.name.rpartition(" ")
        return first, last


def _key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


@dataclass(frozen=True)
class Roster:
    """The people on a roster, looked up by LMS id or by name."""

    people: tuple[Person, ...]

    @classmethod
    def read(cls, path: Path) -> Roster:
        """Read ``roster.csv``; a problem is a one-line :class:`CourseError` with the row number."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CourseError(f"no such roster file: {path}") from None
        except UnicodeDecodeError:
            raise CourseError(f"{path}: the roster must be UTF-8 text (save it as 'CSV UTF-8')") from None
        rows = list(csv.DictReader(text.splitlines()))
        missing = [c for c in COLUMNS if c not in (rows[0].keys() if rows else ())]
        if missing:
            raise CourseError(f"{path}: the roster needs a header with columns {', '.join(COLUMNS)}; "
                              f"missing {', '.join(missing)}")
        people, seen = [], set()
        for number, row in enumerate(rows, start=2):
            sid = (row["id"] or "").strip()
            if not STUDENT_ID.match(sid):
                raise CourseError(f"{path}, row {number}: student id {sid!r} may only use letters, "
                                  "digits and _ . @ + -")
            if sid in seen:
                raise CourseError(f"{path}, row {number}: student id {sid!r} appears twice")
            seen.add(sid)
            lms_ids = tuple(i.strip() for i in (row["lms_id"] or "").split(";") if i.strip())
            people.append(Person(sid, (row["name"] or "").strip(), (row["email"] or "").strip(), lms_ids))
        return cls(tuple(people))

    def find(self, identity: LmsIdentity) -> Person | None:
        """The person an LMS named: by LMS id, else by a full name that only one person has."""
        for person in self.people:
            if identity.user_id in person.lms_ids:
                return person
        named = [p for p in self.people if identity.name and _key(p.name) == _key(identity.name)]
        return named[0] if len(named) == 1 else None

    def by_id(self, student: str) -> Person | None:
        return next((p for p in self.people if p.id == student), None)


def record_roster(workspace: Workspace, roster: Roster) -> None:
    """Put every person on the roster into the gradebook's student table (names, email, LMS id)."""
    from nbgrader.api import Gradebook

    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        for person in roster.people:
            first, last = person.first_last
            gb.update_or_create_student(person.id, first_name=first or None, last_name=last or None,
                                        email=person.email or None, lms_user_id=";".join(person.lms_ids) or None)
