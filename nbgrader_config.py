# nbgrader configuration for this course. The settings live in autograder/settings.py so that
# `nbgrader ...` commands and `python -m autograder` always agree.
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autograder.course import DEFAULT_WORKSPACE, Workspace  # noqa: E402
from autograder.settings import apply  # noqa: E402

c = get_config()  # noqa: F821
# The instructor's workspace (grading/): gradebook, submitted/, autograded/ and feedback/.
apply(c, workspace=Workspace(DEFAULT_WORKSPACE))
# The formgrader warns that release and collect are unavailable unless the exchange folder exists.
try:
    Path(c.Exchange.root).mkdir(parents=True, exist_ok=True)
except OSError:  # a read-only checkout: the formgrader then shows its own warning
    pass
