"""The two gradebook-side steps around execution, built from nbgrader's preprocessors.

- :func:`prepare_job` (before): nbgrader's sanitize chain restores locked and test cells
  from the gradebook (so edited tests and points are reverted) and pins the kernelspec.
- :func:`record_result` (after): nbgrader's post-execution chain scores each grade cell
  and saves the scores. Only the main process calls it: there is one gradebook writer.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder.course import COURSE_ID, KERNEL_NAME, Course, Workspace
from autograder.handgraded import Pending, pending
from autograder.jobs import Job, default_env
from autograder.limits import Limits
from autograder.preprocessors import AssignMissingIds, ResolveDuplicateCells
from autograder.sandbox import Policy
from autograder.submissions import Submission
from cnnlab.i18n import LANG_ENV, notebook_language

SANITIZE = (ClearOutput, ResolveDuplicateCells, DeduplicateIds, OverwriteKernelspec, OverwriteCells, AssignMissingIds,
            CheckCellMetadata)
AFTER_EXECUTE = (IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                 AssignLatePenalties, CheckCellMetadata)
MARKER = ".grading.json"

# nbgrader 0.9.6 with SQLAlchemy 2.x warns about its own autoflush on every new submission.
warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.api")


class SubmissionError(Exception):
    """A submission that cannot be graded; the message is the reason, one line."""


@dataclass(frozen=True)
class Outcome:
    """What grading one submission produced."""

    student: str
    assignment: str
    status: str  # ok | kernel-died | notebook-timeout | worker-crashed | invalid | skipped
    score: float
    max_score: float
    seconds: float
    reason: str = ""
    # Written answers left for the formgrader: ``score`` excludes them until someone grades them.
    pending: Pending = Pending()


def _resources(workspace: Workspace, sub: Submission) -> dict:
    return {
        "unique_key": sub.assignment,
        "output_files_dir": f"{sub.assignment}_files",
        "nbgrader": {"student": sub.student, "assignment": sub.assignment,
                     "notebook": sub.assignment, "db_url": workspace.gradebook_url},
    }


def _run_chain(chain: tuple, nb: nbformat.NotebookNode, resources: dict, config: Config):
    for cls in chain:
        nb, resources = cls(config=config)(nb, resources)
    return nb, resources


def scrub_surrogates(value):  # noqa: ANN001, ANN201
    """``value`` with every lone UTF-16 surrogate (a JSON ``\\ud800`` escape) replaced by U+FFFD.

    Such text cannot be written as UTF-8, so the graded copy could not be saved.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return type(value)(scrub_surrogates(v) for v in value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = scrub_surrogates(value[key])
        return value
    return value


def prepare_job(course: Course, workspace: Workspace, sub: Submission, config: Config,
                limits: Limits, kernel_name: str = KERNEL_NAME, gpu: bool = False,
                policy: Policy | None = None) -> Job:
    """Read and sanitize a submission into a :class:`Job`; raise ``SubmissionError`` if unusable."""
    try:
        nb = scrub_surrogates(nbformat.read(sub.path, as_version=4))
    except Exception as exc:
        raise SubmissionError(f"not a readable notebook: {exc}".splitlines()[0][:300]) from None
    language = notebook_language(nb.get("metadata", {}))
    try:
        nb, _ = _run_chain(SANITIZE, nb, _resources(workspace, sub), config)
    except Exception as exc:
        raise SubmissionError(f"cannot restore the notebook's cells: {exc}".splitlines()[0][:300]) from None
    files = {}
    source_dir = course.source_dir / sub.assignment
    for path in sorted(source_dir.rglob("*")):
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            files[str(path.relative_to(source_dir))] = base64.b64encode(path.read_bytes()).decode()
    env = default_env()
    env[LANG_ENV] = language  # always set: a worker's environment outlives one job
    if gpu and policy is not None and policy.memory_bytes:
        # CUDA reserves far more address space than it uses: no RLIMIT_AS for GPU jobs.
        policy = Policy.from_dict({**policy.to_dict(), "memory_bytes": 0})
    return Job(sub.student, sub.assignment, nbformat.writes(nb), limits, kernel_name, files,
               env, gpu, (policy or Policy()).to_dict())


def _ensure_submission(workspace: Workspace, sub: Submission) -> None:
    timestamp = None
    stamp = sub.path.parent / "timestamp.txt"
    if stamp.is_file():
        timestamp = stamp.read_text().strip() or None
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        gb.update_or_create_student(sub.student)
        if timestamp:
            gb.update_or_create_submission(sub.assignment, sub.student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(sub.assignment, sub.student)


def _score(workspace: Workspace, sub: Submission) -> tuple[float, float, Pending]:
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        s = gb.find_submission(sub.assignment, sub.student)
        return float(s.score), float(s.max_score), pending(s)


def record_result(course: Course, workspace: Workspace, sub: Submission, result: dict,
                  config: Config) -> Outcome:
    """Score an executed notebook into the gradebook and write the autograded copy."""
    if not result.get("notebook"):
        return record_failure(workspace, sub, result.get("status", "worker-crashed"),
                              result.get("reason", "no notebook came back"), result.get("seconds", 0.0))
    _ensure_submission(workspace, sub)
    nb = scrub_surrogates(nbformat.reads(result["notebook"], as_version=4))
    nb, _ = _run_chain(AFTER_EXECUTE, nb, _resources(workspace, sub), config)
    folder = workspace.autograded / sub.student / sub.assignment
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / f"{sub.assignment}.ipynb", nbformat.writes(nb))
    stamp = sub.path.parent / "timestamp.txt"
    if stamp.is_file():
        shutil.copyfile(stamp, folder / "timestamp.txt")
    score, max_score, waiting = _score(workspace, sub)
    outcome = Outcome(sub.student, sub.assignment, result["status"], score, max_score,
                      float(result.get("seconds", 0.0)), result.get("reason", ""), waiting)
    _write_marker(folder, sub, outcome)
    return outcome


def record_failure(workspace: Workspace, sub: Submission, status: str, reason: str,
                   seconds: float = 0.0) -> Outcome:
    """Record a submission that could not be executed: every grade 0, with the reason kept."""
    _ensure_submission(workspace, sub)
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        submission = gb.find_submission(sub.assignment, sub.student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()
        max_score = float(submission.max_score)
    folder = workspace.autograded / sub.student / sub.assignment
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / f"{sub.assignment}.ipynb"
    if stale.exists():
        stale.unlink()
    outcome = Outcome(sub.student, sub.assignment, status, 0.0, max_score, seconds, reason)
    _write_marker(folder, sub, outcome)
    return outcome


def already_graded(workspace: Workspace, sub: Submission) -> Outcome | None:
    """The recorded outcome if this exact file was graded before (a retryable crash does not count)."""
    marker = workspace.autograded / sub.student / sub.assignment / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return None
    if data.get("digest") != sub.digest() or data.get("status") == "worker-crashed":
        return None
    try:
        score, max_score, waiting = _score(workspace, sub)
    except Exception:  # not in this gradebook (e.g. a new database): grade again
        return None
    return Outcome(sub.student, sub.assignment, data["status"], score, max_score,
                   data.get("seconds", 0.0), data.get("reason", ""), waiting)


def _write_marker(folder: Path, sub: Submission, outcome: Outcome) -> None:
    data = {"digest": sub.digest(), "status": outcome.status, "reason": outcome.reason,
            "seconds": outcome.seconds, "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _atomic_write(folder / MARKER, json.dumps(data, indent=1) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
