"""Stand-ins for the notebook's functions: each call is a round trip to the kernel, as plain data.

The evaluator hands :class:`RemoteFunction` objects to the hidden tests in place of the
student's functions. A call sends the arguments to the kernel (``cnnlab.remote.serve``),
gets back the result and the arguments' state after the call (so in-place updates such as
running statistics are visible), and raises the kernel's exception as a builtin of the same
family. Cases queued with :meth:`RemoteFunction.prefetch` cross in one round trip.
"""

from __future__ import annotations

import builtins
import collections
from collections.abc import Callable, Sequence
from typing import Any

import torch

from cnnlab import diagnosis as dx
from cnnlab.cases import Case

# ask(name, calls, op) -> one reply dict per call; supplied by the executor that owns the kernel.
Ask = Callable[..., list[dict]]


class RemoteCallError(Exception):
    """The kernel could not answer at all (it died, hung, or sent an unreadable reply)."""

    def __init__(self, tag: str, message: str) -> None:
        super().__init__(message)
        self.tag = tag


class RemoteFunction:
    """The notebook's ``name``, called in the kernel on the evaluator's inputs."""

    remote = True

    def __init__(self, name: str, ask: Ask, sources: list[str]) -> None:
        self.__name__ = name
        self.name = name
        self._ask = ask
        self._sources = sources
        self._queued: collections.deque[dict] = collections.deque()

    def __repr__(self) -> str:
        return f"<notebook function {self.name} (in the student's kernel)>"

    def student_sources(self) -> list[str]:
        """The source of the cells the student wrote, run so far, in order."""
        return self._sources

    def prefetch(self, cases: Sequence[Case]) -> None:
        """Call the kernel once for all ``cases``; later calls consume the replies in order."""
        if not cases:
            return
        calls = [(tuple(c.args), dict(c.kwargs)) for c in cases]
        self._queued.extend(self._ask(self.name, calls))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reply = self._queued.popleft() if self._queued else self._ask(self.name, [(args, kwargs)])[0]
        return self._apply(reply, args, kwargs)

    def fetch(self) -> Any:
        """The value bound to this name in the kernel (a module comes back as a :class:`RemoteModule`)."""
        return self._apply(self._ask(self.name, [((), {})], "value")[0], (), {})

    def _apply(self, reply: dict, args: tuple, kwargs: dict) -> Any:
        if reply.get("missing"):
            raise dx.CheckFailed(self.name, "not-defined", f"there is no `{self.name}` in this notebook",
                                 "define it in its answer cell and run that cell before the test cell")
        if "error" in reply:
            raise _rebuild_error(reply)
        after_args, after_kwargs = reply.get("after", ([], {}))
        for arg, after in zip(args, after_args, strict=False):
            _update(arg, after)
        for key, after in after_kwargs.items():
            _update(kwargs.get(key), after)
        return decode(reply.get("result"), self._ask)


def _rebuild_error(reply: dict) -> BaseException:
    """The kernel's exception as the closest builtin class (ValueError, NotImplementedError, ...)."""
    cls: type[BaseException] = Exception
    for name in reply.get("mro", []):
        candidate = getattr(builtins, str(name), None)
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            cls = candidate
            break
    error = str(reply.get("error", "Exception"))
    message = str(reply.get("message", ""))
    try:
        exc = cls(message) if error == cls.__name__ else cls(f"({error}) {message}")
    except Exception:  # noqa: BLE001 - an exception class with a special constructor
        exc = Exception(f"({error}) {message}")
    exc.remote_where = str(reply.get("where", ""))  # type: ignore[attr-defined]
    return exc


REBUILDABLE = ("torch.nn.modules.", "cnnlab.")


