"""Issue 7: batch grading from the command line, parallel and Dask workers, PostgreSQL, reports."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import COURSE, EXAMPLES, GradedClass, trimmed_copy
from postgres import postgres_server, server_bindir

from autograder.backends import DaskBackend, LocalBackend
from autograder.course import Workspace
from autograder.engine import grade
from autograder.intake import collect, stage
from autograder.report import misconception_rows, write_report
from autograder.submissions import discover_layout

pytestmark = pytest.mark.grading
NB01 = "01_conv_arithmetic"
STUDENTS = ("student-full", "student-partial", "student-untouched")


def _example_subs(assignment: str = NB01):  # noqa: ANN202
    subs, rejected = discover_layout(EXAMPLES / "submissions", COURSE)
    assert not rejected
    return [s for s in subs if s.assignment == assignment and s.student in STUDENTS]


def _all_cell_scores(graded: GradedClass, assignment: str) -> dict:
    return {s: graded.cell_scores(s, assignment) for s in STUDENTS}


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=cwd or COURSE.root, timeout=900)


def test_serial_and_parallel_grading_give_identical_grades(example_class, tmp_path) -> None:
    serial = GradedClass(Workspace(tmp_path), grade(COURSE, Workspace(tmp_path), _example_subs(),
                                                   backend=LocalBackend(1), progress=False))
    assert _all_cell_scores(serial, NB01) == _all_cell_scores(example_class, NB01)


def test_a_dask_local_cluster_grades_the_demo_class(example_class, tmp_path) -> None:
    ws = Workspace(tmp_path)
    with DaskBackend(local_workers=2) as backend:
        assert backend.workers == 2
        run = grade(COURSE, ws, _example_subs(), backend=backend, progress=False)
    assert {o.status for o in run.outcomes} == {"ok"}
    assert _all_cell_scores(GradedClass(ws, run), NB01) == _all_cell_scores(example_class, NB01)


@pytest.mark.postgres
def test_a_real_postgresql_server_holds_the_gradebook(example_class, tmp_path) -> None:
    if server_bindir() is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs the Debian package 'postgresql')")
    subs = tmp_path / "class"
    for student in STUDENTS:
        name = f"{NB01}.ipynb"
        trimmed_copy(EXAMPLES / "submissions" / student / NB01 / name, subs / student / NB01 / name)
    with postgres_server() as url:
        result = _cli("--workspace", str(tmp_path / "ws"), "--db", url, "grade", str(subs), "--workers", "2",
                      "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not (tmp_path / "gradebook.db").exists(), "the SQLite default was used instead of PostgreSQL"
        graded = GradedClass(Workspace(tmp_path, url), None)
        assert _all_cell_scores(graded, NB01) == _all_cell_scores(example_class, NB01)
        exported = _cli("--workspace", str(tmp_path), "--db", url, "export")
        assert exported.returncode == 0, exported.stderr
        with open(tmp_path / "grades.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert {(r["student_id"], float(r["score"])) for r in rows} == {
            ("student-full", 12.0), ("student-partial", 5.0), ("student-untouched", 0.0)}


def _lms_zip(path: Path) -> Path:
    full = trimmed_copy(EXAMPLES / "submissions/student-full" / NB01 / f"{NB01}.ipynb",
                        path.parent / "lms-full.ipynb").read_bytes()
    partial = trimmed_copy(EXAMPLES / "submissions/student-partial" / NB01 / f"{NB01}.ipynb",
                           path.parent / "lms-partial.ipynb").read_bytes()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"ada.lovelace_{NB01}.ipynb", full)
        zf.writestr(f"alan_{NB01}.ipynb", partial)
        zf.writestr(f"grace/grace_{NB01}.ipynb", full)          # nested folders are fine
        zf.writestr(f"dup_{NB01}.ipynb", full)                  # duplicate student ...
        zf.writestr(f"extra/dup_{NB01}.ipynb", partial)         # ... both copies are rejected
        zf.writestr("nobody_99_unknown.ipynb", full)            # unknown assignment
        zf.writestr("README.txt", b"not a notebook")            # not a notebook
        zf.writestr("notes.ipynb", full)                        # name does not match
        zf.writestr(f"broken_{NB01}.ipynb", b"{ not json")      # corrupt notebook
        zf.writestr(f"../escape_{NB01}.ipynb", full)            # unsafe path
    return path


def test_an_lms_zip_with_good_and_bad_names_is_imported_correctly(tmp_path) -> None:
    subs, rejected = collect(_lms_zip(tmp_path / "export.zip"), COURSE)
    assert sorted((s.student, s.assignment) for s in subs) == [
        ("ada.lovelace", NB01), ("alan", NB01), ("grace", NB01)]
    reasons = {Path(str(r.path)).name: r.reason for r in rejected}
    assert "duplicate" in reasons[f"dup_{NB01}.ipynb"]
    assert sum("duplicate" in r.reason for r in rejected) == 2
    assert "unknown assignment" in reasons["nobody_99_unknown.ipynb"]
    assert "not a notebook" in reasons["README.txt"]
    assert "does not match" in reasons["notes.ipynb"]
    assert "corrupt notebook" in reasons[f"broken_{NB01}.ipynb"]
    assert "unsafe path" in reasons[f"escape_{NB01}.ipynb"]
    staged = stage(Workspace(tmp_path / "ws"), subs)
    assert all(s.path.is_file() and s.path.parent.parent.parent.name == "submitted" for s in staged)


def test_the_cli_grades_the_valid_ones_and_says_which_were_rejected(tmp_path) -> None:
    ws = tmp_path / "ws"
    result = _cli("--workspace", str(ws), "grade", str(_lms_zip(tmp_path / "export.zip")), "--no-progress")
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout
    rejected = [line for line in out.splitlines() if line.startswith("rejected: ")]
    assert len(rejected) == 7 and "7 input(s) rejected" in out
    assert "ada.lovelace" in out and "12/16" in out
    again = _cli("--workspace", str(ws), "grade", str(tmp_path / "export.zip"), "--no-progress")
    assert "3 already graded, skipped" in again.stdout
    (tmp_path / "one").mkdir()
    shutil.copy(tmp_path / "lms-full.ipynb", tmp_path / "one" / f"ada.lovelace_{NB01}.ipynb")
    forced = _cli("--workspace", str(ws), "grade", str(tmp_path / "one"), "--no-progress", "--force")
    assert "graded 1 in" in forced.stdout and forced.returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (["grade", "/no/such/folder"], "no such file or folder"),
    (["grade", str(EXAMPLES / "submissions"), "--assignment", "01_conv"], "unknown assignment"),
    (["release", "08_transformers"], "unknown assignment"),
])
def test_bad_input_is_one_clear_line_and_an_exit_code(tmp_path, args, message) -> None:  # noqa: ANN001
    result = _cli("--workspace", str(tmp_path), *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_feedback_shows_failures_but_never_hidden_test_source(example_class) -> None:
    from autograder.feedback import generate_feedback

    paths = generate_feedback(COURSE, example_class.workspace)
    assert len(paths) == len(example_class.run.all)
    for path in paths:
        html = path.read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "hidden_tests(" not in html
        assert "hidden tests ran here" in html
    partial = next(p for p in paths if "student-partial/" in str(p) and NB01 in str(p)).read_text()
    assert "flipped-kernel" in partial
    # the same code submitted in the Chinese release: the same tag, the page and the hint in Chinese
    chinese = next(p for p in paths if "student-partial-zh/" in str(p) and NB01 in str(p)).read_text()
    assert "flipped-kernel" in chinese and ">测试单元格<" in chinese and "互相关" in chinese
    assert "可见检查，在你的内核中运行" in chinese and "此处运行了隐藏测试" in chinese
    assert ">Test cell<" in partial and "测试单元格" not in partial


def test_the_report_counts_misconceptions_per_exercise(example_class) -> None:
    written = write_report(example_class.workspace)
    names = {p.name for p in written}
    assert {"score_distribution.png", "failure_rate.png", "misconceptions.png", "misconceptions.csv",
            "report.md"} <= names
    rows = misconception_rows(__import__("autograder.report", fromlist=["collect"]).collect(example_class.workspace))
    flipped = [r for r in rows if r["tag"] == "flipped-kernel"]
    # one report for both languages: the English and the Chinese submission of the same mistake
    assert flipped and flipped[0]["students"] == 2 and flipped[0]["who"] == "student-partial student-partial-zh"
    assert flipped[0]["kind"] == "misconception" and "cross-correlation" in flipped[0]["hint"]
    assert "flipped-kernel" in (example_class.workspace.reports / "report.md").read_text()


def test_markers_record_how_each_submission_went(example_class) -> None:
    marker = json.loads((example_class.workspace.autograded / "student-full" / NB01 / ".grading.json").read_text())
    assert marker["status"] == "ok" and len(marker["digest"]) == 64


def test_the_report_and_the_table_count_written_answers_left_for_a_grader(example_class) -> None:
    from autograder.report import collect
    from autograder.summary import format_table, read_scores

    data = collect(example_class.workspace)
    # 2 think questions (4 points) in notebook 01, for five students; 3 (6 points) in 08, for four
    assert (data.pending[NB01].answers, data.pending[NB01].points) == (10, 20.0)
    assert (data.pending["08_backward"].answers, data.pending["08_backward"].points) == (12, 24.0)
    assert not any(test.startswith("think_") for (_, test) in data.tests), "written answers have no failure rate"
    write_report(example_class.workspace)
    report = (example_class.workspace.reports / "report.md").read_text()
    assert "## Written answers to grade by hand" in report and f"| {NB01} | 10 | 20 |" in report
    # the backward mistakes of the partial student are counted like every other misconception
    rows = {(r["test"], r["tag"]): r["students"] for r in misconception_rows(data)}
    for test, tag in (("test_conv2d_backward", "kernel-not-flipped"), ("test_max_pool2d_backward", "ties-to-every-max"),
                      ("test_batch_norm2d_backward", "bn-mean-term-missing"),
                      ("test_cross_entropy_backward", "mean-over-batch-missing")):
        assert rows.get((test, tag)) == 1, (test, tag)
    table = format_table(read_scores(example_class.workspace))
    assert "*" in table and "written answers to grade by hand" in table and "student-full 21 (41 points)" in table
