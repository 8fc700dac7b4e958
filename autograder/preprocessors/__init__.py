"""nbgrader preprocessors added by this course, one job each."""

from autograder.preprocessors.hide_hidden_tests import HideHiddenTests

__all__ = ["HideHiddenTests"]
