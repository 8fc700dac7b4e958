"""Issue 9: a learner grades their own notebooks with the hidden tests, in a scratch gradebook."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import nbformat
import pytest
from helpers import COURSE, EXAMPLES, trimmed_copy

from autograder.course import DEFAULT_WORKSPACE

pytestmark = pytest.mark.grading
NB01 = "01_conv_arithmetic"


def _digest_of_instructor_gradebook() -> str | None:
    path = DEFAULT_WORKSPACE / "gradebook.db"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_grade_me_scores_each_exercise_in_a_scratch_gradebook(tmp_path) -> None:
    mine = tmp_path / "my-course"
    target = mine / NB01 / f"{NB01}.ipynb"
    trimmed_copy(EXAMPLES / "submissions" / "student-partial" / NB01 / f"{NB01}.ipynb", target)
    nb = nbformat.read(target, as_version=4)
    for cell in nb.cells:  # the learner answers one of the two think questions
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "think_cross_correlation":
            cell.source = "PyTorch slides the kernel without flipping it; a learned kernel can be flipped anyway."
    nbformat.write(nb, target)
    before = _digest_of_instructor_gradebook()
    result = subprocess.run([sys.executable, "-m", "autograder", "grade-me", NB01, "--from", str(mine),
                             "--workspace", str(tmp_path / "scratch"), "--no-open", "--no-progress"],
                            cwd=COURSE.root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"{NB01}: 5/12 (+4 points of written answers)" in out and "total: 5/12 autograded points" in out
    assert "✓ conv_output_size" in out and "✗ conv2d_naive" in out and "[flipped-kernel]" in out
    # written answers: left for a grader; the model answer appears only after writing one's own
    assert "✎ think_cross_correlation" in out and "answered, model answer below" in out
    assert "✎ think_cross_correlation: compare with your answer" in out and "**Model answer.**" in out
    assert "think_translation_equivariance" in out and "not answered yet" in out
    assert "think_translation_equivariance: compare" not in out
    assert (tmp_path / "scratch" / "gradebook.db").exists()
    assert (tmp_path / "scratch" / "index.html").exists()
    assert (tmp_path / "scratch" / "feedback" / "me" / NB01 / f"{NB01}.html").exists()
    assert _digest_of_instructor_gradebook() == before, "grade-me must never touch the instructor's gradebook"


def test_grade_me_refuses_the_instructors_workspace() -> None:
    result = subprocess.run([sys.executable, "-m", "autograder", "grade-me", NB01, "--workspace",
                             str(DEFAULT_WORKSPACE), "--no-open"], cwd=COURSE.root, capture_output=True, text=True)
    assert result.returncode == 1 and "never uses the instructor's workspace" in result.stderr
