"""Score tables read back from the gradebook."""

from __future__ import annotations

from dataclasses import dataclass, field

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import COURSE_ID, Workspace
from autograder.handgraded import Pending, pending
from autograder.steps import Outcome


@dataclass(frozen=True)
class ScoreTable:
    """Scores by student and assignment: ``scores[student][assignment] = (score, max)``.

    ``pending[student][assignment]``: written answers not graded by hand yet (their points are
    in ``max`` but not in ``score``).
    """

    assignments: list[str]
    scores: dict[str, dict[str, tuple[float, float]]]
    pending: dict[str, dict[str, Pending]] = field(default_factory=dict)

    def total(self, student: str) -> tuple[float, float]:
        row = self.scores[student].values()
        return sum(s for s, _ in row), sum(m for _, m in row)

    def waiting(self, student: str, assignment: str | None = None) -> Pending:
        """What still waits for a grader: one assignment's answers, or the student's whole row."""
        row = self.pending.get(student, {})
        if assignment is not None:
            return row.get(assignment, Pending())
        return sum(row.values(), Pending())


def read_scores(workspace: Workspace, students: list[str] | None = None) -> ScoreTable:
    """Read every (student, assignment) score in the gradebook."""
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        ids = students or sorted(s.id for s in gb.students)
        scores: dict[str, dict[str, tuple[float, float]]] = {}
        waiting: dict[str, dict[str, Pending]] = {}
        for student in ids:
            row, hand = {}, {}
            for name in assignments:
                try:
                    sub = gb.find_submission(name, student)
                except MissingEntry:
                    continue
                row[name] = (float(sub.score), float(sub.max_score))
                hand[name] = pending(sub)
            scores[student], waiting[student] = row, hand
    return ScoreTable(assignments, scores, waiting)


def _short(assignment: str) -> str:
    return assignment.split("_", 1)[0]


def format_table(table: ScoreTable, outcomes: list[Outcome] | None = None) -> str:
    """A plain-text table: one row per student, one column per assignment, and a total."""
    cols = [a for a in table.assignments if any(a in row for row in table.scores.values())]
    width = max([7] + [len(s) for s in table.scores])
    head = f"{'student':<{width}}  " + "  ".join(f"{_short(a):>8}" for a in cols) + f"  {'total':>9}"
    lines = [head, "-" * len(head)]
    for student, row in table.scores.items():
        cells = []
        for a in cols:
            mark = "*" if table.waiting(student, a).answers else " "
            cells.append(f"{row[a][0]:>3g}/{row[a][1]:<3g}{mark}" if a in row else f"{'-':>8}")
        score, max_score = table.total(student)
        pct = f"{100 * score / max_score:3.0f}%" if max_score else ""
        lines.append(f"{student:<{width}}  " + "  ".join(f"{c:>8}" for c in cells)
                     + f"  {score:>4g}/{max_score:<4g}{pct}")
    if cols:
        lines.append("columns: " + ", ".join(cols))
    waiting = [(student, table.waiting(student)) for student in table.scores]
    if any(w.answers for _, w in waiting):
        lines.append("* written answers to grade by hand (JupyterLab: Nbgrader > Formgrader): "
                     + "; ".join(f"{student} {w.answers} ({w.points:g} points)" for student, w in waiting if w.answers))
    problems = [o for o in (outcomes or []) if o.status != "ok"]
    for o in problems:
        lines.append(f"! {o.student}/{o.assignment}: {o.status}: {o.reason}")
    return "\n".join(lines)
