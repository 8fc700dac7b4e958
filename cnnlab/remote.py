"""The kernel's end of the grading channel: call a notebook function on the grader's inputs.

During grading, the hidden tests run in a separate, trusted process (``autograder.evaluator``).
It writes a request file into the job's scratch directory and asks the kernel to run
:func:`serve`, which calls the notebook's function on every case and writes the results
back as plain data (tensors, numbers, strings, tuples, lists, dicts). The grader decodes the
reply with ``torch.load(weights_only=True)`` and judges it itself: nothing here decides a
grade, and this module holds no reference answer.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import torch

PLAIN_TYPES = (int, float, bool, str, bytes, type(None))


def encode(value: Any) -> Any:
    """``value`` as plain data that ``torch.load(weights_only=True)`` can read.

    Tensors are detached; named tuples become ``{"__namedtuple__": name, "fields": ..., "values": ...}``;
    modules become ``{"__module__": class name, "state": state_dict}``; anything else raises TypeError.
    """
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, PLAIN_TYPES):
        return value
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"__namedtuple__": type(value).__name__, "fields": list(value._fields),
                "values": [encode(v) for v in value]}
    if isinstance(value, tuple):
        return tuple(encode(v) for v in value)
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, torch.nn.Module):
        return encode_module(value)
    if isinstance(value, torch.Generator):
        return {"__generator__": value.get_state()}
    if isinstance(value, torch.dtype | torch.device):
        return {"__repr__": str(value)}
    raise TypeError(f"returned a value of type {type(value).__name__}, which the grader cannot read")


def encode_module(module: torch.nn.Module) -> dict[str, Any]:
    """A module's structure as plain data: class path, plain attributes, parameters, buffers, children."""
    cls = type(module)
    config = {}
    for key, value in vars(module).items():
        if key.startswith("_") and key != "_reversed_padding_repeated_twice":
            continue
        try:
            config[key] = encode(value) if _is_plain(value) else None
        except TypeError:
            continue
        if config[key] is None and value is not None:
            del config[key]
    return {
        "__module__": f"{cls.__module__}.{cls.__qualname__}",
        "config": config,
        "params": {k: (None if p is None else p.detach()) for k, p in module._parameters.items()},
        "buffers": {k: (None if b is None else b.detach()) for k, b in module._buffers.items()},
        "children": {k: encode_module(c) for k, c in module._modules.items() if c is not None},
        "training": bool(module.training),
    }


def _is_plain(value: Any) -> bool:
    if isinstance(value, PLAIN_TYPES):
        return True
    if isinstance(value, tuple | list):
        return all(_is_plain(v) for v in value)
    return False


def _error(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    notebook = [f for f in frames if f.filename.startswith("<") or "ipykernel" in f.filename]
    frame = (notebook or frames or [None])[-1]
    where = f"in your code, line {frame.lineno}: {frame.line}" if frame is not None else ""
    return {"error": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
            "message": str(exc)[:2000], "where": where[:500]}


def _call(fn: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        return _error(exc)
    try:
        encoded = encode(result)
    except TypeError as exc:
        return {"error": "TypeError", "mro": ["TypeError", "Exception"], "message": str(exc), "where": ""}
    return {"result": encoded, "after": ([_maybe(a) for a in args], {k: _maybe(v) for k, v in kwargs.items()})}


def _maybe(value: Any) -> Any:
    """An argument's state after the call (for in-place updates), or None when it cannot be sent."""
    try:
        return encode(value)
    except TypeError:
        return None


def serve(request_path: str, response_path: str) -> None:
    """Answer one request: ``{"name": str, "calls": [(args, kwargs), ...]}`` -> a list of replies."""
    request = torch.load(request_path, weights_only=False)  # written by the grader, not by a student
    namespace = _user_namespace()
    fn = namespace.get(request["name"])
    if fn is None:
        replies: list[dict[str, Any]] = [{"missing": True}] * len(request["calls"])
    else:
        replies = [_call(fn, args, kwargs) for args, kwargs in request["calls"]]
    tmp = response_path + ".tmp"
    torch.save(replies, tmp)
    os.replace(tmp, response_path)


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}
