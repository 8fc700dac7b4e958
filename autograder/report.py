"""Class reports: score distributions, failure rate per test, and the misconception report.

The misconception report counts, per exercise, how many students' failing tests carried
each diagnosis tag (``[ceil-vs-floor]``...): it tells an instructor what to re-teach.
Everything is read back from the gradebook and the autograded notebooks.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import COURSE_ID, Workspace
from autograder.handgraded import Pending, pending
from autograder.steps import MARKER
from cnnlab.diagnosis import tags_in
from cnnlab.tags import STATE

# Tags that describe the state of the work rather than a misconception.
STATE_TAGS = set(STATE)


@dataclass
class ClassData:
    """Per-test results of a graded class."""

    assignments: list[str]
    # (assignment, student) -> score fraction
    totals: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    # (assignment, test) -> {student: (score, max)}
    tests: dict[tuple[str, str], dict[str, tuple[float, float]]] = field(default_factory=lambda: defaultdict(dict))
    # (assignment, test, tag) -> set of students
    tags: dict[tuple[str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    # tag -> first hint text seen
    hints: dict[str, str] = field(default_factory=dict)
    # (assignment, student) -> (status, reason) when not ok
    problems: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # assignment -> written answers that no one has graded by hand yet (all students together)
    pending: dict[str, Pending] = field(default_factory=lambda: defaultdict(Pending))


def collect(workspace: Workspace) -> ClassData:
    """Read scores from the gradebook and diagnosis tags from the autograded notebooks."""
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        data = ClassData(assignments)
        for assignment in assignments:
            for student in sorted(s.id for s in gb.students):
                try:
                    sub = gb.find_submission(assignment, student)
                except MissingEntry:
                    continue
                data.totals[(assignment, student)] = (float(sub.score), float(sub.max_score))
                data.pending[assignment] += pending(sub)
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell.cell_type == "markdown":  # a written answer: no failure rate
                            continue
                        data.tests[(assignment, grade.name)][student] = (float(grade.score), float(grade.max_score))
    for (assignment, student) in data.totals:
        folder = workspace.autograded / student / assignment
        _read_marker(folder, assignment, student, data)
        path = folder / f"{assignment}.ipynb"
        if path.is_file():
            _read_tags(nbformat.read(path, as_version=4), assignment, student, data)
    return data


def _read_marker(folder: Path, assignment: str, student: str, data: ClassData) -> None:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return
    if marker.get("status") != "ok":
        data.problems[(assignment, student)] = (marker.get("status", "?"), marker.get("reason", ""))


def _read_tags(nb: nbformat.NotebookNode, assignment: str, student: str, data: ClassData) -> None:
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            text = str(out.get("evalue", ""))
            for tag in tags_in(text):
                data.tags[(assignment, meta["grade_id"], tag)].add(student)
                hint = _hint_after(text, tag)  # one report for both languages: prefer the English hint
                if tag not in data.hints or (CHINESE.search(data.hints[tag]) and not CHINESE.search(hint)):
                    data.hints[tag] = hint


CHINESE = re.compile(r"[\u3400-\u9fff]")


def _hint_after(text: str, tag: str) -> str:
    first = text.split(f"[{tag}]", 1)[1].strip().splitlines()[0] if f"[{tag}]" in text else ""
    return first.split(": ", 1)[1] if ": " in first else first


def misconception_rows(data: ClassData) -> list[dict]:
    """One row per (assignment, test, tag), most students first."""
    rows = []
    for (assignment, test, tag), students in data.tags.items():
        rows.append({"assignment": assignment, "test": test, "tag": tag, "students": len(students),
                     "kind": "state" if tag in STATE_TAGS else "misconception",
                     "hint": data.hints.get(tag, ""), "who": " ".join(sorted(students))})
    return sorted(rows, key=lambda r: (r["kind"] != "misconception", -r["students"], r["assignment"], r["test"]))


def write_report(workspace: Workspace) -> list[Path]:
    """Write PNG plots, misconceptions.csv and report.md under ``<workspace>/reports``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = collect(workspace)
    out = workspace.reports
    out.mkdir(parents=True, exist_ok=True)
    written = [_plot_scores(data, out, plt), _plot_failure_rates(data, out, plt), _plot_misconceptions(data, out, plt)]
    rows = misconception_rows(data)
    csv_path = out / "misconceptions.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["assignment", "test", "tag", "kind", "students", "hint", "who"])
        writer.writeheader()
        writer.writerows(rows)
    written.append(csv_path)
    written.append(_write_markdown(data, rows, out))
    plt.close("all")
    return written


