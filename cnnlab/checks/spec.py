"""What a student's copy of the course knows about an exercise: its visible cases, no answer.

A :class:`VisibleSpec` names an exercise, builds its fixed visible cases, and says how to
observe a call (what the function produced, as plain data) and, for property exercises,
how to judge an observation. The expected observations come from data recorded at release
time (:mod:`cnnlab.expected`); the grader's declaration of the same exercise
(``autograder.exercises``) adds the reference, the hidden case generator and the wrong variants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cnnlab.cases import Case
from cnnlab.comparing import Tolerance

Observer = Callable[[Callable[..., Any], Case], Any]
# judge(spec, case, observation, recorded) raises CheckFailed; ``recorded`` is that case's release-time record.
PropertyJudge = Callable[["VisibleSpec", Case, Any, dict], None]


@dataclass(frozen=True)
class VisibleSpec:
    """An exercise as the student's library knows it.

    - ``cases()`` returns the fixed visible cases (deterministic: release records their results).
    - ``observe(fn, case)`` turns one call into plain data (tensors, numbers, strings, tuples,
      lists, dicts); ``None`` means "the return value itself".
    - ``judge`` replaces the comparison with the recorded observation for property exercises.
    - ``pure``: the function must not modify its arguments.
    """

    name: str
    notebook: str
    cases: Callable[[], Sequence[Case]]
    tolerance: Tolerance = Tolerance()
    pure: bool = True
    observe: Observer | None = None
    judge: PropertyJudge | None = None


_SPECS: dict[str, VisibleSpec] = {}


def declare(*specs: VisibleSpec) -> tuple[VisibleSpec, ...]:
    """Add specs to the student-side registry (names are unique across the course)."""
    for spec in specs:
        old = _SPECS.get(spec.name)
        if old is not None and old.notebook != spec.notebook:
            raise ValueError(f"exercise {spec.name!r} is declared twice")
        _SPECS[spec.name] = spec
    return specs
