"""Issue 18: Canvas and Moodle downloads in, late flags, a roster, and grades back into each LMS."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from helpers import COURSE, assignment_scores, run_cli
from lms_fixtures import DUE, NB01, ROSTER, ROSTER_IDS, canvas_export, moodle_export, settings_file

from autograder.course import CourseError, Workspace
from autograder.course_settings import load_settings
from autograder.intake import read_submissions, stage
from autograder.lms import IDENTITY_FILE, canvas, moodle
from autograder.lms.roster import Roster

EXPORTS = {"canvas": canvas_export, "moodle": moodle_export}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _roster(tmp_path: Path) -> Roster:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return Roster.read(path)


@pytest.mark.parametrize("as_zip", [True, False], ids=["zip", "folder"])
@pytest.mark.parametrize("lms", sorted(EXPORTS))
def test_an_export_is_read_with_the_right_students_and_exactly_the_expected_rejections(tmp_path, lms, as_zip) -> None:
    export = EXPORTS[lms](tmp_path, as_zip=as_zip)
    found = read_submissions(export.path, COURSE, lms=lms, settings=load_settings(settings_file(tmp_path)))
    assert {s.student: s.assignment for s in found.submissions} == dict.fromkeys(export.students, NB01)
    assert sorted(Path(str(r.path)).name for r in found.rejected) == sorted(export.rejected)
    for r in found.rejected:
        assert export.rejected[Path(str(r.path)).name] in r.reason, r
    for word in export.notes:
        assert any(word in note for note in found.notes), (word, found.notes)
    late = {s.student for s in found.submissions if datetime.fromisoformat(s.timestamp) > DUE}
    assert late == export.late
    for s in found.submissions:
        chosen = tmp_path / "trimmed" / f"student-{export.students[s.student]}.ipynb"
        assert s.path.read_bytes() == chosen.read_bytes(), f"{s.student}: the wrong file was chosen"


def test_a_canvas_resubmission_keeps_the_student_id_and_the_newest_file_wins(tmp_path) -> None:
    found = read_submissions(canvas_export(tmp_path, as_zip=True).path, COURSE, lms="canvas")
    ann = [s for s in found.submissions if s.student == "23456"]
    assert len(ann) == 1 and ann[0].identity.version == 7890124 and ann[0].identity.late
    assert any("23456" in n and "graded the newest" in n and f"{NB01}-1.ipynb" in n for n in found.notes)


def test_a_roster_maps_lms_ids_and_names_and_reports_who_is_missing(tmp_path) -> None:
    roster = _roster(tmp_path)
    for lms, export in EXPORTS.items():
        found = read_submissions(export(tmp_path / lms, as_zip=True).path, COURSE, lms=lms, roster=roster)
        expected = {ROSTER_IDS.get(k, k) for k in export(tmp_path / f"{lms}-again", as_zip=True).students}
        assert {s.student for s in found.submissions} == expected
        assert any("no submission: s007" in n for n in found.notes)
    moodle_found = read_submissions(moodle_export(tmp_path / "m2", as_zip=False).path, COURSE, lms="moodle",
                                    roster=roster)
    assert any("not on the roster: 104 (Li Lei)" in n for n in moodle_found.notes)


@pytest.mark.parametrize(("text", "message"), [
    ("id,name\ns1,A\n", "missing email, lms_id"),
    ("id,name,email,lms_id\ns1,A,,\ns1,B,,\n", "appears twice"),
    ("id,name,email,lms_id\nbad id,A,,\n", "may only use"),
])
def test_a_bad_roster_is_one_clear_line(tmp_path, text, message) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CourseError, match=message):
        Roster.read(path)


@pytest.mark.parametrize(("text", "message"), [
    ('[due]\n"01_conv_arithmetic" = "2027-03-01T23:59:00"\n', "needs a time zone"),
    ('[due]\n"01_conv" = "2027-03-01T23:59:00+00:00"\n', "unknown assignment"),
    ('[late]\npenalty = "half"\n', "must be one of"),
    ("[due\n", "not valid TOML"),
])
def test_bad_course_settings_are_one_clear_line(tmp_path, text, message) -> None:
    path = tmp_path / "course.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CourseError, match=message):
        load_settings(path, known=COURSE.assignments())


def test_the_shipped_course_settings_are_valid() -> None:
    load_settings(COURSE.root / "course.toml", known=COURSE.assignments())


def test_staging_keeps_the_timestamp_and_who_the_lms_named(tmp_path) -> None:
    found = read_submissions(canvas_export(tmp_path, as_zip=True).path, COURSE, lms="canvas",
                             settings=load_settings(settings_file(tmp_path)))
    staged = stage(Workspace(tmp_path / "ws"), found.submissions)
    for s in staged:
        assert (s.path.parent / "timestamp.txt").read_text().strip() == s.timestamp
        assert json.loads((s.path.parent / IDENTITY_FILE).read_text(encoding="utf-8"))["user_id"] == s.student


def test_the_import_files_have_each_lms_layout(tmp_path) -> None:
    canvas.write_import(str(tmp_path / "c.csv"), [NB01], {NB01: 10.0},
                        [canvas.GradeRow("12345", "Doe, John", {NB01: 7.5})], {NB01: 4242})
    rows = list(csv.reader(_lines(tmp_path / "c.csv")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{NB01} (4242)"]
    assert rows[1][0] == "    Points Possible" and rows[1][5] == "10"
    assert rows[2] == ["Doe, John", "12345", "", "", "", "7.5"]
    moodle.write_worksheet(str(tmp_path / "m.csv"), 10.0, [moodle.WorksheetRow("101", "Jane Doe", "j@x", 9)])
    sheet = list(csv.DictReader(_lines(tmp_path / "m.csv")))
    assert sheet[0]["Identifier"] == "Participant 101" and sheet[0]["Grade"] == "9"
    assert sheet[0]["Last modified (grade)"]


@pytest.mark.grading
def test_canvas_round_trip_grades_penalises_late_work_and_writes_the_import(tmp_path) -> None:
    export = canvas_export(tmp_path, as_zip=True)
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    env = {"COURSE_SETTINGS": str(settings_file(tmp_path, penalty="zero"))}
    ws = tmp_path / "ws"
    graded = run_cli("--workspace", str(ws), "grade", str(export.path), "--lms", "canvas", "--roster",
                  str(tmp_path / "roster.csv"), "--no-progress", env=env)
    assert graded.returncode == 2, graded.stdout + graded.stderr  # 2: some files were rejected
    assert "note: s005/01_conv_arithmetic: marked late by the LMS" in graded.stdout
    scores = assignment_scores(Workspace(ws), NB01)
    assert scores == {"s004": 12.0, "s005": 0.0, "s006": 12.0}, "late work must score 0 under penalty 'zero'"
    out = run_cli("--workspace", str(ws), "export", str(tmp_path / "canvas.csv"), "--to-lms", "canvas", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "written answers" in out.stdout and "exported as 0" in out.stdout  # the think questions wait
    rows = list(csv.reader(_lines(tmp_path / "canvas.csv")))
    assert rows[0][5] == f"{NB01} (4242)"
    back = {r[1]: float(r[5]) for r in rows[2:]}
    assert back == {"12345": scores["s004"], "23456": scores["s005"], "34567": scores["s006"]}
    assert {r[0] for r in rows[2:]} == {"Doe, John", "Smith, Ann", "García, María"}
    exported = run_cli("--workspace", str(ws), "export", env=env)
    assert exported.returncode == 0
    people = {r["student_id"]: r for r in csv.DictReader(_lines(ws / "grades.csv"))}
    assert people["s004"]["email"] == "john@example.edu" and people["s005"]["timestamp"] > people["s005"]["duedate"]


@pytest.mark.grading
def test_moodle_round_trip_writes_a_worksheet_per_assignment_that_matches_the_gradebook(tmp_path) -> None:
    export = moodle_export(tmp_path, as_zip=False)
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    env = {"COURSE_SETTINGS": str(settings_file(tmp_path, penalty="none"))}
    ws = tmp_path / "ws"
    graded = run_cli("--workspace", str(ws), "grade", str(export.path), "--lms", "moodle", "--roster",
                  str(tmp_path / "roster.csv"), "--no-progress", env=env)
    assert graded.returncode == 2, graded.stdout + graded.stderr
    scores = assignment_scores(Workspace(ws), NB01)
    assert scores == {"s001": 12.0, "s002": 5.0, "s003": 0.0, "104": 12.0}
    out = run_cli("--workspace", str(ws), "export", str(tmp_path / "moodle.csv"), "--to-lms", "moodle", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    sheet = list(csv.DictReader(_lines(tmp_path / "moodle.csv")))
    back = {r["Identifier"]: float(r["Grade"]) for r in sheet}
    assert back == {"Participant 101": 12.0, "Participant 102": 5.0, "Participant 103": 0.0, "Participant 104": 12.0}
    names = {r["Identifier"]: (r["Full name"], r["Email address"]) for r in sheet}
    assert names["Participant 103"] == ("王小明", "wang@example.edu")
    assert {r["Maximum Grade"] for r in sheet} == {"16"}


@pytest.mark.parametrize(("args", "message"), [
    (["grade", "examples/submissions", "--lms", "canvas", "--roster", "/no/such/roster.csv"], "no such roster file"),
    (["export", "--to-lms", "moodle"], "no graded submission yet"),
])
def test_lms_mistakes_are_one_clear_line_and_an_exit_code(tmp_path, args, message) -> None:  # noqa: ANN001
    result = run_cli("--workspace", str(tmp_path), *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
