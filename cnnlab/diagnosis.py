"""Diagnoses: known wrong variants of an exercise, each with a stable tag.

When a result is wrong, the check re-runs the known *wrong* variants of the exercise
on the same input. If the student's result equals one of them, the failure message
names that mistake, e.g. ``[ceil-vs-floor] output size used ceil where PyTorch
floors``. Tags are stable so that a report can count misconceptions across a class.

Every failure message starts with its tag in brackets: ``TAG_PATTERN`` reads it back.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnlab.i18n import translate
from cnnlab.tags import (  # the generic tags; the whole vocabulary is in cnnlab.tags
    MUTATED_INPUT,
    NOT_FINITE,
    NOT_IMPLEMENTED,
    RAISED,
    TAMPERED,
    USED_BUILTIN,
    WRONG_DEVICE,
    WRONG_SHAPE,
    WRONG_TYPE,
    WRONG_VALUE,
)

# A tag is kebab-case with at least one hyphen, in brackets not glued to a name: this keeps
# indices such as ``float32[9]`` or ``weight[target]`` in a message from reading as tags.
TAG = r"[a-z0-9]+(?:-[a-z0-9]+)+"
TAG_PATTERN = re.compile(rf"(?<![\w'\"])\[({TAG})\]")

__all__ = ["MUTATED_INPUT", "NOT_FINITE", "NOT_IMPLEMENTED", "RAISED", "TAMPERED", "USED_BUILTIN",
           "WRONG_DEVICE", "WRONG_SHAPE", "WRONG_TYPE", "WRONG_VALUE", "CheckFailed", "Misconception",
           "find_misconception", "student_frame", "tags_in"]


@dataclass(frozen=True)
class Misconception:
    """A known mistake: a stable tag, a hint that names it, and how to recognise it.

    ``variant`` is a wrong implementation with the exercise's signature; the student's
    result is diagnosed with this misconception when it equals the variant's result.
    ``detect(case, got, expected)`` is an alternative test for mistakes that are not
    a simple variant. Give at least one of the two.
    """

    tag: str
    hint: str
    variant: Callable[..., Any] | None = None
    detect: Callable[[Any, Any, Any], bool] | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(TAG, self.tag):
            raise ValueError(f"misconception tag must be kebab-case with a hyphen, got {self.tag!r}")
        if self.variant is None and self.detect is None:
            raise ValueError(f"misconception {self.tag!r} needs a variant or a detect function")


class CheckFailed(AssertionError):
    """A failed check. Its message starts with ``[tag]`` and names the likely mistake.

    In a notebook it renders as a short message instead of a long traceback.
    """

    def __init__(
        self,
        exercise: str,
        tag: str,
        hint: str,
        details: str = "",
        *,
        visible: bool = True,
    ) -> None:
        self.exercise = exercise
        self.tag = tag
        self.hint = translate(hint)  # the tag stays English: reports count it across both languages
        self.details = translate(details)
        self.visible = visible
        text = f"[{tag}] {exercise}: {self.hint}"
        if self.details:
            text += "\n" + self.details
        super().__init__(text)

    def with_details(self, extra: str) -> CheckFailed:
        """A copy of this failure with one more line of details."""
        details = f"{self.details}\n{extra}" if self.details else extra
        return CheckFailed(self.exercise, self.tag, self.hint, details, visible=self.visible)

    def _render_traceback_(self) -> list[str]:
        red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
        lines = [f"{red}{bold}✗ {self.exercise}{reset}: {self.hint}  {red}[{self.tag}]{reset}"]
        lines += ["  " + line for line in self.details.splitlines()]
        if self.visible:
            lines.append("  " + translate("(a visible check: fix this first, then the hidden tests can pass)"))
        return lines


def tags_in(text: str) -> list[str]:
    """Return the diagnosis tags that appear in ``text``, in order, without repeats."""
    seen: list[str] = []
    for tag in TAG_PATTERN.findall(text):
        if tag not in seen:
            seen.append(tag)
    return seen


def find_misconception(
    case: Any,
    got: Any,
    expected: Any,
    misconceptions: tuple[Misconception, ...] | list[Misconception],
    same: Callable[[Any, Any], bool],
) -> Misconception | None:
    """Return the first misconception that explains ``got`` on ``case``, if any.

    A variant only counts when it disagrees with the correct answer on this case, so
    a diagnosis is never made from a case that cannot tell the two apart.
    """
    for m in misconceptions:
        try:
            if m.detect is not None and m.detect(case, got, expected):
                return m
            if m.variant is not None:
                wrong = case.call(m.variant)
                if not same(wrong, expected) and same(got, wrong):
                    return m
        except Exception:  # a variant that cannot run on this case says nothing
            continue
    return None


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
