# nbgrader configuration for this course. The settings live in autograder/settings.py so that
# `nbgrader ...` commands and `python -m autograder` always agree.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autograder.course import DEFAULT_WORKSPACE, Workspace  # noqa: E402
from autograder.settings import apply  # noqa: E402

c = get_config()  # noqa: F821
# The instructor's workspace (grading/): gradebook, submitted/, autograded/ and feedback/.
apply(c, workspace=Workspace(DEFAULT_WORKSPACE))
