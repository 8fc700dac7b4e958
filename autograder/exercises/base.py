"""The grader's declaration of an exercise: the visible spec plus what students never get.

An :class:`Exercise` joins the exercise's :class:`~cnnlab.checks.spec.VisibleSpec` (name,
notebook, visible cases, tolerance: declared once, in the student's library) with the
reference, the wrong variants that explain a mistake, and, for property exercises, the
hidden verifier. Hidden tests in the solution notebooks feed it random cases through
:mod:`autograder.hidden`; when grading they run in the trusted evaluator
(:mod:`autograder.evaluator`) and the student's function answers from the kernel.
``autograder.exercises.record`` runs the reference and the variants on the visible cases
at release, which is all the student's library learns of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cnnlab import diagnosis as dx
from cnnlab.cases import Case
from cnnlab.checks import calling
from cnnlab.checks.spec import VisibleSpec
from cnnlab.comparing import Tolerance, difference

Verifier = Callable[["Exercise", Callable[..., Any], Case, bool], None]


@dataclass
class Exercise:
    """A graded exercise.

    - ``reference(*case.args, **case.kwargs)`` gives the correct result.
    - ``visible()`` returns the fixed cases that :func:`cnnlab.check` runs.
    - ``misconceptions`` explain wrong results; ``tolerance`` bounds float errors.
    - ``verify(exercise, fn, case, visible)`` replaces the default compare-with-
      reference check when an exercise needs a property check instead.
    - ``pure``: the function must not modify its arguments.
    - ``spec``: the student-side declaration these fields were taken from (:meth:`from_spec`).
    """

    name: str
    notebook: str
    reference: Callable[..., Any] | None
    visible: Callable[[], Sequence[Case]]
    misconceptions: Sequence[dx.Misconception] = ()
    tolerance: Tolerance = Tolerance()
    verify: Verifier | None = None
    pure: bool = True
    spec: VisibleSpec | None = None

    @classmethod
    def from_spec(cls, spec: VisibleSpec, reference: Callable[..., Any] | None, *,
                  misconceptions: Sequence[dx.Misconception] = (), verify: Verifier | None = None) -> Exercise:
        """The grader's exercise for ``spec``: name, notebook, cases, tolerance and purity come from it."""
        return cls(spec.name, spec.notebook, reference, spec.cases, tuple(misconceptions), spec.tolerance,
                   verify, spec.pure, spec)

    def check_case(self, fn: Callable[..., Any], case: Case, *, visible: bool = True) -> None:
        """Check ``fn`` on one case; raise :class:`~cnnlab.diagnosis.CheckFailed` if wrong."""
        if self.verify is not None:
            self.verify(self, fn, case, visible)
            return
        if case.raises is not None:
            self.expect_raises(fn, case, visible=visible)
            return
        got = self.call_student(fn, case, visible=visible)
        assert self.reference is not None, f"exercise {self.name} has no reference"
        expected = case.call(self.reference)
        self.judge(case, got, expected, visible=visible)

    def call_student(self, fn: Callable[..., Any], case: Case, *, visible: bool = True) -> Any:
        """Run the student's function on a copy of the case, turning errors into failures."""
        return calling.call_student(self.name, fn, case, pure=self.pure, visible=visible)

    def expect_raises(self, fn: Callable[..., Any], case: Case, *, visible: bool = True) -> None:
        """The case must raise ``case.raises``."""
        calling.expect_raises(self.name, fn, case, visible=visible)

    def judge(self, case: Case, got: Any, expected: Any, *, visible: bool = True) -> None:
        """Compare ``got`` with ``expected``; on a mismatch, diagnose and raise."""

        def diagnose() -> tuple[str, str] | None:
            found = dx.find_misconception(case, got, expected, tuple(self.misconceptions),
                                          lambda a, b: difference(a, b, self.tolerance) is None)
            return None if found is None else (found.tag, found.hint)

        calling.mismatch(self.name, case, got, expected, self.tolerance, diagnose, visible=visible)


_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (names are unique across the course)."""
    if exercise.name in _REGISTRY and _REGISTRY[exercise.name].notebook != exercise.notebook:
        raise ValueError(f"exercise {exercise.name!r} is registered twice")
    _REGISTRY[exercise.name] = exercise
    return exercise
