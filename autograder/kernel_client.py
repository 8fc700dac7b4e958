"""A kernel client that waits for messages in short polls, so that a missed wake-up costs a second.

nbclient waits for a cell's reply with one poll as long as the cell's time limit. On this
machine's pyzmq/asyncio stack the socket's wake-up is sometimes lost: the reply is already in
the socket, nobody is told, and the grader sits idle until the poll times out and its final
check finds the reply (a whole 300 s cell limit, with the right result in the end). Polling in
slices of ``POLL_SLICE_S`` re-checks the socket at the start of every slice.

``autograder.settings`` makes this the client of every kernel manager the course creates: the
grader's workers, ``nbgrader validate``, and the in-process validator.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type

POLL_SLICE_S = 1.0


class SlicedPollChannel(AsyncZMQSocketChannel):
    """``get_msg`` with any timeout, made of polls of at most ``POLL_SLICE_S`` seconds."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:  # type: ignore[override]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(POLL_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollKernelClient(AsyncKernelClient):
    """``AsyncKernelClient`` whose shell, iopub and control channels poll in short slices."""

    shell_channel_class = Type(SlicedPollChannel)  # type: ignore[assignment]
    iopub_channel_class = Type(SlicedPollChannel)  # type: ignore[assignment]
    control_channel_class = Type(SlicedPollChannel)  # type: ignore[assignment]
