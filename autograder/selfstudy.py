"""Self-study grading: grade your own ``course/`` notebooks with the hidden tests.

It uses a scratch workspace (``build/grade-me``) with its own gradebook, so an instructor's
gradebook is never touched. Notebooks you did not change since the last run are not graded
again.
"""

from __future__ import annotations

import html
import webbrowser
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.course import COURSE_ID, REPO_ROOT, Course, CourseError, Workspace
from autograder.handgraded import model_answers, written
from autograder.submissions import Submission, check_notebook_file
from cnnlab.diagnosis import tags_in
from cnnlab.i18n import notebook_language, translate

STUDENT = "me"
HAND_GRADED = "graded by hand"
ANSWERED, NOT_ANSWERED = "graded by hand: answered, model answer below", "graded by hand: not answered yet"
WORKSPACE = REPO_ROOT / "build" / "grade-me"


def my_submissions(course: Course, assignments: list[str] | None = None,
                   folder: Path | None = None) -> list[Submission]:
    """Your working copies (``course/`` or ``folder``) as submissions; a broken file raises ``CourseError``."""
    if not course.source_dir.is_dir():
        raise CourseError("grade-me needs solutions/ (where the hidden tests live); use the full repository")
    subs = []
    for name in assignments or course.assignments():
        name = course.require(name)
        path = (folder / name / f"{name}.ipynb") if folder else course.release_notebook(name)
        if not path.is_file():
            raise CourseError(f"{path} is missing" + ("" if folder else
                              f": restore it with `git checkout -- {path.relative_to(course.root)}`"))
        problem = check_notebook_file(path)
        if problem:
            raise CourseError(f"{path}: {problem}")
        subs.append(Submission(STUDENT, name, path))
    return subs


def submissions_language(subs: list[Submission]) -> str:
    """``"zh"`` when every notebook is from the Chinese release, else ``"en"``."""
    langs = set()
    for sub in subs:
        try:
            langs.add(notebook_language(nbformat.read(sub.path, as_version=4).metadata))
        except Exception:  # noqa: BLE001 - an unreadable notebook is reported by grading itself
            langs.add("en")
    return "zh" if langs == {"zh"} else "en"


def exercise_rows(workspace: Workspace, assignment: str) -> list[tuple[str, float, float, str]]:
    """``(test, score, max, note)`` for each graded cell of one notebook; note is the diagnosis or ''.

    A written answer's note says that it waits for a grader (``HAND_GRADED`` starts it).
    """
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        sub = gb.find_submission_notebook(assignment, assignment, STUDENT)
        scores = {g.name: (float(g.score), float(g.max_score)) for g in sub.grades}
        by_hand = {g.name for g in sub.grades if g.cell.cell_type == "markdown"}
    notes: dict[str, str] = {}
    path = workspace.autograded_notebook(STUDENT, assignment)
    if path.is_file():
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in by_hand:
                notes[grade_id] = ANSWERED if written(cell.source) else NOT_ANSWERED
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if grade_id in scores and errors:
                text = str(errors[0].get("evalue", ""))
                tag = (tags_in(text) or [""])[0]
                first = text.splitlines()[0] if text else errors[0].get("ename", "")
                notes[grade_id] = first if tag else f"{errors[0].get('ename', 'error')}: {first}"
    return [(name, s, m, notes.get(name, "")) for name, (s, m) in scores.items()]


def format_rows(assignment: str, rows: list[tuple[str, float, float, str]]) -> str:
    auto = [r for r in rows if not r[3].startswith(HAND_GRADED)]
    total, most = sum(r[1] for r in auto), sum(r[2] for r in auto)
    hand = sum(r[2] for r in rows) - most
    written_points = translate(f" (+{hand:g} points of written answers)") if hand else ""
    lines = [f"{assignment}: {total:g}/{most:g}{written_points}"]
    for name, score, max_score, note in rows:
        mark = "✎" if note.startswith(HAND_GRADED) else "✓" if score == max_score else "✗"
        shown = f"-/{max_score:g}" if mark == "✎" else f"{score:g}/{max_score:g}"
        line = f"  {mark} {name.removeprefix('test_'):<28} {shown}"
        lines.append(line + (f"  {translate(note)}" if note else ""))
    return "\n".join(lines)


def model_answers_for(course: Course, workspace: Workspace, assignment: str) -> str:
    """The model answer and rubric of each think question the student has answered ('' if none).

    Shown only after an answer of one's own is written, never for a blank.
    """
    path = workspace.autograded_notebook(STUDENT, assignment)
    if not path.is_file():
        return ""
    models = model_answers(course, assignment, notebook_language(nbformat.read(path, as_version=4).metadata))
    blocks = []
    for cell in nbformat.read(path, as_version=4).cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in models and cell.cell_type == "markdown" and written(cell.source):
            model = "\n".join("    " + line for line in models[grade_id].strip().splitlines())
            blocks.append(translate(f"  ✎ {grade_id}: compare with your answer") + f"\n{model}")
    return "\n".join(blocks)


def write_index(workspace: Workspace, assignments: list[str]) -> Path:
    """A small page linking every feedback file, to open in a browser."""
    links = []
    for name in assignments:
        page = workspace.feedback / STUDENT / name / f"{name}.html"
        if page.is_file():
            links.append(f'<li><a href="{html.escape(page.relative_to(workspace.path).as_posix())}">{name}</a></li>')
    index = workspace.path / "index.html"
    index.write_text(translate("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                               "<title>Your feedback</title></head><body><h1>Your feedback</h1>"
                               "<p>Graded with the hidden tests, in a scratch gradebook.</p>"
                               f"<ul>{''.join(links)}</ul></body></html>") + "\n")
    return index


def open_page(path: Path) -> bool:
    """Open ``path`` in the default browser if there is one; return whether it was opened."""
    try:
        return webbrowser.open(path.as_uri())
    except webbrowser.Error:
        return False
