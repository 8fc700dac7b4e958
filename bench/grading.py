"""Grading throughput, measured side by side in one run (timings, not a test).

1. Per notebook: our autograde of the full solution (1 worker) beside a bare nbclient run of
   the same notebook (the source, hidden tests included): the grader's overhead ratio.
2. A synthetic class of N submissions of one notebook graded three ways: serial
   `nbgrader autograde`, this grader with 1 worker, and with 2 workers.

Usage: python bench/grading.py [--n 20] [--assignment 01_conv_arithmetic] [--skip-per-notebook]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import EXAMPLES, bare_execute, synthetic_class  # noqa: E402

from autograder.backends import LocalBackend  # noqa: E402
from autograder.course import KERNEL_NAME, Course, Workspace  # noqa: E402
from autograder.engine import grade  # noqa: E402
from autograder.preflight import preflight  # noqa: E402
from autograder.release import ensure_registered  # noqa: E402
from autograder.sandbox import Policy  # noqa: E402
from autograder.settings import run_budget  # noqa: E402
from autograder.submissions import Submission, discover_layout  # noqa: E402


def timed_preflight(course: Course, assignments: list[str]) -> None:
    """Run the once-per-run machine check first and print its cost, so the timings below exclude it."""
    start = time.perf_counter()
    preflight(course, assignments, LocalBackend(2), Policy(), KERNEL_NAME)
    print(f"preflight (setup cells and data checks, once per grading run, 2 workers): "
          f"{time.perf_counter() - start:.1f} s for {len(assignments)} notebook(s)")


def per_notebook(course: Course, assignments: list[str]) -> None:
    timed_preflight(course, assignments)
    print("per-notebook autograde overhead (full solution; 1 worker, sandboxed) vs bare nbclient")
    print(f"  {'notebook':<26} {'nbclient s':>10} {'autograde s':>11} {'ratio':>6} {'budget s':>8}")
    for name in assignments:
        bare = bare_execute(course.source_notebook(name))
        with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
            ws = Workspace(Path(tmp))
            ensure_registered(course, ws, [name])
            sub = Submission("bench", name, EXAMPLES / "student-full" / name / f"{name}.ipynb")
            start = time.perf_counter()
            run = grade(course, ws, [sub], backend=LocalBackend(1), progress=False)
            ours = time.perf_counter() - start
            assert run.outcomes[0].score == run.outcomes[0].max_score, run.outcomes
        budget = run_budget(name)
        over = "  OVER BUDGET" if bare > budget else ""
        print(f"  {name:<26} {bare:>10.1f} {ours:>11.1f} {ours / bare:>6.2f} {budget:>8.0f}{over}")


def nbgrader_serial(course: Course, classroom: Path, assignment: str, tmp: Path) -> float:
    db = f"sqlite:///{tmp / 'nbgrader.db'}"
    ensure_registered(course, Workspace(tmp, db), [assignment])
    cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force",
           f"--CourseDirectory.submitted_directory={classroom}",
           f"--CourseDirectory.autograded_directory={tmp / 'nbgrader-autograded'}",
           f"--CourseDirectory.db_url={db}", "--log-level=ERROR"]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=course.root, check=True, capture_output=True)
    return time.perf_counter() - start


def ours(course: Course, classroom: Path, workers: int, tmp: Path) -> float:
    subs, _ = discover_layout(classroom, course)
    ws = Workspace(tmp / f"ours-{workers}")
    ensure_registered(course, ws, sorted({s.assignment for s in subs}))
    start = time.perf_counter()
    grade(course, ws, subs, backend=LocalBackend(workers), progress=False)
    return time.perf_counter() - start


def class_throughput(course: Course, assignment: str, n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp_name:
        tmp = Path(tmp_name)
        classroom = synthetic_class(tmp / "class", assignment, n)
        timed_preflight(course, [assignment])
        bare = sum(bare_execute(EXAMPLES / s / assignment / f"{assignment}.ipynb")
                   for s in ("student-full", "student-partial", "student-untouched")) / 3
        serial = nbgrader_serial(course, classroom, assignment, tmp)
        one = ours(course, classroom, 1, tmp)
        two = ours(course, classroom, 2, tmp)
    print(f"\n{n} submissions of {assignment} (cycling full / partial / untouched), sandboxed workers")
    print(f"  serial nbgrader autograde : {serial:7.1f} s  ({serial / n:5.1f} s per notebook)")
    print(f"  this grader, 1 worker     : {one:7.1f} s  ({one / n:5.1f} s per notebook)")
    print(f"  this grader, 2 workers    : {two:7.1f} s  ({two / n:5.1f} s per notebook)")
    print(f"  bare nbclient, per notebook (mean of the three students): {bare:5.1f} s")
    print(f"  speed-up, 2 workers vs serial nbgrader : {serial / two:5.2f}x")
    print(f"  speed-up, 2 workers vs 1 worker        : {one / two:5.2f}x")
    print(f"  overhead, 1 worker vs bare nbclient    : {one / n / bare:5.2f}x per notebook")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--assignment", default="01_conv_arithmetic")
    parser.add_argument("--skip-per-notebook", action="store_true")
    parser.add_argument("--notebooks", nargs="+", help="the notebooks of the per-notebook table (default: all)")
    parser.add_argument("--skip-class", action="store_true", help="only the per-notebook table")
    args = parser.parse_args()
    course = Course()
    if not args.skip_per_notebook:
        per_notebook(course, [course.require(a) for a in args.notebooks] if args.notebooks else course.assignments())
    if not args.skip_class:
        class_throughput(course, args.assignment, args.n)


if __name__ == "__main__":
    main()
