"""nbgrader's ``Execute`` with guards for a grading run, and the hidden tests outside the kernel.

- A test cell's visible part runs in the kernel (its output is kept as advice); its hidden
  block runs here, in the trusted evaluator (:mod:`autograder.evaluator`), which calls the
  student's functions through the kernel channel. The cell's output that nbgrader scores is
  the evaluator's verdict alone: a pass, or an error naming the mistake.
- Output beyond ``max_output_chars`` per cell, or ``max_total_output_chars`` in the whole
  notebook, is dropped as it arrives (a print flood cannot fill memory), with a note in the
  cell; rich display data and ``update_display`` count as well as text.
- A whole-notebook deadline: when it passes, the kernel's process group is killed.
- When the kernel dies or the deadline passes, the cell that was running and every
  later grade cell get an error output, so they score 0 while earlier cells keep their
  scores. The error text starts with a tag (``[kernel-died]``, ``[notebook-timeout]``).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Integer

from autograder.evaluator.channel import KernelChannel
from autograder.evaluator.runner import run_hidden, split_hidden
from autograder.hidden import VISIBLE_OUTPUT_HEADER
from autograder.jobs import KERNEL_START_FAILED
from cnnlab.i18n import translate

NO_HIDDEN_TESTS = "no-hidden-tests"
KERNEL_DIED = "kernel-died"
KERNEL_UNRESPONSIVE = "kernel-unresponsive"
NOTEBOOK_TIMEOUT = "notebook-timeout"
NOT_RUN = "not-run"
OUTPUT_LIMIT = "output-limit"

_FATAL_TEXT = {
    KERNEL_DIED: "the kernel died while running this cell (os._exit, a crash, or a resource limit)",
    NOTEBOOK_TIMEOUT: "the notebook ran past its time limit while running this cell",
    KERNEL_UNRESPONSIVE: "the kernel stopped responding while running this cell",
    KERNEL_START_FAILED: "the grading kernel could not start",
}


class GuardedExecute(Execute):
    """Execute with an output cap, a whole-notebook deadline and scoring of unrun cells."""

    max_output_chars = Integer(200_000, help="Characters of output kept per cell.").tag(config=True)
    max_total_output_chars = Integer(4_000_000, help="Characters of output kept in the whole notebook.").tag(
        config=True)
    notebook_timeout = Integer(900, help="Seconds the whole notebook may run.").tag(config=True)
    drain_timeout = Integer(120, help="Seconds to collect a finished cell's remaining output.").tag(config=True)
    interrupt_grace = Integer(10, help="Seconds a timed-out cell has to stop after the interrupt.").tag(
        config=True)

    def run_guarded(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[str, str]:
        """Execute ``nb`` in place; return ``(status, reason)`` with status ``ok`` or a fatal tag."""
        self._current_index = -1
        self._output_used: dict[int, int] = {}
        self._output_total = 0
        self._capped: set[int] = set()
        self._deadline_hit = threading.Event()
        self._timed_out = False
        self._channel = KernelChannel(self, str((resources.get("metadata") or {}).get("path") or os.getcwd()))
        self._nb = nb
        done = threading.Event()
        watchdog = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watchdog.start()
        status, reason = "ok", ""
        try:
            self.preprocess(nb, resources)
        except DeadKernelError:
            status = NOTEBOOK_TIMEOUT if self._deadline_hit.is_set() else KERNEL_DIED
        except Exception as exc:  # kernel failed to start, or nbclient gave up on it
            status = NOTEBOOK_TIMEOUT if self._deadline_hit.is_set() else (
                KERNEL_UNRESPONSIVE if isinstance(exc, CellTimeoutError) else KERNEL_DIED)
            if status == KERNEL_DIED and self._current_index < 0:
                status = KERNEL_START_FAILED  # no student code ran yet: the machine's fault
            if status != KERNEL_UNRESPONSIVE:
                reason = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
            elif self._timed_out:
                reason = _FATAL_TEXT[status] + " (it ignored the interrupt sent at the per-cell time limit)"
            else:
                reason = _FATAL_TEXT[status] + f" (its output did not finish within {self.drain_timeout} s)"
        finally:
            done.set()
        if status == "ok" and self._channel.died:
            status = KERNEL_DIED
            reason = f"the kernel died while the grader called `{self._channel.died}` on its inputs"
        if status != "ok":
            reason = reason or _FATAL_TEXT[status]
            self._mark_unrun(nb, status)
        return status, reason

    def _watch(self, done: threading.Event) -> None:
        deadline = time.monotonic() + self.notebook_timeout
        while not done.wait(timeout=0.5):
            if time.monotonic() < deadline:
                continue
            self._deadline_hit.set()
            self._kill_kernel()
            return

    def _kill_kernel(self) -> None:
        provisioner = getattr(getattr(self, "km", None), "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                process.kill()
            except ProcessLookupError:
                pass

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):  # noqa: ANN201
        self._current_index = index
        return super().preprocess_cell(cell, resources, index)

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if is_grade(cell):
            return await self._execute_graded(cell, cell_index, execution_count, store_history)
        # A finished cell may still have a backlog of output (a print flood) to collect.
        self.iopub_timeout = self.drain_timeout
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def _execute_graded(self, cell: NotebookNode, cell_index: int, execution_count: int | None,
                              store_history: bool) -> NotebookNode:
        """A test cell: its visible part runs in the kernel (advisory), its hidden tests here."""
        source = cell.source
        visible, hidden = split_hidden(source)
        cell.source = visible
        self.iopub_timeout = self.drain_timeout
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            cell.source = source
        advisory = advisory_output(cell.outputs)
        if hidden:
            loop = asyncio.get_running_loop()
            ask = self._channel.blocking(loop)
            sources = student_sources(self._nb.cells[:cell_index])
            verdict = await loop.run_in_executor(None, run_hidden, hidden, ask, sources)
        else:
            text = f"[{NO_HIDDEN_TESTS}] the course defines no hidden tests for this cell, so it cannot earn points"
            verdict = new_output("error", ename="GradingError", evalue=text, traceback=[text])
        cell.outputs = ([advisory] if advisory is not None else []) + [verdict]
        return cell

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None):  # noqa: ANN202
        # After the interrupt, a kernel that does not go idle soon is declared unresponsive.
        self._timed_out = True
        self.iopub_timeout = self.interrupt_grace
        return await super()._async_handle_timeout(timeout, cell)

    # nbclient binds the synchronous wrapper at class creation: re-bind it to the override.
    execute_cell = run_sync(async_execute_cell)

    def output(self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int):  # noqa: ANN201
        size = _message_size(msg)
        before = self._output_used.get(cell_index, 0)
        self._output_used[cell_index] = before + size
        if before + size > self.max_output_chars or self._output_total + size > self.max_total_output_chars:
            if cell_index not in self._capped:
                self._capped.add(cell_index)
                outs.append(new_output("stream", name="stdout", text=(
                    f"\n[{OUTPUT_LIMIT}] the grader dropped this cell's output beyond {self.max_output_chars:,} "
                    f"characters (or the notebook's beyond {self.max_total_output_chars:,})\n")))
            return None
        self._output_total += size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict) -> None:
        """``update_display`` replaces shown data everywhere that display id appears: cap it too."""
        copies = sum(len(ix) for ix in self._display_id_map.get(display_id, {}).values())
        size = _message_size(msg) * max(copies, 1)
        if size > self.max_output_chars or self._output_total + size > self.max_total_output_chars:
            note = f"[{OUTPUT_LIMIT}] the grader dropped a display update of {size:,} characters"
            msg = {**msg, "content": {**msg.get("content", {}), "data": {"text/plain": note}, "metadata": {}}}
        else:
            self._output_total += size
        super()._update_display_id(display_id, msg)

    def _mark_unrun(self, nb: NotebookNode, status: str) -> None:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or index < self._current_index:
                continue
            if index == self._current_index:
                text = f"[{status}] {_FATAL_TEXT[status]}"
            elif is_grade(cell):
                text = f"[{NOT_RUN}] not run: the kernel stopped in an earlier cell ({status})"
            else:
                continue
            cell.outputs.append(new_output("error", ename="GradingStopped", evalue=text, traceback=[text]))



def student_sources(cells: list[NotebookNode]) -> list[str]:
    """The code the student wrote: answer cells and cells of their own (not the course's locked cells)."""
    out = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not (meta.get("locked") or meta.get("grade"))):
            out.append(cell.source)
    return out


def advisory_output(outputs: list[NotebookNode], limit: int = 4000) -> NotebookNode | None:
    """The kernel's own output of a test cell as plain stdout text: shown, never scored."""
    parts: list[str] = []
    for out in outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n")
        elif "text/plain" in out.get("data", {}):
            parts.append(str(out["data"]["text/plain"]) + "\n")
    lines = _ANSI.sub("", "".join(parts)).splitlines()
    text = "\n".join(lines).strip()
    if not text:
        return None
    if len(text) > limit:
        text = text[:limit] + " …"
    header = translate(VISIBLE_OUTPUT_HEADER)  # the worker runs in the submission's language
    return new_output("stream", name="stdout", text=f"{header}\n{text}\n")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _message_size(msg: dict) -> int:
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values()) + len(
        "".join(content.get("traceback", [])))
