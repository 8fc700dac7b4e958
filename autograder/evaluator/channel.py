"""The one narrow channel between the evaluator and the student's kernel.

A request is a file in the job's scratch directory (the kernel's working directory): the
function's name and the calls' arguments. The evaluator asks the kernel, out of band
(a silent execute request, never a notebook cell), to run ``cnnlab.remote.serve`` on it,
waits for the reply with a time limit, and reads the answer file with
``torch.load(weights_only=True)`` after checking its size. Nothing else the kernel says
is read: its outputs, its reply's content and the file's timing count for nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from jupyter_client.utils import ensure_async
from nbclient.exceptions import DeadKernelError

from autograder.evaluator.remote import RemoteCallError

MAX_REPLY_BYTES = 512 * 2**20
SERVE = "__import__('cnnlab.remote', fromlist=['serve']).serve({request!r}, {response!r})"


class KernelChannel:
    """Calls into the kernel that ``client`` (an nbclient ``NotebookClient``) is running."""

    def __init__(self, client: Any, workdir: str) -> None:
        self.client = client
        self.workdir = Path(workdir)
        self._numbers = itertools.count(1)
        self.died = ""  # what the kernel was running when it died during a call, if it did

    async def ask(self, name: str, calls: list[tuple[tuple, dict]], op: str = "call") -> list[dict]:
        """Call notebook function ``name`` once per ``(args, kwargs)``; one reply dict per call.

        ``op`` is ``call``, ``value`` (the name's value) or ``forward`` (a module handed out before).
        """
        base = self.workdir / f".grader-call-{os.getpid()}-{next(self._numbers)}"
        request, response = Path(f"{base}.in.pt"), Path(f"{base}.out.pt")
        response.unlink(missing_ok=True)
        try:
            torch.save({"name": name, "calls": calls, "op": op}, request)
            await self._run_in_kernel(SERVE.format(request=str(request), response=str(response)), name)
            return _read_replies(response, len(calls))
        except (OSError, RuntimeError, RemoteCallError) as exc:
            if self._scratch_full():
                raise RemoteCallError("scratch-full", f"the notebook filled its scratch space, so the grader could "
                                                      f"not pass `{name}` its inputs: delete the files you write") \
                    from None
            if isinstance(exc, RemoteCallError):
                raise
            raise RemoteCallError("no-reply", f"the grader could not hand `{name}` its inputs: "
                                              f"{type(exc).__name__}") from None
        finally:
            request.unlink(missing_ok=True)
            response.unlink(missing_ok=True)
            Path(f"{response}.tmp").unlink(missing_ok=True)

    async def _run_in_kernel(self, code: str, name: str) -> None:
        client = self.client
        msg_id = client.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        limit = client.timeout or 300
        try:
            await asyncio.wait_for(client.async_wait_for_reply(msg_id), limit)
        except TimeoutError:
            try:
                await ensure_async(client.km.interrupt_kernel())
                await asyncio.wait_for(client.async_wait_for_reply(msg_id), getattr(client, "interrupt_grace", 10))
            except Exception:  # noqa: BLE001 - still busy: the next cell's own limit handles it
                pass
            raise RemoteCallError("call-timeout",
                                  f"`{name}` ran past the {limit} s limit on the grader's inputs") from None
        except DeadKernelError:
            self.died = name
            raise RemoteCallError("kernel-died", f"the kernel died while running `{name}` on the grader's inputs") \
                from None

    def _scratch_full(self) -> bool:
        try:
            return shutil.disk_usage(self.workdir).free < 4 * 2**20
        except OSError:
            return False

    def blocking(self, loop: asyncio.AbstractEventLoop):  # noqa: ANN201
        """``ask`` for a worker thread: runs the coroutine on ``loop`` and waits for it."""

        def ask(name: str, calls: list[tuple[tuple, dict]], op: str = "call") -> list[dict]:
            return asyncio.run_coroutine_threadsafe(self.ask(name, calls, op), loop).result()

        return ask


def _read_replies(path: Path, expected: int) -> list[dict]:
    """The kernel's answer file, decoded safely and checked for shape; a bad one is that submission's failure."""
    try:
        size = path.stat().st_size
    except OSError:
        raise RemoteCallError("no-reply", "the kernel did not answer the grader's call "
                                          "(did a cell replace IPython, torch.save or cnnlab?)") from None
    if size > MAX_REPLY_BYTES:
        raise RemoteCallError("reply-too-large", f"the kernel's answer is {size:,} bytes (limit {MAX_REPLY_BYTES:,})")
    try:
        replies = torch.load(path, weights_only=True, map_location=None)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is the submission's failure
        raise RemoteCallError("unreadable-reply", f"the grader could not read the kernel's answer: "
                                                  f"{type(exc).__name__}") from None
    if not isinstance(replies, list) or len(replies) != expected or not all(isinstance(r, dict) for r in replies):
        raise RemoteCallError("unreadable-reply", "the kernel's answer does not have one reply per call")
    return replies
