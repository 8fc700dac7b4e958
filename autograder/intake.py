"""Collect submissions from what an instructor has, and check them all before grading.

Two shapes are understood:

- nbgrader layout: ``<root>/<student>/<assignment>/<assignment>.ipynb``;
- an LMS export, as a folder or ``.zip``: Canvas's or Moodle's download (``--lms``, see
  :mod:`autograder.lms`), or files named like ``<student>_<assignment>.ipynb`` (``--pattern``
  sets that regular expression, with named groups ``student`` and ``assignment``).

A roster maps LMS ids to the course's student ids; LMS late flags and file times become
nbgrader timestamps (:mod:`autograder.lateness`).

Every accepted submission is staged into the workspace's ``submitted/`` folder in nbgrader
layout (a record of exactly what was graded). Every problem is one :class:`Rejection` line;
the valid submissions are still graded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath

from autograder.course import Course, CourseError, Workspace
from autograder.course_settings import CourseSettings
from autograder.lateness import submission_time
from autograder.lms import IDENTITY_FILE, LMS_CHOICES, ExportEntry, LmsIdentity, canvas, moodle
from autograder.lms.roster import Roster
from autograder.submissions import (
    STUDENT_ID,
    Rejection,
    Submission,
    check_notebook_file,
    discover_layout,
    unknown_assignment,
)

DEFAULT_PATTERN = r"^(?P<student>.+?)_(?P<assignment>\d\d_[A-Za-z0-9_]+?)\.ipynb$"
MAX_ZIP_BYTES = 2 * 1024**3  # refuse archives that expand beyond 2 GiB


@dataclass
class Intake:
    """What an input held: submissions to grade, rejected files, and notes for the instructor."""

    submissions: list[Submission] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect(path: Path, course: Course, pattern: str | None = None) -> tuple[list[Submission], list[Rejection]]:
    """Find submissions under ``path`` (folder or zip) named by ``pattern``; problems become rejections."""
    found = read_submissions(path, course, pattern=pattern)
    return found.submissions, found.rejected


def read_submissions(path: Path, course: Course, *, lms: str = "generic", pattern: str | None = None,
                     roster: Roster | None = None, settings: CourseSettings | None = None) -> Intake:
    """Read a folder or zip: nbgrader layout, or an export of ``lms`` (see :mod:`autograder.lms`)."""
    if lms not in LMS_CHOICES:
        raise CourseError(f"unknown LMS {lms!r}; choose one of {', '.join(LMS_CHOICES)}")
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    reader = _reader(lms, pattern)
    settings = settings or CourseSettings()
    if path.is_file():
        if path.suffix.lower() != ".zip":
            raise FileNotFoundError(f"{path} is a file but not a .zip: give a folder or an LMS zip export")
        root, rejected = _unzip(path)
        found = _read_folder(root, course, reader, roster, settings)
        found.rejected = rejected + [Rejection(Path(path.name) / r.path.relative_to(root), r.reason)
                                     for r in found.rejected]
        return found
    return _read_folder(path, course, reader, roster, settings)


Reader = Callable[[PurePath], "ExportEntry | tuple[str, str] | str"]


def _reader(lms: str, pattern: str | None) -> Reader:
    """How to read one file name: an LMS module's parser, or the generic pattern."""
    if lms == "canvas":
        return canvas.parse
    if lms == "moodle":
        return moodle.parse
    regex = re.compile(pattern or DEFAULT_PATTERN)
    if not {"student", "assignment"} <= set(regex.groupindex):
        raise ValueError("--pattern needs named groups (?P<student>...) and (?P<assignment>...)")

    def generic(rel: PurePath) -> tuple[str, str] | str:
        m = regex.match(rel.name)
        if not m:
            return f"name does not match the pattern {regex.pattern}"
        return m.group("student"), m.group("assignment") + ".ipynb"

    return generic


def _read_folder(root: Path, course: Course, reader: Reader, roster: Roster | None,
                 settings: CourseSettings) -> Intake:
    if _looks_like_layout(root):
        subs, rejected = discover_layout(root, course)
        return Intake(subs, rejected)
    return discover_flat(root, course, reader, roster, settings)


def _looks_like_layout(root: Path) -> bool:
    """True for ``<student>/<assignment>/<assignment>.ipynb``; false for a flat LMS export."""
    for nb in root.rglob("*.ipynb"):
        rel = nb.relative_to(root)
        if len(rel.parts) == 3 and rel.parts[1] == nb.stem:
            return True
    return False


def discover_flat(folder: Path, course: Course, reader: Reader | str | None = None, roster: Roster | None = None,
                  settings: CourseSettings | None = None) -> Intake:
    """Read an LMS export: every file is named by ``reader`` (a pattern string is the generic reader)."""
    if reader is None or isinstance(reader, str):
        reader = _reader("generic", reader)
    settings = settings or CourseSettings()
    known = set(course.assignments())
    candidates: dict[tuple[str, str], list[tuple[Path, LmsIdentity | None]]] = defaultdict(list)
    found = Intake()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue
        if path.is_symlink():
            found.rejected.append(Rejection(path, "a symbolic link, not a file: submit the notebook itself"))
            continue
        if not path.is_file():
            continue
        named = reader(rel)
        if path.suffix.lower() != ".ipynb":
            found.rejected.append(Rejection(path, "not a notebook (.ipynb): skipped"))
            continue
        if isinstance(named, str):
            found.rejected.append(Rejection(path, named))
            continue
        student, notebook, identity = _who(named, roster)
        assignment = notebook[: -len(".ipynb")] if notebook.endswith(".ipynb") else notebook
        if not STUDENT_ID.match(student):
            found.rejected.append(Rejection(path, f"student id {student!r} may only use letters, digits and _ . @ + -"))
            continue
        if assignment not in known:
            found.rejected.append(Rejection(path, unknown_assignment(assignment, known)))
            continue
        candidates[(student, assignment)].append((path, identity))
    for (student, assignment), files in sorted(candidates.items()):
        chosen = _choose(student, assignment, files, found)
        if chosen is None:
            continue
        path, identity = chosen
        problem = check_notebook_file(path)
        if problem:
            found.rejected.append(Rejection(path, problem))
            continue
        stamp = submission_time(identity, path, settings.due.get(assignment))
        found.submissions.append(Submission(student, assignment, path, stamp, identity))
    _roster_notes(found, roster)
    return found


