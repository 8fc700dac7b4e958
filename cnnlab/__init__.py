"""cnnlab: the small library that the course notebooks import.

- :func:`check` runs an exercise's visible checks (``check("conv2d_unfold")``) against results
  recorded at release (:mod:`cnnlab.expected`); :mod:`cnnlab.checks` declares each exercise's
  visible side, :mod:`cnnlab.diagnosis` the tagged failures.
- :func:`pick_device` chooses CUDA when available, else CPU (``COURSE_DEVICE`` overrides).

This package holds no answer to any exercise: references, hidden tests and wrong variants
live with the grader (``autograder.exercises``), which students do not install.
"""

from cnnlab import pristine as _pristine  # noqa: F401  (capture references first)
from cnnlab.a11y import install_if_requested as _a11y
from cnnlab.device import pick_device
from cnnlab.selfcheck import check

_a11y()

__all__ = ["check", "pick_device"]
__version__ = "0.1.0"
