"""Machinery for hidden tests (grader only): a fresh seed at every run, the grading device, pristine checks.

A hidden test in a solution notebook reads::

    with hidden_tests("conv2d_unfold") as t:
        for _ in range(20):
            t.check(conv2d_unfold, random_conv2d_case(t))
        t.forbid(conv2d_unfold, random_conv2d_case(t), CONVOLUTION, "convolution")

Inputs are drawn from ``t.rng`` / ``t.gen`` seeded with a fresh seed (``COURSE_SEED``
replays one) and placed on ``t.device``, the grading device. A failure message ends
with the seed, so an instructor can replay it.

When grading, this code runs in the trusted evaluator (``autograder.evaluator``), and the
functions it checks are stand-ins that call the student's kernel: plain comparisons are
queued and sent in one round trip (:meth:`HiddenRun.flush`), and :meth:`HiddenRun.forbid`
reads the student's source instead of recording the kernel's calls.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import torch

from autograder.exercises import get_exercise
from autograder.exercises.base import Exercise
from cnnlab import diagnosis as dx
from cnnlab.cases import Case, RandomInputs
from cnnlab.device import pick_device
from cnnlab.forbidden import forbid_builtin
from cnnlab.i18n import translate
from cnnlab.settings import quiet_warnings, single_thread, strict_float32

# Heads the visible checks' output in a graded notebook (autograder.execute puts it there).
VISIBLE_OUTPUT_HEADER = "visible checks, run in your kernel (advice only; the hidden tests below decide the grade):"

SEED_ENV = "COURSE_SEED"


def fresh_seed() -> int:
    """A new random seed, or ``$COURSE_SEED`` when set (to replay a failure)."""
    fixed = os.environ.get(SEED_ENV, "").strip()
    return int(fixed) if fixed else secrets.randbits(31)


class HiddenRun(RandomInputs):
    """Random inputs for one exercise's hidden tests, on the grading device."""

    def __init__(self, exercise: Exercise, seed: int, device: torch.device) -> None:
        super().__init__(seed, device)
        self.exercise = exercise
        self.cases = 0
        self._queued: list[tuple[Callable[..., Any], Case]] = []

    def check(self, fn: Callable[..., Any], case: Case) -> None:
        """Check ``fn`` on ``case`` against the exercise's reference.

        When ``fn`` lives in another process (the grader's stand-in for a notebook function),
        plain comparisons are queued and cross to the kernel in one round trip at the end.
        """
        self.cases += 1
        if hasattr(fn, "prefetch") and self.exercise.verify is None:
            self._queued.append((fn, case))
            return
        self.exercise.check_case(fn, case, visible=False)

    def flush(self) -> None:
        """Run the queued checks: one round trip per function, then judge in order."""
        queued, self._queued = self._queued, []
        for fn in dict.fromkeys(f for f, _ in queued):
            fn.prefetch([c.cloned() for f, c in queued if f is fn])
        for fn, case in queued:
            self.exercise.check_case(fn, case, visible=False)

    def expect(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Shorthand for ``check(fn, Case(args, kwargs))``."""
        self.check(fn, Case(args, kwargs))

    def forbid(self, fn: Callable[..., Any], case: Case, pattern: str, what: str) -> None:
        """Fail if ``fn`` reaches a PyTorch operator matching ``pattern`` on ``case``.

        For a function in the student's kernel, the evaluator reads the student's source instead
        (:mod:`autograder.evaluator.static_check`): the kernel's own account would not count.
        """
        if hasattr(fn, "student_sources"):
            from autograder.evaluator.static_check import forbidden_uses

            used = forbidden_uses(fn.student_sources(), fn.name, pattern)
            if used:
                raise dx.CheckFailed(
                    self.exercise.name, dx.USED_BUILTIN,
                    f"calls PyTorch's own {what}; this exercise asks you to build it yourself",
                    f"your code names: {', '.join(used)} (read from your source by the grader)", visible=False,
                )
            return
        c = case.cloned()
        forbid_builtin(self.exercise.name, fn, c.args, c.kwargs, pattern, what, visible=False)


@contextlib.contextmanager
def hidden_tests(exercise: str, *, seed: int | None = None,
                 device: torch.device | str | None = None) -> Iterator[HiddenRun]:
    """Run one exercise's hidden tests; failures name the seed that replays them."""
    run = HiddenRun(get_exercise(exercise), fresh_seed() if seed is None else seed,
                    torch.device(device) if device is not None else pick_device())
    try:
        with quiet_warnings(exercise), strict_float32(), single_thread():
            yield run
            run.flush()
    except dx.CheckFailed as failure:
        raise failure.with_details(
            f"hidden test on {run.device}, seed {run.seed} ({SEED_ENV}={run.seed} replays it)"
        ) from None
    print(translate(f"✓ {exercise}: hidden tests passed ({run.cases} random cases on {run.device.type}, "
                    f"seed {run.seed})."))
