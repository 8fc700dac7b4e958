"""The nbgrader configuration of this course, in one place.

``nbgrader_config.py`` at the repository root calls :func:`apply`, so the ``nbgrader``
command line and this package's grader use the same settings.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from autograder.course import COURSE_ID, KERNEL_NAME, RELEASE_DIR, REPO_ROOT, SOURCE_DIR, Course, Workspace
from autograder.course_settings import load_settings, settings_path

# Per-cell limit. The slowest cell in the course trains the MNIST network (about a minute
# on a 2-core CPU); the margin covers slower grading machines.
CELL_TIMEOUT_S = 300
# The course's time budget for one top-to-bottom run of a solution notebook on the 2-core CPU,
# kernel start and hidden tests included (MNIST trains for real). bench/grading.py prints each
# notebook's time beside its budget; the test suite allows a wide margin over it (machines vary).
RUN_BUDGET_S = {"07_mnist_convnet": 90.0}
DEFAULT_RUN_BUDGET_S = 20.0


def run_budget(assignment: str) -> float:
    """Seconds one top-to-bottom run of ``assignment``'s solution notebook should take at most."""
    return RUN_BUDGET_S.get(assignment, DEFAULT_RUN_BUDGET_S)


# Whole-notebook limit used by this package's grader (nbgrader itself has none).
NOTEBOOK_TIMEOUT_S = 900
# A cell's outputs beyond this many characters are cut (nbgrader's LimitOutput does the same
# after execution; the grader also stops collecting during execution).
MAX_OUTPUT_CHARS = 200_000

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def apply(c: Config, course: Course | None = None, workspace: Workspace | None = None) -> Config:
    """Fill ``c`` with the course's nbgrader settings; returns ``c``."""
    course = course or Course()
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = SOURCE_DIR
    c.CourseDirectory.release_directory = RELEASE_DIR
    if workspace is not None:
        c.CourseDirectory.submitted_directory = str(workspace.submitted)
        c.CourseDirectory.autograded_directory = str(workspace.autograded)
        c.CourseDirectory.feedback_directory = str(workspace.feedback)
        c.CourseDirectory.db_url = workspace.gradebook_url
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".hypothesis"]
    c.ExecutePreprocessor.kernel_name = KERNEL_NAME
    c.Execute.kernel_name = KERNEL_NAME
    c.Execute.timeout = CELL_TIMEOUT_S
    c.Execute.startup_timeout = 120
    c.Execute.extra_arguments = ["--HistoryManager.enabled=False"]
    # Wait for kernel messages in 1 s polls: a missed socket wake-up then costs a second, not a
    # whole cell limit (see autograder.kernel_client).
    c.AsyncKernelManager.client_class = "autograder.kernel_client.SlicedPollKernelClient"
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.enforce_metadata = True
    # A deleted test cell is put back and run, rather than scored 0 and left for manual grading.
    c.OverwriteCells.add_missing_cells = True
    c.LimitOutput.max_lines = 400
    c.LimitOutput.max_traceback = 60
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "autograder.preprocessors.HideHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    c.Exchange.root = str(Path(course.root) / "build" / "exchange")
    c.LateSubmissionPlugin.penalty_method = load_settings(settings_path(Path(course.root))).late_penalty
    return c


def make_config(course: Course | None = None, workspace: Workspace | None = None) -> Config:
    """A fresh ``Config`` with the course settings."""
    return apply(Config(), course, workspace)


__all__ = ["apply", "make_config", "REPO_ROOT", "CELL_TIMEOUT_S", "NOTEBOOK_TIMEOUT_S"]