def _plot_scores(data: ClassData, out: Path, plt) -> Path:  # noqa: ANN001
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(data.assignments)), 4))
    series = [[100 * s / m for (a, _), (s, m) in data.totals.items() if a == name and m] for name in data.assignments]
    if any(series):
        ax.boxplot([s or [0] for s in series], showmeans=True)
        for i, values in enumerate(series, start=1):
            ax.scatter([i] * len(values), values, alpha=0.5, s=14, color="tab:blue")
    ax.set_xticks(range(1, len(data.assignments) + 1), [a.split("_", 1)[0] for a in data.assignments])
    ax.set_ylim(-5, 105)
    ax.set_title("Score distribution per notebook")
    ax.set_xlabel("notebook")
    ax.set_ylabel("score (% of points)")
    fig.tight_layout()
    path = out / "score_distribution.png"
    fig.savefig(path, dpi=110)
    return path


def _plot_failure_rates(data: ClassData, out: Path, plt) -> Path:  # noqa: ANN001
    items = sorted(data.tests.items())
    labels = [f"{a.split('_', 1)[0]} {t}" for (a, t), _ in items]
    rates = [100 * sum(1 for s, m in v.values() if s < m) / len(v) if v else 0 for _, v in items]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * len(items) + 1)))
    ax.barh(labels, rates, color="tab:red")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    fig.suptitle("Failure rate per test")  # on the figure, not the axes: long labels narrow the axes
    ax.set_xlabel("students below full points (%)")
    ax.set_ylabel("test cell")
    fig.tight_layout()
    path = out / "failure_rate.png"
    fig.savefig(path, dpi=110)
    return path


def _plot_misconceptions(data: ClassData, out: Path, plt) -> Path:  # noqa: ANN001
    rows = [r for r in misconception_rows(data) if r["kind"] == "misconception"][:25]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.32 * len(rows) + 1)))
    if rows:
        ax.barh([f"{r['test'].removeprefix('test_')} [{r['tag']}]" for r in rows], [r["students"] for r in rows],
                color="tab:purple")
        ax.invert_yaxis()
    else:
        ax.text(0.5, 0.5, "no diagnosed misconceptions", ha="center", va="center", transform=ax.transAxes)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle("Misconceptions diagnosed by the hidden tests")
    ax.set_xlabel("students")
    ax.set_ylabel("exercise [tag]")
    fig.tight_layout()
    path = out / "misconceptions.png"
    fig.savefig(path, dpi=110)
    return path


def _write_markdown(data: ClassData, rows: list[dict], out: Path) -> Path:
    students = sorted({s for _, s in data.totals})
    lines = ["# Class report", "", f"{len(students)} students, {len(data.assignments)} notebooks.", "",
             "## What to re-teach", "", "| exercise | misconception | students | hint |", "|---|---|---|---|"]
    for r in [r for r in rows if r["kind"] == "misconception"][:15]:
        lines.append(f"| {r['assignment']} · {r['test'].removeprefix('test_')} | `{r['tag']}` | {r['students']} "
                     f"| {r['hint']} |")
    lines += ["", "![misconceptions](misconceptions.png)", "", "## Scores", "", "![scores](score_distribution.png)",
              "", "![failure rate](failure_rate.png)", ""]
    waiting = {a: p for a, p in sorted(data.pending.items()) if p.answers}
    if waiting:
        lines += ["## Written answers to grade by hand", "",
                  "Think questions are graded in the formgrader (JupyterLab: Nbgrader > Formgrader); until then "
                  "they count 0 in the scores above.", "", "| notebook | answers waiting | points |", "|---|---|---|"]
        lines += [f"| {a} | {p.answers} | {p.points:g} |" for a, p in waiting.items()]
        lines += [""]
    if data.problems:
        lines += ["## Submissions that did not run to the end", "", "| student | notebook | status | reason |",
                  "|---|---|---|---|"]
        for (assignment, student), (status, reason) in sorted(data.problems.items()):
            lines.append(f"| {student} | {assignment} | {status} | {reason} |")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
