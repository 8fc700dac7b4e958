"""Exercises: what each graded function must do, how to check it, and its known mistakes.

An :class:`Exercise` bundles a reference (PyTorch itself wherever possible), the fixed
*visible* cases a student can run with :func:`cnnlab.check`, and the misconceptions
used to explain a wrong answer. Hidden tests in the solution notebooks feed it random
cases through :mod:`cnnlab.grading`; when grading, they run in the trusted evaluator
(:mod:`autograder.evaluator`) and the student's function answers from the kernel.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnlab import diagnosis as dx
from cnnlab.comparing import Tolerance, describe_value, difference, unchanged


@dataclass
class Case:
    """One call of an exercise: positional and keyword arguments.

    ``raises`` names the exception type the call must raise instead of returning.
    ``note`` says what the case is about; it is shown when the case fails.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    note: str = ""
    raises: type[BaseException] | None = None

    def cloned(self) -> Case:
        """A deep copy, so that a call cannot change this case's tensors."""
        return Case(_clone(self.args), _clone(self.kwargs), self.note, self.raises)

    def call(self, fn: Callable[..., Any]) -> Any:
        """Call ``fn`` on a fresh copy of the arguments."""
        c = self.cloned()
        return fn(*c.args, **c.kwargs)

    def describe(self, name: str) -> str:
        """The call as text, e.g. ``conv_output_size(7, kernel_size=3)``."""
        parts = [describe_value(a) for a in self.args]
        parts += [f"{k}={describe_value(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value)
    return value


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
    """

    name: str
    notebook: str
    reference: Callable[..., Any] | None
    visible: Callable[[], Sequence[Case]]
    misconceptions: Sequence[dx.Misconception] = ()
    tolerance: Tolerance = Tolerance()
    verify: Verifier | None = None
    pure: bool = True

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
        c = case.cloned()
        try:
            got = fn(*c.args, **c.kwargs)
        except NotImplementedError:
            raise dx.CheckFailed(
                self.name, dx.NOT_IMPLEMENTED,
                "not implemented yet: replace `raise NotImplementedError()` with your code",
                visible=visible,
            ) from None
        except dx.CheckFailed:
            raise
        except Exception as exc:
            raise dx.CheckFailed(
                self.name, dx.RAISED, f"raised {type(exc).__name__}: {exc}",
                f"on {case.describe(self.name)}\n{student_frame(exc)}", visible=visible,
            ) from None
        if self.pure and not (unchanged(c.args, case.args) and unchanged(c.kwargs, case.kwargs)):
            raise dx.CheckFailed(
                self.name, dx.MUTATED_INPUT,
                "changed its input in place; work on a copy (or out-of-place ops)",
                f"on {case.describe(self.name)}", visible=visible,
            )
        return got

    def expect_raises(self, fn: Callable[..., Any], case: Case, *, visible: bool = True) -> None:
        """The case must raise ``case.raises``."""
        assert case.raises is not None
        try:
            got = case.call(fn)
        except NotImplementedError:
            raise dx.CheckFailed(
                self.name, dx.NOT_IMPLEMENTED,
                "not implemented yet: replace `raise NotImplementedError()` with your code",
                visible=visible,
            ) from None
        except case.raises:
            return
        except Exception as exc:
            raise dx.CheckFailed(
                self.name, "wrong-error",
                f"should raise {case.raises.__name__} but raised {type(exc).__name__}: {exc}",
                f"on {case.describe(self.name)}" + (f"  ({case.note})" if case.note else ""),
                visible=visible,
            ) from None
        raise dx.CheckFailed(
            self.name, "missing-error", f"should raise {case.raises.__name__} for invalid input",
            f"on {case.describe(self.name)} it returned {describe_value(got)}"
            + (f"  ({case.note})" if case.note else ""),
            visible=visible,
        )

    def judge(self, case: Case, got: Any, expected: Any, *, visible: bool = True) -> None:
        """Compare ``got`` with ``expected``; on a mismatch, diagnose and raise."""
        diff = difference(got, expected, self.tolerance)
        if diff is None:
            return
        tag, explanation = diff
        hint = _GENERIC_HINTS.get(tag, "wrong result")
        found = dx.find_misconception(
            case, got, expected, tuple(self.misconceptions),
            lambda a, b: difference(a, b, self.tolerance) is None,
        )
        if found is not None:
            tag, hint = found.tag, found.hint
        details = f"on {case.describe(self.name)}"
        if case.note:
            details += f"  ({case.note})"
        details += f"\n{explanation}"
        raise dx.CheckFailed(self.name, tag, hint, details, visible=visible)


_GENERIC_HINTS = {
    dx.WRONG_TYPE: "returned the wrong type",
    dx.WRONG_SHAPE: "returned the wrong shape",
    dx.WRONG_DEVICE: "returned a tensor on the wrong device",
    dx.NOT_FINITE: "produced nan or inf where PyTorch does not",
    dx.WRONG_VALUE: "wrong values",
}


def student_frame(exc: BaseException) -> str:
    """The innermost line of notebook code in the traceback, if any."""
    remote = getattr(exc, "remote_where", None)
    if remote is not None:  # raised in the student's kernel and carried over by the grader
        return remote
    frames = traceback.extract_tb(exc.__traceback__)
    notebook = [f for f in frames if "ipykernel" in f.filename or f.filename.startswith("<")]
    frame = (notebook or frames or [None])[-1]
    if frame is None:
        return ""
    where = "your code" if frame in notebook else frame.filename.rsplit("/", 1)[-1]
    return f"in {where}, line {frame.lineno}: {frame.line}"


_student_frame = student_frame  # the first name, kept for callers

_REGISTRY: dict[str, Exercise] = {}
_LOADED: set[str] = set()


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (names are unique across the course)."""
    if exercise.name in _REGISTRY and _REGISTRY[exercise.name].notebook != exercise.notebook:
        raise ValueError(f"exercise {exercise.name!r} is registered twice")
    _REGISTRY[exercise.name] = exercise
    return exercise


def _load_modules(until: str | None = None) -> None:
    """Import exercise modules (each registers its exercises), stopping once ``until`` is known."""
    import cnnlab.exercises as package

    for info in pkgutil.iter_modules(package.__path__):
        if until is not None and until in _REGISTRY:
            return
        if info.name not in _LOADED:
            importlib.import_module(f"{package.__name__}.{info.name}")
            _LOADED.add(info.name)


def _load_all() -> None:
    _load_modules()


def exercises_available() -> bool:
    """False where the exercise modules are absent (inside the grading sandbox)."""
    try:
        import cnnlab.exercises as package
    except ImportError:
        return False
    return any(True for _ in pkgutil.iter_modules(package.__path__))


def get_exercise(name: str) -> Exercise:
    """Look an exercise up by name; the error lists close names.

    Modules are imported only until the name is found, so a notebook pays for its own.
    """
    _load_modules(until=name)
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no exercise named {name!r}.{hint}") from None


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise, by name."""
    _load_all()
    return dict(_REGISTRY)
