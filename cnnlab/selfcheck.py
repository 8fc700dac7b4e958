"""``check("name")``: run one exercise's visible checks and say plainly what they mean.

Visible checks are a few fixed examples whose expected results were recorded when the
course was released (:mod:`cnnlab.expected`): the student's library holds no reference
solution. Passing them does not mean full marks: the grade comes from hidden tests with
random inputs, run by the grader outside the notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnlab import diagnosis as dx
from cnnlab.cases import Case
from cnnlab.checks import get_spec
from cnnlab.checks.calling import call_student, expect_raises, guarded, mismatch, recorded_variant
from cnnlab.checks.plain import digest
from cnnlab.checks.spec import VisibleSpec
from cnnlab.expected import load_expected
from cnnlab.i18n import translate
from cnnlab.integrity import require_pristine
from cnnlab.settings import quiet_warnings, single_thread

GRADE_NOTE = "Hidden tests with random inputs decide the grade; these visible checks are a first filter."

_MISSING = object()


def _find_in_notebook(name: str) -> Any:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    namespace = shell.user_ns if shell is not None else __import__("__main__").__dict__
    return namespace.get(name, _MISSING)


def observe(spec: VisibleSpec, fn: Callable[..., Any], case: Case, *, visible: bool = True) -> Any:
    """What ``fn`` produced on ``case``: its return value, or the spec's own observation."""
    if spec.observe is None:
        return call_student(spec.name, fn, case, pure=spec.pure, visible=visible)
    return guarded(spec.name, case, lambda: spec.observe(fn, case.cloned()), visible=visible)


def judge_recorded(spec: VisibleSpec, fn: Callable[..., Any], case: Case, record: dict) -> None:
    """One visible case against its release-time record; raises ``CheckFailed`` when wrong."""
    if case.raises is not None:
        expect_raises(spec.name, fn, case)
        return
    got = observe(spec, fn, case)
    if spec.judge is not None:
        spec.judge(spec, case, got, record)
        return
    mismatch(spec.name, case, got, record["expected"], spec.tolerance,
             lambda: recorded_variant(got, record.get("variants", ()), spec.tolerance))


def check(name: str, fn: Callable[..., Any] | None = None, *, quiet: bool = False) -> None:
    """Run the visible checks of exercise ``name`` on ``fn`` (default: the notebook's ``name``).

    Prints a one-line summary when all pass. Raises ``CheckFailed`` on the first failing
    check, with a message that names the likely mistake and a tag such as ``[ceil-vs-floor]``.
    """
    spec = get_spec(name)
    require_pristine(name)
    if fn is None:
        fn = _find_in_notebook(name)
        if fn is _MISSING:
            raise dx.CheckFailed(
                name, "not-defined", f"there is no `{name}` in this notebook yet",
                "Run the cell that defines it (Shift+Enter), then run this check again.",
            )
    recorded = load_expected(spec.notebook).get(name)
    cases = list(spec.cases())
    if recorded is None or recorded["digest"] != digest([(c.args, c.kwargs) for c in cases]):
        raise dx.CheckFailed(
            name, "visible-data-stale", "these visible checks' inputs differ from the ones recorded at release",
            "Reinstall the course's environment (torch 2.14.1) from the student kit; instructors: `make release`.",
        )
    with quiet_warnings(name), single_thread():
        for i, (case, record) in enumerate(zip(cases, recorded["results"], strict=True)):
            try:
                judge_recorded(spec, fn, case, record)
            except dx.CheckFailed as failure:
                passed = f"{i} of {len(cases)} visible checks passed before this one."
                raise failure.with_details(passed) from None
    require_pristine(name)
    if not quiet:
        print(translate(f"✓ {name}: all {len(cases)} visible checks passed."))
        print("  " + translate(GRADE_NOTE))
