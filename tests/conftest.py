"""Session fixtures: the example class is graded once and shared by every test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import COURSE, EXAMPLES, GradedClass, selected_assignments  # noqa: E402

from autograder.backends import LocalBackend  # noqa: E402
from autograder.course import Workspace  # noqa: E402
from autograder.engine import grade  # noqa: E402
from autograder.submissions import discover_layout  # noqa: E402


def pytest_report_header(config: pytest.Config) -> list[str]:
    import torch

    return [f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}, "
            f"COURSE_DATA_DIR={os.environ.get('COURSE_DATA_DIR', '(unset)')}"]


@pytest.fixture(scope="session")
def course():  # noqa: ANN201
    return COURSE


@pytest.fixture(scope="session")
def example_class(tmp_path_factory: pytest.TempPathFactory) -> GradedClass:
    """examples/submissions (full, untouched and partial students, every notebook), graded once."""
    ws = Workspace(tmp_path_factory.mktemp("example-class"))
    subs, rejected = discover_layout(EXAMPLES / "submissions", COURSE)
    assert not rejected, rejected
    subs = [s for s in subs if s.assignment in selected_assignments()]
    run = grade(COURSE, ws, subs, backend=LocalBackend(2), progress=False)
    return GradedClass(ws, run)
