"""cnnlab: the small library that the course notebooks import.

- :func:`check` runs an exercise's visible checks (``check("conv2d_unfold")``).
- :func:`pick_device` chooses CUDA when available, else CPU (``COURSE_DEVICE`` overrides).
- :mod:`cnnlab.grading` holds the machinery of the hidden tests; :mod:`cnnlab.diagnosis`
  the tagged misconceptions that failure messages name.
"""

from cnnlab import pristine as _pristine  # noqa: F401  (capture references first)
from cnnlab.a11y import install_if_requested as _a11y
from cnnlab.device import pick_device
from cnnlab.selfcheck import check

_a11y()

__all__ = ["check", "pick_device"]
__version__ = "0.1.0"
