"""Detect a notebook environment that was tampered with.

Checked before every visible and hidden check:

- the comparison helpers (``torch.allclose``, ``torch.equal``, ``torch.testing.assert_close``...)
  are still the functions captured when :mod:`cnnlab` was imported;
- IPython's input transformers and AST transformers are the ones present at that time,
  and its cell-running methods were not replaced;
- a few builtins that checks depend on were not replaced.

A hostile submission can still defeat an in-process check; the grader also checks the
kernel from outside (see ``autograder``). This module catches the common attacks and
accidents and fails the check with the ``[tampered-environment]`` tag.
"""

from __future__ import annotations

import builtins
from typing import Any

from cnnlab import diagnosis as dx
from cnnlab import pristine

_BUILTIN_NAMES = ("abs", "all", "any", "compile", "eval", "exec", "float", "getattr", "int",
                  "isinstance", "len", "max", "min", "print", "round", "sum", "AssertionError")
_BUILTINS = {name: getattr(builtins, name) for name in _BUILTIN_NAMES}
_SHELL_METHODS = ("run_cell", "run_cell_async", "transform_cell", "run_ast_nodes", "run_code")


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def _shell_state(shell: Any) -> dict[str, tuple]:
    return {
        "input_transformers_cleanup": tuple(getattr(shell, "input_transformers_cleanup", ())),
        "input_transformers_post": tuple(getattr(shell, "input_transformers_post", ())),
        "ast_transformers": tuple(getattr(shell, "ast_transformers", ())),
    }


_SHELL = _shell()
_SHELL_BASELINE = _shell_state(_SHELL) if _SHELL is not None else {}
_SHELL_CLASS_METHODS = (
    {name: getattr(type(_SHELL), name, None) for name in _SHELL_METHODS} if _SHELL is not None else {}
)


def tampering() -> list[str]:
    """Describe every detected change to the checking environment (empty when clean)."""
    problems: list[str] = []
    current = pristine.current_comparators()
    for name, original in pristine.COMPARATORS.items():
        if current[name] is not original:
            problems.append(f"{name} was replaced")
    for name, original in _BUILTINS.items():
        if getattr(builtins, name, None) is not original:
            problems.append(f"builtin {name} was replaced")
    shell = _shell()
    if _SHELL is not None:
        if shell is not _SHELL:
            problems.append("the IPython shell was replaced")
        else:
            state = _shell_state(shell)
            for key, baseline in _SHELL_BASELINE.items():
                if state[key] != baseline:
                    problems.append(f"IPython {key} was modified")
            for name, method in _SHELL_CLASS_METHODS.items():
                if name in vars(shell) or getattr(type(shell), name, None) is not method:
                    problems.append(f"IPython shell method {name} was replaced")
    return problems


def require_pristine(exercise: str, *, visible: bool = True) -> None:
    """Raise ``CheckFailed`` tagged ``tampered-environment`` if anything was changed."""
    problems = tampering()
    if problems:
        raise dx.CheckFailed(
            exercise, dx.TAMPERED,
            "the notebook's checking environment was modified, so no check can be trusted",
            "; ".join(problems) + "\nRestart the kernel and run the notebook from the top.",
            visible=visible,
        )
