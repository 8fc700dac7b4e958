"""nbgrader preprocessors added by this course, one job each."""

from autograder.preprocessors.assign_missing_ids import AssignMissingIds
from autograder.preprocessors.hide_hidden_tests import HideHiddenTests
from autograder.preprocessors.resolve_duplicate_cells import ResolveDuplicateCells

__all__ = ["AssignMissingIds", "HideHiddenTests", "ResolveDuplicateCells"]
