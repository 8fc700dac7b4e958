"""The answer key, grader-only: one module per notebook with its exercises' references,
hidden case generators and wrong variants. Never installed for students (see ``make student-kit``).

:mod:`.base` declares :class:`~.base.Exercise` and the registry; a module here registers its
exercises when imported, and :func:`get_exercise` imports modules on demand.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from autograder.exercises.base import _REGISTRY, Exercise

_LOADED: set[str] = {"base"}


def _load_modules(until: str | None = None) -> None:
    """Import exercise modules (each registers its exercises), stopping once ``until`` is known."""
    package = sys.modules[__name__]

    for info in pkgutil.iter_modules(package.__path__):
        if until is not None and until in _REGISTRY:
            return
        if info.name not in _LOADED:
            importlib.import_module(f"{package.__name__}.{info.name}")
            _LOADED.add(info.name)


def _load_all() -> None:
    _load_modules()


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
