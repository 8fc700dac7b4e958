"""The tag vocabulary (cnnlab/tags.py) lists every tag the code can raise, and nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import COURSE

from autograder.exercises import all_exercises
from cnnlab import tags
from cnnlab.diagnosis import TAG_PATTERN

RAISERS = {"CheckFailed", "_fail", "fail", "RemoteCallError", "Misconception", "record_failure"}
TAG_FILES = ("autograder/exercises", "cnnlab/checks")  # where UPPER_CASE = "a-tag" constants are tags


def _is_tag(value: object) -> bool:
    return isinstance(value, str) and TAG_PATTERN.fullmatch(f"[{value}]") is not None


def _tags_in_code() -> dict[str, str]:
    """Tag literals given to a failure (or held by an exercise module's constant), with where."""
    found: dict[str, str] = {}
    for path in sorted((COURSE.root / "cnnlab").rglob("*.py")) + sorted((COURSE.root / "autograder").rglob("*.py")):
        rel = str(path.relative_to(COURSE.root))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in RAISERS:
                    values = list(node.args[:2])
            elif isinstance(node, ast.Assign) and rel.startswith(TAG_FILES):
                if all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
                    values = [node.value]
            elif isinstance(node, ast.Tuple) and rel.startswith(TAG_FILES) and len(node.elts) >= 2:
                second = node.elts[1]
                hint = isinstance(second, ast.Constant) and isinstance(second.value, str) and " " in second.value
                if hint or isinstance(second, ast.JoinedStr):
                    values = [node.elts[0]]  # a (tag, hint) pair
            for v in values:
                if isinstance(v, ast.Constant) and _is_tag(v.value):
                    found.setdefault(v.value, f"{rel}:{v.lineno}")
    return found


def test_every_tag_the_code_raises_is_in_the_vocabulary() -> None:
    used = _tags_in_code() | {m.tag: f"misconception of {ex.name}" for ex in all_exercises().values()
                              for m in ex.misconceptions}
    unknown = {t: where for t, where in used.items() if t not in tags.KNOWN}
    assert not unknown, f"add these to cnnlab/tags.py: {unknown}"


def test_every_listed_misconception_is_used() -> None:
    used = set(_tags_in_code()) | {m.tag for ex in all_exercises().values() for m in ex.misconceptions}
    stale = sorted(set(tags.MISCONCEPTIONS) - used)
    assert not stale, f"cnnlab/tags.py lists tags nothing raises: {stale}"


def test_kinds_partition_the_vocabulary() -> None:
    assert {tags.kind(t) for t in tags.STATE} == {"state"}
    assert tags.kind("ceil-vs-floor") == "misconception"
    assert tags.kind(tags.WORKER_CRASHED) == "grader"
    assert all(_is_tag(t) for t in tags.KNOWN)
    assert Path(tags.__file__).read_text().count('"ceil-vs-floor"') == 1
