"""Record the visible checks' expected results at release: the only trace of the answer key
that reaches the student's library (``cnnlab/expected/<notebook>.pt``).

For every visible case it stores the reference's observation and the observations of the
wrong variants that differ from it, so :func:`cnnlab.check` can name a mistake without
holding the code that makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.exercises import all_exercises
from autograder.exercises.base import Exercise
from cnnlab.cases import Case
from cnnlab.checks.calling import project
from cnnlab.checks.plain import digest, plain
from cnnlab.checks.spec import VisibleSpec
from cnnlab.comparing import difference
from cnnlab.expected import EXPECTED_DIR, save_expected
from cnnlab.settings import single_thread, strict_float32


def _observe(spec: VisibleSpec, fn: Callable[..., Any], case: Case) -> Any:
    value = case.call(fn) if spec.observe is None else spec.observe(fn, case.cloned())
    return plain(value, cpu=True)


def record_exercise(exercise: Exercise) -> dict[str, Any]:
    """The release-time record of one exercise's visible cases."""
    spec = exercise.spec
    if spec is None:
        raise ValueError(f"exercise {exercise.name} has no visible spec (declare it in cnnlab.checks)")
    cases = list(spec.cases())
    results: list[dict[str, Any]] = []
    with single_thread(), strict_float32():
        for case in cases:
            if case.raises is not None:
                results.append({"raises": case.raises.__name__})
                continue
            expected = None if exercise.reference is None else _observe(spec, exercise.reference, case)
            variants: list[dict[str, Any]] = []
            for m in exercise.misconceptions:
                # a detector may name variants it compares on one part of the result (``recordable``)
                for fn, part in [(m.variant, None)] * (m.variant is not None) + getattr(m.detect, "recordable", []):
                    try:
                        value = project(_observe(spec, fn, case), part)
                    except Exception:  # a variant that cannot run on this case says nothing
                        continue
                    if expected is not None and difference(value, project(expected, part), spec.tolerance) is None:
                        continue
                    variants.append({"tag": m.tag, "hint": m.hint, "value": value, "part": part})
            results.append({"expected": expected, "variants": variants})
    return {"digest": digest([(c.args, c.kwargs) for c in cases]), "results": results}


def record_notebook(notebook: str) -> dict[str, Any]:
    """Records of every exercise of ``notebook`` that has a visible spec, by name."""
    return {name: record_exercise(ex) for name, ex in sorted(all_exercises().items())
            if ex.notebook == notebook and ex.spec is not None}


def write_expected(notebooks: list[str], directory: Path = EXPECTED_DIR) -> list[Path]:
    """Write ``<directory>/<notebook>.pt`` for each notebook that has exercises."""
    written = []
    for notebook in notebooks:
        records = record_notebook(notebook)
        if records:
            written.append(save_expected(notebook, records, directory))
    return written
