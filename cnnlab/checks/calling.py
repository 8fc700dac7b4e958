"""Calling a student's function on a case, and judging the result: shared by the visible checks
and the grader's hidden tests, so a mistake reads the same in both places."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cnnlab import diagnosis as dx
from cnnlab.cases import Case
from cnnlab.comparing import Tolerance, describe_value, difference, unchanged
from cnnlab.i18n import translate

NOT_IMPLEMENTED_HINT = "not implemented yet: replace `raise NotImplementedError()` with your code"

GENERIC_HINTS = {
    dx.WRONG_TYPE: "returned the wrong type",
    dx.WRONG_SHAPE: "returned the wrong shape",
    dx.WRONG_DEVICE: "returned a tensor on the wrong device",
    dx.NOT_FINITE: "produced nan or inf where PyTorch does not",
    dx.WRONG_VALUE: "wrong values",
}


def where(name: str, case: Case) -> str:
    """``on f(args)  (what the case shows)``: the first detail line of a failed check."""
    return translate(f"on {case.describe(name)}") + (f"  ({translate(case.note)})" if case.note else "")


def guarded(name: str, case: Case, run: Callable[[], Any], *, visible: bool) -> Any:
    """Run ``run()``, turning the student's exceptions into tagged failures."""
    try:
        return run()
    except NotImplementedError:
        raise dx.CheckFailed(name, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except dx.CheckFailed:
        raise
    except Exception as exc:
        raise dx.CheckFailed(
            name, dx.RAISED, f"raised {type(exc).__name__}: {exc}",
            f"on {case.describe(name)}\n{dx.student_frame(exc)}", visible=visible,
        ) from None


def call_student(name: str, fn: Callable[..., Any], case: Case, *, pure: bool = True,
                 visible: bool = True) -> Any:
    """Run the student's function on a copy of the case; with ``pure``, it must not change its inputs."""
    c = case.cloned()
    got = guarded(name, case, lambda: fn(*c.args, **c.kwargs), visible=visible)
    if pure and not (unchanged(c.args, case.args) and unchanged(c.kwargs, case.kwargs)):
        raise dx.CheckFailed(
            name, dx.MUTATED_INPUT, "changed its input in place; work on a copy (or out-of-place ops)",
            f"on {case.describe(name)}", visible=visible,
        )
    return got


def expect_raises(name: str, fn: Callable[..., Any], case: Case, *, visible: bool = True) -> None:
    """The call must raise ``case.raises``."""
    assert case.raises is not None
    try:
        got = case.call(fn)
    except NotImplementedError:
        raise dx.CheckFailed(name, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except case.raises:
        return
    except Exception as exc:
        raise dx.CheckFailed(
            name, "wrong-error", f"should raise {case.raises.__name__} but raised {type(exc).__name__}: {exc}",
            where(name, case), visible=visible,
        ) from None
    raise dx.CheckFailed(
        name, "missing-error", f"should raise {case.raises.__name__} for invalid input",
        f"on {case.describe(name)} it returned {describe_value(got)}"
        + (f"  ({translate(case.note)})" if case.note else ""),
        visible=visible,
    )


def mismatch(name: str, case: Case, got: Any, expected: Any, tol: Tolerance,
             diagnose: Callable[[], tuple[str, str] | None], *, visible: bool = True) -> None:
    """Compare ``got`` with ``expected``; on a mismatch raise, named by ``diagnose()`` when it knows the mistake."""
    diff = difference(got, expected, tol)
    if diff is None:
        return
    tag, explanation = diff
    hint = GENERIC_HINTS.get(tag, "wrong result")
    found = diagnose()
    if found is not None:
        tag, hint = found
    raise dx.CheckFailed(name, tag, hint, f"{where(name, case)}\n{explanation}", visible=visible)


def project(result: Any, part: str | None) -> Any:
    """One part of a result: ``"values"`` is the first item of a ``(values, indices)`` pair."""
    if part == "values" and isinstance(result, (tuple, list)) and len(result) == 2:
        return result[0]
    return result


def recorded_variant(got: Any, variants: Sequence[dict], tol: Tolerance) -> tuple[str, str] | None:
    """The first recorded wrong variant whose result ``got`` equals (on the recorded part): ``(tag, hint)``."""
    for v in variants:
        if difference(project(got, v.get("part")), v["value"], tol) is None:
            return v["tag"], v["hint"]
    return None
