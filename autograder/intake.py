"""Collect submissions from what an instructor has, and check them all before grading.

Two shapes are understood:

- nbgrader layout: ``<root>/<student>/<assignment>/<assignment>.ipynb``;
- an LMS export: a folder or ``.zip`` of files named like ``<student>_<assignment>.ipynb``.
  ``--pattern`` sets the regular expression, with named groups ``student`` and ``assignment``.

Every accepted submission is staged into the workspace's ``submitted/`` folder in nbgrader
layout (a record of exactly what was graded). Every problem is one :class:`Rejection` line;
the valid submissions are still graded.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

from autograder.course import Course, Workspace
from autograder.submissions import STUDENT_ID, Rejection, Submission, check_notebook_file, discover_layout

DEFAULT_PATTERN = r"^(?P<student>.+?)_(?P<assignment>\d\d_[A-Za-z0-9_]+?)\.ipynb$"
MAX_ZIP_BYTES = 2 * 1024**3  # refuse archives that expand beyond 2 GiB
MAX_NOTEBOOK_BYTES = 50 * 1024**2


def collect(path: Path, course: Course, pattern: str | None = None) -> tuple[list[Submission], list[Rejection]]:
    """Find submissions under ``path`` (folder or zip); problems come back as rejections."""
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_file():
        if path.suffix.lower() != ".zip":
            raise FileNotFoundError(f"{path} is a file but not a .zip: give a folder or an LMS zip export")
        return _from_zip(path, course, pattern)
    if _looks_like_layout(path):
        return discover_layout(path, course)
    return discover_flat(path, course, pattern)


def _looks_like_layout(root: Path) -> bool:
    """True for ``<student>/<assignment>/<assignment>.ipynb``; false for a flat LMS export."""
    for nb in root.rglob("*.ipynb"):
        rel = nb.relative_to(root)
        if len(rel.parts) == 3 and rel.parts[1] == nb.stem:
            return True
    return False


def discover_flat(folder: Path, course: Course, pattern: str | None = None) -> tuple[list[Submission], list[Rejection]]:
    """Read an LMS-style flat folder of ``<student>_<assignment>.ipynb`` files."""
    regex = re.compile(pattern or DEFAULT_PATTERN)
    if not {"student", "assignment"} <= set(regex.groupindex):
        raise ValueError("--pattern needs named groups (?P<student>...) and (?P<assignment>...)")
    known = set(course.assignments())
    candidates: dict[tuple[str, str], list[Path]] = defaultdict(list)
    rejected: list[Rejection] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
            continue
        m = regex.match(path.name)
        if path.suffix.lower() != ".ipynb":
            rejected.append(Rejection(path, "not a notebook (.ipynb): skipped"))
            continue
        if not m:
            rejected.append(Rejection(path, f"name does not match the pattern {regex.pattern}"))
            continue
        student, assignment = m.group("student"), m.group("assignment")
        if not STUDENT_ID.match(student):
            rejected.append(Rejection(path, f"student id {student!r} may only use letters, digits and _ . @ + -"))
            continue
        if assignment not in known:
            import difflib

            close = difflib.get_close_matches(assignment, sorted(known), n=1)
            rejected.append(Rejection(path, f"unknown assignment {assignment!r}"
                                      + (f" (did you mean {close[0]}?)" if close else "")))
            continue
        candidates[(student, assignment)].append(path)
    found = []
    for (student, assignment), paths in sorted(candidates.items()):
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            for p in paths:
                rejected.append(Rejection(p, f"duplicate: student {student} has {len(paths)} files for "
                                          f"{assignment} ({names}); keep one and grade again"))
            continue
        problem = _notebook_problem(paths[0])
        if problem:
            rejected.append(Rejection(paths[0], problem))
            continue
        found.append(Submission(student, assignment, paths[0]))
    return found, rejected


def _notebook_problem(path: Path) -> str | None:
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return f"too large ({path.stat().st_size // 2**20} MiB): a notebook should be well under 50 MiB"
    return check_notebook_file(path)


_EXTRACTED: list[tempfile.TemporaryDirectory] = []


def _from_zip(archive: Path, course: Course, pattern: str | None) -> tuple[list[Submission], list[Rejection]]:
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
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                rejected.append(Rejection(Path(archive.name) / info.filename, "unsafe path inside the zip: skipped"))
                continue
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    found, more = (discover_layout(root, course) if _looks_like_layout(root) else discover_flat(root, course, pattern))
    return found, rejected + [Rejection(Path(archive.name) / r.path.relative_to(root), r.reason) for r in more]


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
        staged.append(Submission(sub.student, sub.assignment, target))
    return staged
