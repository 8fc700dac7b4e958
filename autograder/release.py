"""Release: turn ``solutions/`` into the student notebooks in ``course/``.

It runs nbgrader's ``GenerateAssignment`` converter (solutions and hidden tests stripped,
checksums added) and records every cell in a workspace's gradebook, which autograding
needs to restore tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory

from autograder.course import Course, CourseError, Workspace
from autograder.exercises.record import write_expected
from autograder.settings import make_config

log = logging.getLogger(__name__)
REGISTRY_FILE = "registered.json"


def _quiet_nbgrader() -> None:
    for name in ("traitlets", "nbgrader", "GenerateAssignment"):
        logging.getLogger(name).setLevel(logging.WARNING)


def generate(course: Course, workspace: Workspace, assignment: str, release_dir: Path,
             source_dir: Path | None = None) -> Path:
    """Run GenerateAssignment for one assignment into ``release_dir``; return the notebook written.

    ``source_dir`` replaces ``solutions/`` (the Chinese edition releases ``build/solutions-zh``).
    """
    _quiet_nbgrader()
    cfg = make_config(course, workspace)
    cfg.CourseDirectory.release_directory = str(release_dir)
    if source_dir is not None:
        cfg.CourseDirectory.source_directory = str(source_dir)
    cfg.CourseDirectory.assignment_id = assignment
    cfg.GenerateAssignment.force = True
    cfg.GenerateAssignment.create_assignment = True
    coursedir = CourseDirectory(config=cfg)
    converter = GenerateAssignment(coursedir=coursedir, config=cfg)
    errors = ErrorCollector()
    converter.log.addHandler(errors)
    try:
        converter.start()
    except Exception as exc:  # nbgrader raises NbGraderException; the cause is in its log
        raise CourseError(f"release of {assignment} failed: {errors.summary() or exc}") from exc
    finally:
        converter.log.removeHandler(errors)
    return release_dir / assignment / f"{assignment}.ipynb"


class ErrorCollector(logging.Handler):
    """Collect the error lines nbgrader logs, to put the real cause into one message."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def summary(self) -> str:
        useful = [ln.strip().splitlines()[-1] for ln in self.lines if ln.strip() and "see the" not in ln]
        return " | ".join(useful[:3])


def source_digest(course: Course, assignment: str) -> str:
    """SHA-256 of an assignment's source notebook."""
    return hashlib.sha256(course.source_notebook(assignment).read_bytes()).hexdigest()


def release(course: Course, workspace: Workspace, assignments: list[str] | None = None) -> list[Path]:
    """Regenerate ``course/`` for ``assignments`` (default: all) and register them in the gradebook."""
    names = [course.require(a) for a in assignments] if assignments else course.assignments()
    workspace.create()
    written = []
    for name in names:
        target = course.release_dir / name
        if target.exists():
            shutil.rmtree(target)
        written.append(generate(course, workspace, name, course.release_dir))
        _remember(workspace, name, source_digest(course, name))
    write_expected(names)  # the visible checks' expected results, for the student's library
    from autograder.translation.build import GLOSSARY_NOTEBOOK, write_glossary

    write_glossary(course.root, course.release_dir / GLOSSARY_NOTEBOOK, "en")
    if not assignments:  # a full release also drops assignments that no longer exist
        for stale in course.release_dir.iterdir():
            if stale.is_dir() and stale.name not in names:
                shutil.rmtree(stale)
    return written


def ensure_registered(course: Course, workspace: Workspace, assignments: list[str]) -> None:
    """Record ``assignments`` in the workspace gradebook if missing or changed since."""
    workspace.create()
    known = _registry(workspace)
    for name in assignments:
        digest = source_digest(course, name)
        if known.get(name) == digest:
            continue
        with tempfile.TemporaryDirectory(prefix="release-") as tmp:
            generate(course, workspace, name, Path(tmp))
        _remember(workspace, name, digest)


def release_to(course: Course, target: Path, assignments: list[str] | None = None) -> None:
    """Release into ``target`` with a throw-away gradebook (used to prove ``course/`` is in sync)."""
    with tempfile.TemporaryDirectory(prefix="release-db-") as tmp:
        ws = Workspace(Path(tmp))
        for name in assignments or course.assignments():
            generate(course, ws, name, target)


def _registry(workspace: Workspace) -> dict[str, str]:
    """Assignments registered in this workspace's gradebook, with the source digest they had."""
    path = workspace.path / REGISTRY_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data.get(workspace.gradebook_url, {}) if isinstance(data, dict) else {}


def _remember(workspace: Workspace, assignment: str, digest: str) -> None:
    path = workspace.path / REGISTRY_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        data = {}
    data.setdefault(workspace.gradebook_url, {})[assignment] = digest
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
