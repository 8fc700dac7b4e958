"""Command line: ``python -m autograder <command>`` (also installed as ``cnn-grade``).

Errors that the user must fix print one line and exit with a non-zero code; nothing
already graded is removed by a failing command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder.course import DEFAULT_WORKSPACE, REPO_ROOT, Course, CourseError, Workspace
from autograder.lms import LMS_CHOICES
from autograder.sandbox import GIB, Policy, SandboxUnavailable, detect

EXIT_OK, EXIT_ERROR, EXIT_REJECTED, EXIT_FAILED, EXIT_NOT_GRADED = 0, 1, 2, 3, 4


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(Path(args.workspace or DEFAULT_WORKSPACE).resolve(), getattr(args, "db", None))


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import release
    from autograder.translation.build import ZH_RELEASE_DIR, release_chinese

    course = Course()
    paths = release(course, _workspace(args), args.assignments or None)
    for p in paths:
        print(f"released {p.relative_to(course.root)}")
    release_chinese(course, [course.require(a) for a in args.assignments] or None)  # refuses a missing translation
    print(f"released {ZH_RELEASE_DIR}/ (the Chinese course: the same grade cells, ids and points)")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from autograder.validate import validate_course

    course = Course()
    names = [course.require(a) for a in args.assignments] or None
    results = validate_course(course, names, workers=args.workers)
    failed = [v for v in results if not v.ok]
    for v in results:
        mark = "ok  " if v.ok else "FAIL"
        print(f"{mark} {v.notebook.relative_to(course.root)}: {v.label}")
    for v in failed:
        print(f"\n--- {v.notebook.relative_to(course.root)} ---\n{v.problem()}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.course_settings import load_settings, settings_path
    from autograder.intake import read_submissions, stage
    from autograder.lms.roster import Roster, record_roster

    course = Course()
    settings = load_settings(settings_path(course.root), known=course.assignments())
    roster = Roster.read(Path(args.roster)) if args.roster else None
    ws = _workspace(args).create()
    found = read_submissions(Path(args.submissions), course, lms=args.lms, pattern=args.pattern,
                             roster=roster, settings=settings)
    for r in found.rejected:
        print(f"rejected: {r}")
    for note in found.notes:
        print(f"note: {note}")
    subs = found.submissions
    if args.assignment:
        wanted = {course.require(a) for a in args.assignment}
        subs = [s for s in subs if s.assignment in wanted]
    if roster is not None:
        record_roster(ws, roster)
    return _grade_and_report(course, ws, stage(ws, subs), found.rejected, args)


def _grade_and_report(course: Course, ws: Workspace, subs: list, rejected: list,
                      args: argparse.Namespace) -> int:
    from autograder.engine import NOT_GRADED, grade
    from autograder.limits import Limits
    from autograder.summary import format_table, read_scores

    limits = Limits(cell_timeout_s=args.cell_timeout, notebook_timeout_s=args.notebook_timeout)
    policy = Policy(sandbox=not args.no_sandbox, require_sandbox=args.require_sandbox,
                    memory_bytes=int(args.memory_gb * GIB), max_processes=args.max_processes)
    caps = detect()
    if policy.require_sandbox and not caps.bwrap:
        raise SandboxUnavailable("--require-sandbox: bubblewrap is not available here "
                                 "(install the Debian package 'bubblewrap'); nothing was graded")
    isolation = caps.describe(policy)
    print(f"isolation: {isolation}")
    if not (policy.sandbox and caps.bwrap):
        print("WARNING: grading WITHOUT a sandbox: student code can read solutions/ and write the gradebook. "
              "Install bubblewrap, or pass --require-sandbox to refuse.", file=sys.stderr)
    backend = _backend(args)
    where = f"Dask ({backend.workers} workers)" if hasattr(backend, "client") else f"{backend.workers} worker(s)"
    print(f"grading {len(subs)} submission(s) on {where} into {ws.path}")
    try:
        run = grade(course, ws, subs, backend=backend, force=args.force, limits=limits, policy=policy,
                    progress=not args.no_progress, gpu_assignments=args.gpu_assignment or ())
    finally:
        if hasattr(backend, "close"):
            backend.close()
    if run.skipped:
        print(f"{len(run.skipped)} already graded, skipped (use --force to grade again)")
    print(format_table(read_scores(ws, sorted({s.student for s in subs}) or None), run.all))
    print(f"graded {len(run.outcomes)} in {run.seconds:.1f} s")
    not_graded = [o for o in run.outcomes if o.status == NOT_GRADED]
    if not_graded:
        print(f"{len(not_graded)} submission(s) NOT GRADED because of this machine (see the '!' lines): nothing "
              "was recorded for them; fix the machine and run the same command again", file=sys.stderr)
        return EXIT_NOT_GRADED
    invalid = [o for o in run.outcomes if o.status == "invalid"]
    if invalid:
        print(f"{len(invalid)} submission(s) could not be graded as notebooks: see the '!' lines above")
    if rejected or invalid:
        if rejected:
            print(f"{len(rejected)} input(s) rejected: see the lines above")
        return EXIT_REJECTED
    return EXIT_FAILED if any(o.status not in ("ok",) for o in run.outcomes) and args.strict else EXIT_OK


def _backend(args: argparse.Namespace):  # noqa: ANN202
    from autograder.backends import DaskBackend, LocalBackend

    if args.dask or args.dask_local:
        return DaskBackend(address=args.dask, local_workers=args.dask_local)
    return LocalBackend(args.workers)


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.report import write_report

    ws = _workspace(args)
    for path in write_report(ws):
        print(f"wrote {path}")
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.feedback import generate_feedback

    ws = _workspace(args)
    problems: list[str] = []
    paths = generate_feedback(Course(), ws, problems)
    print(f"wrote {len(paths)} feedback file(s) under {ws.feedback}")
    for line in problems:
        print(f"feedback failed: {line}", file=sys.stderr)
    return EXIT_REJECTED if problems else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.export import export_csv

    target = args.file or args.to
    if args.to_lms:
        code = _export_to_lms(args.to_lms, Path(target) if target else None, _workspace(args))
    else:
        print(f"wrote {export_csv(_workspace(args), Path(target) if target else None)}")
        code = EXIT_OK
    _note_ungraded_answers(_workspace(args))
    return code


def _note_ungraded_answers(ws: Workspace) -> None:
    """Say when written answers still wait for a grader: they are exported as 0."""
    from autograder.handgraded import Pending
    from autograder.summary import read_scores

    table = read_scores(ws)
    waiting = sum((table.waiting(student) for student in table.scores), Pending())
    if waiting.answers:
        print(f"note: {waiting.describe()} (formgrader); until then they are exported as 0")


def _export_to_lms(lms: str, target: Path | None, ws: Workspace) -> int:
    from autograder.course_settings import load_settings, settings_path
    from autograder.lms.grades_back import write_canvas, write_moodle

    course = Course()
    target = target or ws.path / f"{lms}-grades.csv"
    if lms == "canvas":
        written, skipped = write_canvas(ws, target, load_settings(settings_path(course.root), course.assignments()))
    else:
        written, skipped = write_moodle(ws, target)
    for line in skipped:
        print(f"note: {line}")
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_table(args: argparse.Namespace) -> int:
    from autograder.summary import format_table, read_scores

    print(format_table(read_scores(_workspace(args))))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.export import export_csv
    from autograder.feedback import generate_feedback
    from autograder.release import release
    from autograder.submissions import discover_layout
    from autograder.translation.build import release_chinese

    course = Course()
    ws = Workspace(Path(args.workspace).resolve()).create()
    examples = REPO_ROOT / "examples" / "submissions"
    print("[1/4] release: course/ and course-zh/ from solutions/ and the Chinese catalogs")
    release(course, ws)
    release_chinese(course)
    subs, rejected = discover_layout(examples, course)
    students = sorted({s.student for s in subs})
    print(f"[2/4] grade: {len(subs)} notebooks of {len(students)} example students ({', '.join(students)})")
    code = _grade_and_report(course, ws, subs, rejected, args)
    problem = _demo_self_check(ws, sorted({s.assignment for s in subs}))
    if problem:
        print(f"\nmake demo FAILED its self-check: {problem}.\nThe grader is not working on this machine: "
              "do not grade a class with it until this is fixed.", file=sys.stderr)
        return EXIT_FAILED
    print("[3/4] feedback")
    feedback = generate_feedback(course, ws)
    print("[4/4] export")
    csv = export_csv(ws)
    print(f"\nfeedback: {len(feedback)} HTML files under {_rel(ws.feedback)}")
    print(f"grades:   {_rel(csv)}")
    print(f"gradebook: {ws.gradebook_url}")
    return code


DEMO_EXPECTED = {"student-full": 1.0, "student-full-zh": 1.0, "student-untouched": 0.0}


def _demo_self_check(ws: Workspace, assignments: list[str]) -> str | None:
    """Why the demo's own result is wrong.

    The full example student must score 100% of the autograded points, the untouched 0%; written
    answers wait for a grader, so they count for neither.
    """
    from autograder.examples import ZH_TWIN
    from autograder.summary import read_scores

    table = read_scores(ws, sorted(DEMO_EXPECTED))
    for student, fraction in DEMO_EXPECTED.items():
        row = table.scores.get(student, {})
        for assignment in assignments:
            score, most = row.get(assignment, (None, None))
            auto = None if most is None else most - table.waiting(student, assignment).points
            if score is None or not auto or abs(score - fraction * auto) > 1e-6:
                got = "not graded" if score is None else f"{score:g}/{auto:g} autograded points"
                return f"{student} should score {fraction:.0%} of the autograded points on {assignment}, got {got}"
    twins = read_scores(ws, sorted(ZH_TWIN) + sorted(ZH_TWIN.values()))
    for chinese, english in ZH_TWIN.items():
        for assignment in assignments:
            zh, en = twins.scores.get(chinese, {}).get(assignment), twins.scores.get(english, {}).get(assignment)
            if zh is not None and zh != en:
                return (f"{chinese} (Chinese release) scored {zh[0]:g} on {assignment}, its English twin {english} "
                        f"{'nothing' if en is None else f'{en[0]:g}'}: the same code must score the same")
    return None


def cmd_grade_me(args: argparse.Namespace) -> int:
    from autograder.backends import LocalBackend
    from autograder.engine import grade
    from autograder.feedback import generate_feedback
    from autograder.intake import stage
    from autograder.selfstudy import (
        WORKSPACE,
        exercise_rows,
        format_rows,
        model_answers_for,
        my_submissions,
        open_page,
        submissions_language,
        write_index,
    )
    from cnnlab.i18n import translate, use_language

    course = Course()
    ws = Workspace(Path(args.workspace or WORKSPACE).resolve()).create()
    if ws.path.resolve() == DEFAULT_WORKSPACE.resolve():
        raise CourseError("grade-me never uses the instructor's workspace (grading/); pick another --workspace")
    folder = Path(args.folder).resolve() if args.folder else None
    subs = stage(ws, my_submissions(course, args.assignments or None, folder))
    use_language(submissions_language(subs))  # the summary speaks the language the notebooks are in
    where = _rel(folder) if folder else "course/"
    print(translate(f"grading your {len(subs)} notebook(s) in {where} with the hidden tests "
                    f"(scratch gradebook: {_rel(ws.path)})"))
    run = grade(course, ws, subs, backend=LocalBackend(args.workers), progress=not args.no_progress)
    generate_feedback(course, ws)
    total = most = 0.0
    for outcome in run.all:
        rows = exercise_rows(ws, outcome.assignment)
        print(format_rows(outcome.assignment, rows))
        models = model_answers_for(course, ws, outcome.assignment)
        if models:
            print(models)
        total += outcome.score
        most += outcome.max_score - outcome.pending.points
    print(translate(f"total: {total:g}/{most:g} autograded points (written answers are graded by an instructor)"))
    index = write_index(ws, [s.assignment for s in subs])
    if args.no_open or not open_page(index):
        print(translate(f"feedback: {_rel(index)}"))
    return EXIT_OK


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _add_grading_options(p: argparse.ArgumentParser) -> None:
    from autograder import settings

    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: number of cores)")
    p.add_argument("--dask", metavar="ADDRESS", default=None, help="run jobs on this Dask scheduler")
    p.add_argument("--dask-local", metavar="N", type=int, default=None,
                   help="run jobs on a local Dask cluster of N worker processes")
    p.add_argument("--gpu-assignment", action="append", metavar="ASSIGNMENT",
                   help="jobs of this assignment need a worker with the GPU resource (Dask)")
    p.add_argument("--force", action="store_true", help="grade again even if already graded")
    p.add_argument("--cell-timeout", type=int, default=settings.CELL_TIMEOUT_S, help="seconds per cell")
    p.add_argument("--notebook-timeout", type=int, default=settings.NOTEBOOK_TIMEOUT_S,
                   help="seconds per notebook")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-sandbox", action="store_true", help="run kernels without bubblewrap (limits only)")
    p.add_argument("--require-sandbox", action="store_true",
                   help="refuse to grade if bubblewrap is unavailable")
    p.add_argument("--memory-gb", type=float, default=8.0, help="address-space limit per kernel (0: none)")
    p.add_argument("--max-processes", type=int, default=256, help="processes+threads per kernel (0: none)")
    p.add_argument("--strict", action="store_true", help="exit 3 if any notebook failed to run")


def _common(default: str | None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=default,
                        help="folder for the gradebook and graded files (default: grading/)")
    common.add_argument("--db", default=argparse.SUPPRESS if default == argparse.SUPPRESS else None,
                        help="gradebook URL, e.g. postgresql://user@host/db (default: sqlite in the workspace)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0],
                                     parents=[_common(None)])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    original_add = sub.add_parser

    def add_parser(name: str, **kwargs):  # noqa: ANN202, ANN003
        return original_add(name, parents=[_common(argparse.SUPPRESS)], **kwargs)

    sub.add_parser = add_parser  # every command also accepts --workspace/--db after its name

    p = sub.add_parser("release", help="regenerate course/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("validate", help="sources pass every test, releases pass none")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("grade", help="grade submissions: an nbgrader-layout folder, or an LMS folder/zip")
    p.add_argument("submissions", help="folder <student>/<assignment>/<assignment>.ipynb, or a folder/.zip "
                   "of <student>_<assignment>.ipynb files")
    p.add_argument("--pattern", default=None,
                   help="regex for LMS file names, with groups student and assignment (default: "
                   "<student>_<NN_assignment>.ipynb)")
    p.add_argument("--lms", choices=LMS_CHOICES, default="generic",
                   help="whose download this is: canvas, moodle, or generic (<student>_<assignment>.ipynb)")
    p.add_argument("--roster", default=None, metavar="CSV",
                   help="roster.csv with columns id,name,email,lms_id: maps LMS ids to student ids")
    p.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    _add_grading_options(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("feedback", help="feedback HTML for every graded submission")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", help="grades.csv from the gradebook, or a grade file for an LMS import")
    p.add_argument("file", nargs="?", default=None,
                   help="output path (default: <workspace>/grades.csv, or <workspace>/<lms>-grades.csv)")
    p.add_argument("--to", default=None, help="output path (the same as FILE)")
    p.add_argument("--to-lms", choices=("canvas", "moodle"), default=None,
                   help="write Canvas's gradebook-import CSV, or Moodle's grading worksheet(s)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="plots and the misconception report under <workspace>/reports")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("table", help="print the score table")
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("grade-me", help="self-study: grade your course/ notebooks with the hidden tests")
    p.add_argument("assignments", nargs="*", help="only these notebooks (default: all)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-open", action="store_true", help="do not open the feedback page in a browser")
    p.add_argument("--from", dest="folder", default=None,
                   help="grade the notebooks in this folder (<folder>/NN_x/NN_x.ipynb) instead of course/")
    p.set_defaults(func=cmd_grade_me)

    p = sub.add_parser("demo", help="release, grade examples/submissions, feedback, grades.csv")
    _add_grading_options(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo" and args.workspace is None:
        args.workspace = str(REPO_ROOT / "build" / "demo")
    try:
        return args.func(args)
    except (CourseError, FileNotFoundError, KeyError, SandboxUnavailable) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: graded submissions are saved; run the same command to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
