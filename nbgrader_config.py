# nbgrader configuration for this course. The settings live in autograder/settings.py so that
# `nbgrader ...` commands and `python -m autograder` always agree.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autograder.settings import apply  # noqa: E402

c = get_config()  # noqa: F821
apply(c)
