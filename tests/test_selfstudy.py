"""Issue 9: a learner grades their own notebooks with the hidden tests, in a scratch gradebook."""

from __future__ import annotations

import hashlib
import subprocess
import sys

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
    trimmed_copy(EXAMPLES / "submissions" / "student-partial" / NB01 / f"{NB01}.ipynb", mine / NB01 / f"{NB01}.ipynb")
    before = _digest_of_instructor_gradebook()
    result = subprocess.run([sys.executable, "-m", "autograder", "grade-me", NB01, "--from", str(mine),
                             "--workspace", str(tmp_path / "scratch"), "--no-open", "--no-progress"],
                            cwd=COURSE.root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"{NB01}: 5/10" in out and "total: 5/10" in out
    assert "✓ conv_output_size" in out and "✗ conv2d_naive" in out and "[flipped-kernel]" in out
    assert (tmp_path / "scratch" / "gradebook.db").exists()
    assert (tmp_path / "scratch" / "index.html").exists()
    assert (tmp_path / "scratch" / "feedback" / "me" / NB01 / f"{NB01}.html").exists()
    assert _digest_of_instructor_gradebook() == before, "grade-me must never touch the instructor's gradebook"


def test_grade_me_refuses_the_instructors_workspace() -> None:
    result = subprocess.run([sys.executable, "-m", "autograder", "grade-me", NB01, "--workspace",
                             str(DEFAULT_WORKSPACE), "--no-open"], cwd=COURSE.root, capture_output=True, text=True)
    assert result.returncode == 1 and "never uses the instructor's workspace" in result.stderr
