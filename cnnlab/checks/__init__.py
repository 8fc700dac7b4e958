"""The visible side of every exercise, one module per notebook (:class:`~.spec.VisibleSpec`).

Modules are imported on demand by :func:`get_spec`; adding one declares its exercises.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from cnnlab.checks.spec import _SPECS, VisibleSpec

_INFRA = {"spec", "calling", "plain"}
_LOADED: set[str] = set()


def _load(until: str | None = None) -> None:
    package = sys.modules[__name__]
    for info in pkgutil.iter_modules(package.__path__):
        if until is not None and until in _SPECS:
            return
        if info.name not in _LOADED and info.name not in _INFRA:
            importlib.import_module(f"{package.__name__}.{info.name}")
            _LOADED.add(info.name)


def get_spec(name: str) -> VisibleSpec:
    """The visible spec of exercise ``name``; the error lists close names."""
    _load(until=name)
    try:
        return _SPECS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, _SPECS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no exercise named {name!r}.{hint}") from None


def all_specs() -> dict[str, VisibleSpec]:
    """Every declared visible spec, by name."""
    _load()
    return dict(_SPECS)
