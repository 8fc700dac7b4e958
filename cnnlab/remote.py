"""The kernel's end of the grading channel: call a notebook function on the grader's inputs.

During grading, the hidden tests run in a separate, trusted process (``autograder.evaluator``).
It writes a request file into the job's scratch directory and asks the kernel to run
:func:`serve`, which calls the notebook's function on every case and writes the results
back as plain data (tensors, numbers, strings, tuples, lists, dicts). The grader decodes the
reply with ``torch.load(weights_only=True)`` and judges it itself: nothing here decides a
grade, and this module holds no reference answer.

Requests: ``{"name": str, "calls": [(args, kwargs), ...], "op": "call" | "value" | "forward"}``.

- ``call``: ``name(*args, **kwargs)`` for each call; the reply has the result and the
  arguments' state afterwards (in-place updates, a model's counters).
- ``value``: the value of ``name`` itself (e.g. the trained ``model``).
- ``forward``: run a module that an earlier reply handed out (by handle) on new inputs,
  after loading the grader's copy of its state; forward hooks are tapped by name.
"""

from __future__ import annotations

import os
import traceback
import warnings
from typing import Any

import torch

PLAIN_TYPES = (int, float, bool, str, bytes, type(None))
# Modules of the student's own classes that the grader may run again, by handle.
HANDLES: dict[int, torch.nn.Module] = {}


def encode(value: Any, *, handles: bool = False) -> Any:
    """``value`` as plain data that ``torch.load(weights_only=True)`` can read.

    Tensors are detached (``{"__grad__": t}`` when they still require grad); named tuples become
    ``{"__namedtuple__": ...}``; modules :func:`encode_module`; anything else raises TypeError.
    """
    if isinstance(value, torch.Tensor):
        return {"__grad__": value.detach()} if value.requires_grad else value.detach()
    if isinstance(value, bool):  # exact builtins: subclasses (numpy's float64) would not load safely
        return bool(value)
    for kind in (int, float, str, bytes):
        if isinstance(value, kind):
            return kind(value)
    if value is None:
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return encode(value.item())  # a numpy scalar, e.g. np.int64(3)
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"__namedtuple__": type(value).__name__, "fields": list(value._fields),
                "values": [encode(v, handles=handles) for v in value]}
    if isinstance(value, tuple):
        return tuple(encode(v, handles=handles) for v in value)
    if isinstance(value, list):
        return [encode(v, handles=handles) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v, handles=handles) for k, v in value.items()}
    if isinstance(value, torch.nn.Module):
        return encode_module(value, handles=handles)
    if isinstance(value, torch.dtype | torch.device):
        return {"__repr__": str(value)}
    raise TypeError(f"returned a value of type {type(value).__name__}, which the grader cannot read")


def encode_module(module: torch.nn.Module, *, handles: bool = False) -> dict[str, Any]:
    """A module's structure as plain data: class path, plain attributes, parameters, buffers, children."""
    cls = type(module)
    config = {k: encode(v) for k, v in vars(module).items()
              if (not k.startswith("_") or k == "_reversed_padding_repeated_twice") and _is_plain(v)}
    data = {
        "__module__": f"{cls.__module__}.{cls.__qualname__}",
        "config": config,
        "params": {k: (None if p is None else p.detach()) for k, p in module._parameters.items()},
        "buffers": {k: (None if b is None else b.detach()) for k, b in module._buffers.items()},
        "children": {k: encode_module(c) for k, c in module._modules.items() if c is not None},
        "training": bool(module.training),
    }
    if handles:
        HANDLES[id(module)] = module
        data["handle"] = id(module)
    return data


def encode_state(value: Any) -> Any:
    """An argument's state after a call: as :func:`encode`, or the plain attributes of another object."""
    try:
        return encode(value)
    except TypeError:
        attrs = getattr(value, "__dict__", None)
        if not isinstance(attrs, dict):
            return None
        return {"__object__": {k: encode(v) for k, v in attrs.items() if not k.startswith("_") and _is_plain(v)}}


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


def _reply(result: Any, args: tuple | list, kwargs: dict) -> dict[str, Any]:
    try:
        encoded = encode(result, handles=True)
    except TypeError as exc:
        return {"error": "TypeError", "mro": ["TypeError", "Exception"], "message": str(exc), "where": ""}
    return {"result": encoded, "after": ([encode_state(a) for a in args],
                                         {k: encode_state(v) for k, v in kwargs.items()})}


def _call(fn: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        return _error(exc)
    return _reply(result, args, kwargs)


def _forward(handle: int, sync: dict, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Run module ``handle`` with the grader's state, mode and grad setting; tap the named submodules."""
    module = HANDLES.get(handle)
    if module is None:
        return {"error": "LookupError", "mro": ["LookupError", "Exception"], "message": "unknown module", "where": ""}
    taps: list[tuple[str, Any, Any]] = []
    hooks = []
    try:
        with torch.no_grad():
            module.load_state_dict(sync.get("state", {}), strict=False)
        device = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
        if device is not None:
            module.to(device)
        for name, sub in module.named_modules():
            sub.training = bool(sync.get("training", {}).get(name, sub.training))
            if name in sync.get("taps", ()):
                hooks.append(sub.register_forward_hook(_tap(name, taps)))
        with torch.set_grad_enabled(bool(sync.get("grad", False))):
            result = module(*args, **kwargs)
    except Exception as exc:
        return _error(exc)
    finally:
        for hook in hooks:
            hook.remove()
    reply = _reply(result, [module], {})
    reply["taps"] = taps
    return reply


def _tap(name: str, taps: list) -> Any:
    def hook(module: torch.nn.Module, inputs: tuple, output: Any) -> None:
        first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        taps.append((name, None if first is None else first.detach().clone(),
                     output.detach().clone() if isinstance(output, torch.Tensor) else None))

    return hook


def serve(request_path: str, response_path: str) -> None:
    """Answer one request file (see the module docstring) with one reply per call."""
    request = torch.load(request_path, weights_only=False)  # written by the grader, not by a student
    op, name, calls = request.get("op", "call"), request["name"], request["calls"]
    namespace = _user_namespace()
    with warnings.catch_warnings():  # nobody reads this request's output: keep it quiet
        warnings.simplefilter("ignore")
        replies = _answer(op, name, calls, namespace)
    tmp = response_path + ".tmp"
    torch.save(replies, tmp)
    os.replace(tmp, response_path)


def _answer(op: str, name: str, calls: list, namespace: dict[str, Any]) -> list[dict[str, Any]]:
    if op == "forward":
        replies = [_forward(args[0], args[1], tuple(args[2:]), kwargs) for args, kwargs in calls]
    elif name not in namespace:
        replies = [{"missing": True}] * len(calls)
    elif op == "value":
        replies = [_reply(namespace[name], (), {}) for _ in calls]
    else:
        replies = [_call(namespace[name], args, kwargs) for args, kwargs in calls]
    return replies


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}
