"""Every notebook, through the whole pipeline: release, validate, autograde, examples, timing."""

from __future__ import annotations

import filecmp
import re

import nbformat
import pytest
import torch
from helpers import COURSE, EXAMPLES, outputs_text, selected_assignments, stderr_cells

from autograder.examples import STUDENTS, build, partial_spec
from autograder.release import release_to
from autograder.settings import run_budget
from autograder.validate import validate_course, validate_in_process

ASSIGNMENTS = selected_assignments()
# A test may only assert a budget with a wide margin: CI machines have run twice as slow as the
# one the budgets were set on. bench/grading.py measures the notebooks against the budgets themselves.
BUDGET_MARGIN = 1.5


def _by_notebook(names):  # noqa: ANN001, ANN202
    return [pytest.param(a, marks=getattr(pytest.mark, f"nb{a[:2]}"), id=a) for a in names]


def _grade_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def _written_answers(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Think questions (graded by hand): grade id -> points."""
    return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"]) for c in _grade_cells(nb)
            if c.cell_type == "markdown"}


@pytest.mark.grading
@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_full_solution_scores_full_points(example_class, assignment: str) -> None:
    outcome = example_class.outcome("student-full", assignment)
    assert outcome.status == "ok", outcome.reason
    by_hand = _written_answers(example_class.notebook("student-full", assignment))
    failing = {k: v for k, v in example_class.cell_scores("student-full", assignment).items()
               if v[0] != v[1] and k not in by_hand}
    assert not failing, {k: example_class.cell_text("student-full", assignment, k)[-800:] for k in failing}
    # every autograded point; the written answers wait for a grader (0 until then)
    assert outcome.pending.answers == len(by_hand) and outcome.pending.points == sum(by_hand.values())
    assert outcome.score == outcome.max_score - outcome.pending.points > 0


@pytest.mark.grading
@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_untouched_release_scores_zero_without_grader_error(example_class, assignment: str) -> None:
    outcome = example_class.outcome("student-untouched", assignment)
    assert outcome.status == "ok", f"the grader failed instead of scoring 0: {outcome.reason}"
    assert outcome.score == 0, example_class.cell_scores("student-untouched", assignment)
    by_hand = _written_answers(example_class.notebook("student-untouched", assignment))
    for grade_id in set(example_class.cell_scores("student-untouched", assignment)) - set(by_hand):
        assert example_class.cell_tags("student-untouched", assignment, grade_id), (
            f"{grade_id} failed without a diagnosis tag")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_partial_submission_scores_exactly_as_expected(example_class, assignment: str) -> None:
    spec = partial_spec(assignment)
    assert spec, f"examples/partial/{assignment}.py is missing"
    outcome = example_class.outcome("student-partial", assignment)
    assert outcome.status == "ok", outcome.reason
    assert outcome.score == spec["EXPECTED_SCORE"], example_class.cell_scores("student-partial", assignment)
    for grade_id, tag in spec.get("EXPECTED_TAGS", {}).items():
        tags = example_class.cell_tags("student-partial", assignment, grade_id)
        assert tag in tags, f"{grade_id}: expected diagnosis [{tag}], got {tags}"


@pytest.mark.grading
@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_no_test_cell_writes_to_stderr(example_class, assignment: str) -> None:
    for student in STUDENTS:
        if not example_class.workspace.autograded_notebook(student, assignment).is_file():
            continue  # the Chinese partial student submits notebook 01 only
        nb = example_class.notebook(student, assignment)
        graded = {i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
        assert not graded & set(stderr_cells(nb)), f"{student}: a test cell wrote to stderr"


def test_course_is_in_sync_with_a_fresh_release(tmp_path) -> None:
    release_to(COURSE, tmp_path, ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        ours, fresh = COURSE.release_dir / assignment, tmp_path / assignment
        cmp = filecmp.dircmp(ours, fresh, ignore=[".ipynb_checkpoints", "__pycache__"])
        assert not (cmp.left_only or cmp.right_only or cmp.diff_files), (
            f"course/{assignment} differs from a fresh release: run `make release` and commit course/")
        assert filecmp.cmp(ours / f"{assignment}.ipynb", fresh / f"{assignment}.ipynb", shallow=False)
    extra = {p.name for p in COURSE.release_dir.iterdir() if p.is_dir()} - set(COURSE.assignments())
    assert not extra, f"course/ has assignments that solutions/ does not: {extra}"


def _same_record(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_record(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same_record(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_recorded_visible_results_are_in_sync_with_the_exercises(assignment: str) -> None:
    from autograder.exercises.record import record_notebook
    from cnnlab.expected import load_expected

    fresh, shipped = record_notebook(assignment), load_expected(assignment)
    assert fresh.keys() == shipped.keys(), "run `make release`: the exercises changed"
    for name in fresh:
        assert _same_record(fresh[name], shipped[name]), f"{name}: run `make release` and commit cnnlab/expected/"


def _split_lines(nb: nbformat.NotebookNode) -> tuple[list[str], set[str]]:
    """(distinctive lines inside hidden-test blocks, every line outside them)."""
    hidden, visible, inside = [], set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            text = line.strip()
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif not inside:
                visible.add(text)
            elif len(text) > 12 and not text.startswith(("from ", "import ", "#")):
                hidden.append(text)
    return hidden, visible


@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_hidden_tests_appear_nowhere_in_course(assignment: str) -> None:
    hidden, visible = _split_lines(nbformat.read(COURSE.source_notebook(assignment), as_version=4))
    assert hidden, "every notebook has hidden tests"
    released = COURSE.release_notebook(assignment).read_text()
    assert "HIDDEN TESTS" not in released
    released_lines = {line.strip() for cell in nbformat.reads(released, as_version=4).cells
                      for line in cell.source.splitlines()}
    leaked = [line for line in hidden if line in released_lines and line not in visible]
    assert not leaked, f"hidden-test lines found in course/{assignment}: {leaked[:3]}"


def test_examples_are_in_sync(tmp_path) -> None:
    build(COURSE, tmp_path, ASSIGNMENTS)
    for path in tmp_path.rglob("*.ipynb"):
        ours = EXAMPLES / "submissions" / path.relative_to(tmp_path)
        assert ours.exists() and filecmp.cmp(ours, path, shallow=False), (
            f"{ours} is stale: run `make examples` and commit examples/")
    built = {p.relative_to(tmp_path) for p in tmp_path.rglob("*.ipynb")}
    extra = [p for p in (EXAMPLES / "submissions").rglob("*.ipynb")
             if p.parent.name in ASSIGNMENTS and p.relative_to(EXAMPLES / "submissions") not in built]
    assert not extra, f"examples/ has notebooks the build does not write: {extra[:3]} (run `make examples`)"


@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_solution_notebook_is_committed_without_outputs(assignment: str) -> None:
    nb = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells with outputs: {dirty} (clear outputs before committing)"


@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_every_exercise_has_a_contract_and_a_graded_test(assignment: str) -> None:
    nb = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    cells = nb.cells
    for i, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown":  # a think question, graded by hand: model answer and rubric
            assert meta["grade_id"].startswith("think_") and meta.get("points", 0) > 0, meta
            assert "**Model answer.**" in cell.source and "**Rubric**" in cell.source, meta["grade_id"]
            rubric = cell.source.split("**Rubric**", 1)[1]
            assert rubric.count("\n* ") == int(meta["points"]), f"{meta['grade_id']}: one rubric line per point"
            continue
        defs = re.findall(r"^(?:def|class) (\w+)", cell.source, flags=re.M)
        for name in defs:
            body = cell.source.split(f" {name}", 1)[1]
            assert '"""' in body.split("### BEGIN SOLUTION")[0], f"{name} has no docstring contract"
        following = next((c for c in cells[i + 1:] if c.cell_type == "code"
                          and c.get("metadata", {}).get("nbgrader", {}).get("grade")), None)
        assert following is not None, f"answer cell {meta['grade_id']} has no test cell after it"
        assert "check(" in following.source and "BEGIN HIDDEN TESTS" in following.source, (
            f"the test after {meta['grade_id']} needs visible checks and hidden tests")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_source_validates_cleanly_within_budget(assignment: str, monkeypatch) -> None:
    """nbgrader's Validator passes every test of the source notebook, run top to bottom within budget.

    Also: no cell errors or writes to stderr (no tracebacks, no warnings), and every figure has a
    title and labelled axes. The time covers the kernel's start and every cell, hidden tests included.
    """
    monkeypatch.setenv("COURSE_A11Y_CHECK", "1")
    result, executed = validate_in_process(COURSE, COURSE.source_notebook(assignment))
    assert result.ok, f"{result.label} failed:\n{result.problem()}"
    errors = [outputs_text(c)[-400:] for c in executed.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert not errors, f"cells raised errors: {errors}"
    assert not stderr_cells(executed), f"cells wrote to stderr: {stderr_cells(executed)}"
    a11y = [line for c in executed.cells if c.cell_type == "code"
            for line in outputs_text(c).splitlines() if line.startswith("[a11y]")]
    assert not a11y, f"figures without a title or axis labels: {a11y}"
    budget = run_budget(assignment)
    assert result.seconds <= BUDGET_MARGIN * budget, (
        f"{assignment} took {result.seconds:.1f} s, over {BUDGET_MARGIN}x its budget of {budget:.0f} s")


@pytest.fixture(scope="module")
def release_validations() -> dict:
    """`nbgrader validate --invert` on every released notebook, two at a time (output parsed)."""
    results = validate_course(COURSE, ASSIGNMENTS, workers=2, sources=False)
    return {v.notebook.parent.name: v for v in results}


@pytest.mark.grading
@pytest.mark.parametrize("assignment", _by_notebook(ASSIGNMENTS))
def test_release_passes_no_test(release_validations, assignment: str) -> None:
    """Through the real `nbgrader validate --invert` command, whose output is parsed."""
    result = release_validations[assignment]
    assert result.ok, f"{result.label} failed:\n{result.problem()}"


def test_sources_are_cited_by_number_and_title_never_as_seed_files() -> None:
    """Students cannot look up "seed 003": the course cites post [N] by its title (../shared/sources)."""
    from cnnlab.sources import POSTS, cite

    seed = re.compile(r"\bseed 00[0-9]\b|\bpost[1-5]\.txt\b", re.IGNORECASE)
    paths = [COURSE.root / "README.md", *COURSE.root.glob("solutions/*/*.ipynb"), *COURSE.root.glob("course/*/*.ipynb"),
             *COURSE.root.glob("course-zh/*/*.ipynb"), *COURSE.root.glob("i18n/**/*.po"),
             *COURSE.root.glob("cnnlab/**/*.py"), *COURSE.root.glob("cnnlab/locale/**/*.po")]
    offenders = [str(p.relative_to(COURSE.root)) for p in paths if seed.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], f"cite these as post [N] “title”: {offenders}"
    assert cite(2) == "post [2] “pytorch中的nn.Conv2d”" and sorted(POSTS) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("assignment", selected_assignments())
def test_each_notebook_introduction_lists_the_posts_it_cites(assignment: str) -> None:
    from cnnlab.sources import POSTS

    nb = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    intro = nb.cells[0].source
    assert "**Sources.**" in intro, "the first cell should end with a Sources paragraph"
    cited = {int(n) for c in nb.cells for n in re.findall(r"post \[(\d)\]", c.source)}
    listed = {int(n) for n in re.findall(r"\[(\d)\] “", intro.split("**Sources.**")[1])}
    assert cited <= listed, f"cited in the text but not in the Sources paragraph: {sorted(cited - listed)}"
    for n in listed:
        assert POSTS[n][0] in intro, f"post [{n}] should be named by its title"
    readme = (COURSE.root / "README.md").read_text(encoding="utf-8")
    assert "## Sources" in readme and all(title in readme for title, _ in POSTS.values())
