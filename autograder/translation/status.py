"""``python -m autograder.translation status``: every English string without a current translation."""

from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.translation import catalogs, library


def missing(root: Path) -> dict[str, list[str]]:
    """``{catalog: [problem, ...]}`` for every catalog with a missing, fuzzy or broken entry."""
    found: dict[str, list[str]] = {}
    course = Course(root)
    for name in course.assignments():
        nb = nbformat.read(course.source_notebook(name), as_version=4)
        problems = catalogs.problems(nb, catalogs.load(catalogs.catalog_path(root, name)))
        if problems:
            found[f"i18n/{catalogs.LOCALE}/{name}.po"] = problems
    problems = library.problems(root)
    if problems:
        found[library.po_path(root).relative_to(root).as_posix()] = problems
    return found


def report(root: Path) -> int:
    found = missing(root)
    for path, problems in found.items():
        print(f"{path}: {len(problems)} strings need a translation")
        for line in problems[:10]:
            print(f"  {line}")
        if len(problems) > 10:
            print(f"  ... and {len(problems) - 10} more")
    if not found:
        print("every string has a current Chinese translation")
    return 1 if found else 0