def _who(named: ExportEntry | tuple[str, str], roster: Roster | None) -> tuple[str, str, LmsIdentity | None]:
    """(student id, notebook name, identity): the roster's id when it knows the person."""
    if not isinstance(named, ExportEntry):
        return named[0], named[1], None
    person = roster.find(named.identity) if roster else None
    return (person.id if person else named.identity.user_id), named.notebook, named.identity


def _choose(student: str, assignment: str, files: list[tuple[Path, LmsIdentity | None]],
            found: Intake) -> tuple[Path, LmsIdentity | None] | None:
    """One file per student and assignment: the newest resubmission where the LMS orders them."""
    if len(files) == 1:
        return files[0]
    versions = [identity.version if identity else 0 for _, identity in files]
    if all(versions) and len(set(versions)) == len(versions):
        ordered = sorted(files, key=lambda f: f[1].version)  # type: ignore[union-attr]
        newest, older = ordered[-1], ordered[:-1]
        found.notes.append(f"{student}/{assignment}: {len(files)} files; graded the newest, {newest[0].name} "
                           f"(ignored {', '.join(p.name for p, _ in older)})")
        return newest
    names = ", ".join(p.name for p, _ in files)
    for p, _ in files:
        found.rejected.append(Rejection(p, f"duplicate: student {student} has {len(files)} files for "
                                        f"{assignment} ({names}); keep one and grade again"))
    return None


def _roster_notes(found: Intake, roster: Roster | None) -> None:
    late = [s for s in found.submissions if s.identity is not None and s.identity.late]
    for s in late:
        found.notes.append(f"{s.student}/{s.assignment}: marked late by the LMS")
    if roster is None:
        if any(s.identity is not None and s.identity.lms == "moodle" for s in found.submissions):
            found.notes.append("Moodle's participant ids differ between assignments: give --roster so that "
                               "one person keeps one student id")
        return
    enrolled = {p.id for p in roster.people}
    for s in found.submissions:
        if s.student not in enrolled:
            who = f" ({s.identity.name})" if s.identity is not None and s.identity.name else ""
            found.notes.append(f"not on the roster: {s.student}{who}, {s.assignment}")
    for assignment in sorted({s.assignment for s in found.submissions}):
        handed_in = {s.student for s in found.submissions if s.assignment == assignment}
        for person in roster.people:
            if person.id not in handed_in:
                found.notes.append(f"no submission: {person.id} ({person.name}), {assignment}")


_EXTRACTED: list[tempfile.TemporaryDirectory] = []


def _unzip(archive: Path) -> tuple[Path, list[Rejection]]:
    """Extract ``archive`` into a temporary folder; each file keeps the zip's time as its mtime."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise FileNotFoundError(f"{archive} is not a readable zip file") from None
    tmp = tempfile.TemporaryDirectory(prefix="lms-")
    _EXTRACTED.append(tmp)  # kept until the process ends: staged copies are made from it
    root = Path(tmp.name)
    rejected: list[Rejection] = []
    with zf:
        if sum(i.file_size for i in zf.infolist()) > MAX_ZIP_BYTES:
            raise FileNotFoundError(f"{archive} expands beyond {MAX_ZIP_BYTES // 2**30} GiB; refusing to unpack it")
        entries = [i for i in zf.infolist() if not i.is_dir()]
        counts = Counter(i.filename for i in entries)
        for info in entries:
            where = Path(archive.name) / info.filename
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                rejected.append(Rejection(where, "unsafe path inside the zip: skipped"))
                continue
            if counts[info.filename] > 1:
                rejected.append(Rejection(where, f"the zip holds {counts[info.filename]} entries with this name: "
                                          "none is graded (which one is meant?)"))
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                rejected.append(Rejection(where, "a symbolic link inside the zip, not a file: skipped"))
                continue
            target = root / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
                target.unlink(missing_ok=True)
                rejected.append(Rejection(where, f"damaged zip entry, not extracted ({exc})".splitlines()[0][:200]))
                continue
            when = datetime(*info.date_time, tzinfo=UTC).timestamp()
            os.utime(target, (when, when))
    return root, rejected


def stage(workspace: Workspace, submissions: list[Submission]) -> list[Submission]:
    """Copy submissions into ``<workspace>/submitted/<student>/<assignment>/``; return the staged ones."""
    staged = []
    for sub in submissions:
        target = workspace.submitted / sub.student / sub.assignment / f"{sub.assignment}.ipynb"
        if sub.path.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sub.path, target)
            stamp = sub.path.parent / "timestamp.txt"
            if stamp.is_file() and sub.path.parent.name == sub.assignment:
                shutil.copyfile(stamp, target.parent / "timestamp.txt")
        if sub.timestamp:
            (target.parent / "timestamp.txt").write_text(sub.timestamp + "\n")
        if sub.identity is not None:
            (target.parent / IDENTITY_FILE).write_text(json.dumps(sub.identity.to_dict(), ensure_ascii=False) + "\n",
                                                      encoding="utf-8")
        staged.append(Submission(sub.student, sub.assignment, target, sub.timestamp, sub.identity))
    return staged
