"""Grade many submissions: sanitize, execute on workers, record with one writer.

Workers only execute notebooks (each job in its own directory, process and kernel);
the main process alone writes the gradebook. The same jobs run on a local thread pool
of subprocesses or on a Dask cluster (:mod:`autograder.backends`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from autograder.backends import Backend, LocalBackend
from autograder.course import Course, Workspace
from autograder.course_settings import load_settings, settings_path
from autograder.jobs import KERNEL_START_FAILED, WORKER_CRASHED, remove_stale_job_dirs
from autograder.lateness import record_due_dates
from autograder.limits import Limits
from autograder.preflight import preflight
from autograder.release import ensure_registered
from autograder.sandbox import Policy, check_policy, remove_stale_cgroups
from autograder.settings import make_config
from autograder.steps import Outcome, SubmissionError, already_graded, prepare_job, record_failure, record_result
from autograder.submissions import Rejection, Submission

RETRIES = 2  # an infrastructure failure is retried this many times, then reported as not graded
NOT_GRADED = "not-graded"
INFRA_STATUSES = {WORKER_CRASHED, KERNEL_START_FAILED}  # the machine's fault, never a student's
INFRA_ERRORS = (SQLAlchemyError, OSError)  # the gradebook or the disk failed while recording


@dataclass
class GradeRun:
    """Everything one ``grade`` call did."""

    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[Outcome] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = ""
    sandboxed: bool = False

    @property
    def all(self) -> list[Outcome]:
        return sorted(self.outcomes + self.skipped, key=lambda o: (o.student, o.assignment))


def grade(course: Course, workspace: Workspace, submissions: Iterable[Submission], *,
          backend: Backend | None = None, force: bool = False, limits: Limits | None = None,
          progress: bool = True, gpu_assignments: Iterable[str] = (), policy: Policy | None = None,
          on_outcome: Callable[[Outcome], None] | None = None, check_machine: bool = True) -> GradeRun:
    """Grade ``submissions`` into ``workspace``; already-graded ones are skipped unless ``force``.

    Raises ``SandboxUnavailable`` before grading anything if ``policy.require_sandbox`` cannot be met,
    and :class:`~autograder.preflight.PreflightFailed` if this machine cannot run the assignments'
    setup cells or read their data (``check_machine``). Infrastructure failures are retried, then
    reported as ``not-graded`` and never recorded.
    """
    started = time.monotonic()
    subs = list(submissions)
    policy = policy or Policy()
    caps = check_policy(policy)
    remove_stale_cgroups(caps.cgroup_pids)
    remove_stale_job_dirs()
    run = GradeRun(isolation=caps.describe(policy), sandboxed=bool(policy.sandbox and caps.bwrap))
    ensure_registered(course, workspace, sorted({s.assignment for s in subs}))
    record_due_dates(workspace, load_settings(settings_path(course.root)).due, sorted({s.assignment for s in subs}))
    config = make_config(course, workspace)
    limits = limits or Limits()
    gpu = set(gpu_assignments)

    todo: list[Submission] = []
    for sub in subs:
        previous = None if force else already_graded(workspace, sub)
        (run.skipped.append(previous) if previous else todo.append(sub))

    jobs = {}
    for sub in todo:
        try:
            jobs[sub.key] = (sub, prepare_job(course, workspace, sub, config, limits,
                                              gpu=sub.assignment in gpu, policy=policy))
        except SubmissionError as exc:
            outcome = _failed(workspace, sub, str(exc))
            run.outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)

    backend = backend or LocalBackend()
    if jobs and check_machine:
        kernel = next(iter(jobs.values()))[1].kernel_name
        preflight(course, sorted({sub.assignment for sub, _ in jobs.values()}), backend, policy, kernel)
    if isinstance(backend, LocalBackend):
        # N kernels share this machine's cores: no oversubscribed, spin-waiting OpenMP threads.
        threads = str(max(1, (os.cpu_count() or 1) // backend.workers))
        for _, job in jobs.values():
            job.env.setdefault("OMP_NUM_THREADS", threads)
            job.env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    bar = _progress(len(jobs), progress)
    attempts = {key: 0 for key in jobs}
    pending = [job.to_dict() for _, job in jobs.values()]
    while pending:
        retry = []
        for job, result in backend.run(pending):
            key = f"{job['student']}/{job['assignment']}"
            sub = jobs[key][0]
            seconds = float(result.get("seconds", 0.0))
            if result.get("status") in INFRA_STATUSES:
                if attempts[key] < RETRIES:
                    attempts[key] += 1
                    retry.append(job)
                    continue
                outcome = _not_graded(sub, f"{result.get('status')}: {result.get('reason', '')}", seconds,
                                      attempts[key] + 1)
            else:
                try:
                    outcome = record_result(course, workspace, sub, result, config)
                except INFRA_ERRORS as exc:
                    outcome = _not_graded(sub, f"recording failed: {type(exc).__name__}: {exc}", seconds, 1)
                except Exception as exc:  # this submission's notebook cannot be scored: its failure alone
                    reason = f"could not be scored: {type(exc).__name__}: {exc}".splitlines()[0][:300]
                    outcome = _failed(workspace, sub, reason, seconds)
            run.outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
            if bar is not None:
                bar.set_postfix_str(f"{key} {outcome.score:g}/{outcome.max_score:g}", refresh=False)
                bar.update(1)
        pending = retry
    if bar is not None:
        bar.close()
    run.seconds = time.monotonic() - started
    return run


def _not_graded(sub: Submission, why: str, seconds: float, tries: int) -> Outcome:
    """An infrastructure failure: reported, never recorded as a grade; a plain re-run grades it."""
    reason = f"{why}".splitlines()[0][:300] + f" (tried {tries}x; nothing recorded: fix the machine and run again)"
    return Outcome(sub.student, sub.assignment, NOT_GRADED, 0.0, 0.0, seconds, reason)


def _failed(workspace: Workspace, sub: Submission, reason: str, seconds: float = 0.0) -> Outcome:
    """Record ``sub`` as invalid with ``reason``; if even that fails, report it unrecorded."""
    try:
        return record_failure(workspace, sub, "invalid", reason, seconds)
    except Exception as exc:
        why = f"{reason}; not recorded in the gradebook ({type(exc).__name__})"
        return Outcome(sub.student, sub.assignment, "invalid", 0.0, 0.0, seconds, why)


def _progress(total: int, enabled: bool):  # noqa: ANN202
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="nb", desc="grading", file=sys.stderr, dynamic_ncols=True)