class RebuiltModule(torch.nn.Module):
    """A module of the student's own class, rebuilt from its parts: children run in order."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.student_class = name

    def forward(self, x: Any) -> Any:
        for child in self.children():
            x = child(x)
        return x

    def extra_repr(self) -> str:
        return f"rebuilt from the student's {self.student_class}"


class RemoteModule(RebuiltModule):
    """A module of the student's own class: its parts are here, its ``forward`` runs in the kernel.

    Each call sends this copy's state, train/eval flags and grad mode along, so what the
    grader changed here (``.eval()``, ``load_state_dict``, ``.to(device)``) holds there too;
    forward hooks registered here see the kernel's tapped inputs and outputs.
    """

    def __init__(self, name: str, handle: int, ask: Ask) -> None:
        super().__init__(name)
        self.remote_handle = handle
        object.__setattr__(self, "_remote_ask", ask)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        sync = {
            "state": {k: v.detach() for k, v in self.state_dict().items()},
            "training": {name: m.training for name, m in self.named_modules()},
            "taps": [name for name, m in self.named_modules() if m._forward_hooks and m is not self],
            "grad": torch.is_grad_enabled(),
        }
        reply = self._remote_ask("", [((self.remote_handle, sync, *args), kwargs)], "forward")[0]
        if "error" in reply:
            raise _rebuild_error(reply)
        for name, inputs, output in reply.get("taps", []):
            try:
                sub = self.get_submodule(str(name))
            except AttributeError:
                continue
            for hook in list(sub._forward_hooks.values()):
                hook(sub, (inputs,), output)
        after = reply.get("after", ([], {}))[0]
        if after and isinstance(after[0], dict) and "children" in after[0]:
            with torch.no_grad():
                _update_module(self, after[0], state=False)
        return decode(reply.get("result"), self._remote_ask)


def decode_module(data: dict, ask: Ask | None = None) -> torch.nn.Module:
    """Rebuild a module sent by the kernel: torch.nn and cnnlab classes as themselves, others as a container.

    Only classes under ``torch.nn.modules`` and ``cnnlab`` are instantiated, without calling
    their ``__init__``; nothing else of the kernel's choosing is imported or run.
    """
    path = str(data.get("__module__", ""))
    module_name, _, qualname = path.rpartition(".")
    cls = None
    if path.startswith(REBUILDABLE) and "." not in qualname:
        try:
            import importlib

            candidate = getattr(importlib.import_module(module_name), qualname, None)
            cls = candidate if isinstance(candidate, type) and issubclass(candidate, torch.nn.Module) else None
        except Exception:  # noqa: BLE001 - unknown module: rebuild as a container
            cls = None
    if cls is None and ask is not None and isinstance(data.get("handle"), int):
        module: torch.nn.Module = RemoteModule(qualname or "module", data["handle"], ask)
    elif cls is None:
        module = RebuiltModule(qualname or "module")
    else:
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)
    for key, value in dict(data.get("config", {})).items():
        if key not in ("training",) and not key.startswith("__"):
            object.__setattr__(module, str(key), decode(value))
    for key, value in dict(data.get("params", {})).items():
        module.register_parameter(str(key), None if value is None else torch.nn.Parameter(value, requires_grad=True))
    for key, value in dict(data.get("buffers", {})).items():
        module.register_buffer(str(key), value)
    for key, child in dict(data.get("children", {})).items():
        if isinstance(child, dict):
            module.add_module(str(key), decode_module(child))
    module.training = bool(data.get("training", True))
    return module


def decode(value: Any, ask: Ask | None = None) -> Any:
    """Turn the kernel's plain-data markers back into named tuples and modules; everything else as it came."""
    if isinstance(value, dict):
        if "__module__" in value and "children" in value:
            return decode_module(value, ask)
        if set(value) == {"__grad__"} and isinstance(value["__grad__"], torch.Tensor):
            tensor = value["__grad__"]
            return tensor.requires_grad_(True) if tensor.is_floating_point() else tensor
        if "__namedtuple__" in value and set(value) == {"__namedtuple__", "fields", "values"}:
            fields = [str(f) for f in value["fields"]]
            try:
                cls = collections.namedtuple(str(value["__namedtuple__"]), fields)  # noqa: PYI024
                return cls(*[decode(v) for v in value["values"]])
            except (TypeError, ValueError):
                return tuple(decode(v) for v in value["values"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(decode(v) for v in value)
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _update_module(target: torch.nn.Module, after: dict, *, state: bool = True) -> None:
    """Copy tensors, plain counters (e.g. a probe's calls) and the train/eval flag back into ``target``.

    With ``state=False`` only buffers are copied (a forward pass may update running statistics).
    """
    groups = (("params", target._parameters), ("buffers", target._buffers)) if state else (
        ("buffers", target._buffers),)
    for group, own in groups:
        for key, value in dict(after.get(group, {})).items():
            mine = own.get(key)
            if isinstance(mine, torch.Tensor) and isinstance(value, torch.Tensor) and value.shape == mine.shape:
                mine.copy_(value.to(mine.device))
    _update_plain(target.__dict__, dict(after.get("config", {})))
    target.training = bool(after.get("training", target.training))
    for key, child in dict(after.get("children", {})).items():
        mine = target._modules.get(key)
        if mine is not None and isinstance(child, dict):
            _update_module(mine, child, state=state)


def _update_plain(attributes: dict, values: dict) -> None:
    """Copy numbers and lists the kernel reported into attributes that already hold that kind of value."""
    for key, value in values.items():
        mine = attributes.get(key)
        if isinstance(mine, bool) or isinstance(value, bool):
            continue
        if (isinstance(mine, int | float) and isinstance(value, int | float)) or (
                isinstance(mine, list) and isinstance(value, list | tuple)):
            attributes[key] = list(value) if isinstance(mine, list) else value


@torch.no_grad()
def _update(target: Any, after: Any) -> None:
    """Copy the kernel's post-call state of one argument into the evaluator's copy of it."""
    if after is None or target is None:
        return
    if isinstance(target, torch.Tensor) and isinstance(after, torch.Tensor):
        if after.shape == target.shape:
            target.copy_(after.to(target.device))
    elif isinstance(target, torch.nn.Module) and isinstance(after, dict) and "children" in after:
        _update_module(target, after)
    elif isinstance(after, dict) and set(after) == {"__object__"} and isinstance(after["__object__"], dict):
        if isinstance(getattr(target, "__dict__", None), dict):
            _update_plain(target.__dict__, after["__object__"])
    elif isinstance(target, list | tuple) and isinstance(after, list | tuple):
        for t, a in zip(target, after, strict=False):
            _update(t, a)
    elif isinstance(target, dict) and isinstance(after, dict):
        for key, value in after.items():
            _update(target.get(key), value)
