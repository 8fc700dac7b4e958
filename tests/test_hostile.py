"""Issue 8: the hostile corpus graded in one run, beside an honest student.

For every case: the affected tests score 0 (or the submission is rejected with a reason),
the grader carries on, the honest student's grades are unchanged, and the gradebook is intact.
"""

from __future__ import annotations

import socket
import threading
import warnings

import pytest
from helpers import COURSE, EXAMPLES, GradedClass, outputs_text, trimmed_copy
from hostile_corpus import ASSIGNMENT, CASES, TESTS, Context, write_case
from nbgrader.api import Gradebook

from autograder.backends import LocalBackend
from autograder.course import Workspace
from autograder.engine import grade
from autograder.intake import collect
from autograder.limits import Limits
from autograder.sandbox import detect

pytestmark = [pytest.mark.grading, pytest.mark.sandbox]
NEEDS_SANDBOX = {"read-solutions", "write-gradebook", "network", "fork-bomb"}
STOPPED_BY_LIMITS = {"infinite-loop", "loop-ignoring-interrupts", "fork-bomb", "hangs-on-hidden-inputs"}


class _Listener:
    """A TCP server on the grading host that counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("hostile")
    ws = Workspace(root / "ws").create()
    listener = _Listener()
    ctx = Context(repo=str(COURSE.root), workspace=str(ws.path), port=listener.port)
    subs_dir = root / "submissions"
    for case in CASES:
        write_case(case, subs_dir, ctx)
    trimmed_copy(EXAMPLES / "submissions" / "student-full" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                 subs_dir / "honest" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    subs, rejected = collect(subs_dir, COURSE)
    # Cases that only end at a time limit run with short limits; the rest with room for a 1 GB flood.
    quick = [s for s in subs if s.student in STOPPED_BY_LIMITS]
    with warnings.catch_warnings(record=True) as caught:  # the filters stay: what a user would see
        run = grade(COURSE, ws, [s for s in subs if s.student not in STOPPED_BY_LIMITS],
                    backend=LocalBackend(2), progress=False, limits=Limits(cell_timeout_s=60, notebook_timeout_s=150))
        stopped = grade(COURSE, ws, quick, backend=LocalBackend(2), progress=False,
                        limits=Limits(cell_timeout_s=10, notebook_timeout_s=60))
    run.outcomes += stopped.outcomes
    run.rejected = rejected
    warned = [f"{w.category.__name__}: {w.message}" for w in caught]
    yield GradedClass(ws, run), listener, warned
    listener.sock.close()


def test_the_corpus_has_at_least_15_cases() -> None:
    assert len(CASES) >= 15 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_case_has_its_expected_outcome(corpus, case) -> None:  # noqa: ANN001
    graded, listener, _ = corpus
    if case.name in NEEDS_SANDBOX and not detect().bwrap:
        pytest.skip("needs bubblewrap (.ci/run installs the Debian package 'bubblewrap')")
    expect = case.expect
    if expect.status == "rejected":
        reasons = [r.reason for r in graded.run.rejected if case.name in str(r.path)]
        assert reasons and expect.reason in reasons[0], reasons
        return
    outcome = graded.outcome(case.name, ASSIGNMENT)
    if expect.status != "any":
        assert outcome.status == expect.status, outcome.reason
    assert outcome.max_score == expect.max_score, "points metadata must come from the gradebook"
    scores = graded.cell_scores(case.name, ASSIGNMENT)
    for test in expect.full:
        assert scores[test] == (TESTS[test], TESTS[test]), (test, graded.cell_text(case.name, ASSIGNMENT, test)[-600:])
    for test in expect.zero:
        assert scores[test][0] == 0, (test, graded.cell_text(case.name, ASSIGNMENT, test)[-600:])
    for test, tag in expect.tags.items():
        assert tag in graded.cell_tags(case.name, ASSIGNMENT, test), graded.cell_text(case.name, ASSIGNMENT, test)
    for test, text in expect.test_output.items():
        assert text in graded.cell_text(case.name, ASSIGNMENT, test)
    for cell_id, text in expect.output.items():
        assert text in graded.cell_text(case.name, ASSIGNMENT, cell_id)
    for cell_id, text in expect.not_output.items():
        assert text not in graded.cell_text(case.name, ASSIGNMENT, cell_id)
    if case.name == "network":
        assert listener.connections == 0


def test_the_honest_student_is_unaffected_and_the_gradebook_intact(corpus) -> None:
    graded, _, _ = corpus
    honest = graded.outcome("honest", ASSIGNMENT)
    assert (honest.status, honest.score, honest.max_score) == ("ok", 12.0, 16.0)
    graded_names = {o.student for o in graded.run.outcomes}
    expected = {c.name for c in CASES if c.expect.status != "rejected"} | {"honest"}
    assert graded_names == expected, "the grader must carry on through every case"
    with Gradebook(graded.workspace.gradebook_url) as gb:
        assert {s.id for s in gb.students} == expected
        assert gb.find_submission(ASSIGNMENT, "honest").score == 12.0


def test_grading_the_corpus_warns_about_nothing(corpus) -> None:
    _, _, warned = corpus
    assert warned == [], "the grader warned (e.g. a restored test cell without an id)"


def test_a_print_flood_does_not_bloat_the_graded_notebook(corpus) -> None:
    graded, _, _ = corpus
    path = graded.workspace.autograded_notebook("print-flood", ASSIGNMENT)
    assert path.stat().st_size < 5 * 2**20
    text = outputs_text(next(c for c in graded.notebook("print-flood", ASSIGNMENT).cells
                             if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "conv_output_size"))
    assert "[output-limit]" in text


def test_the_readme_table_lists_the_corpus() -> None:
    from hostile_corpus import markdown_table, readme_section

    assert readme_section((COURSE.root / "README.md").read_text()) == markdown_table(), (
        "run `.venv/bin/python tests/hostile_corpus.py` to refresh the README's table")
