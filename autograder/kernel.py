"""A kernel manager that starts the kernel inside the grading sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Unicode

from autograder.sandbox import Policy, wrap_kernel_command


class SandboxedKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` whose kernel command runs under limits and bubblewrap.

    Configured per job: ``sandbox_workdir`` (the only writable directory), ``sandbox_policy``
    (JSON of :class:`~autograder.sandbox.Policy`) and ``sandbox_cgroup`` (a pids cgroup, or "").
    """

    sandbox_workdir = Unicode("", help="The job's scratch directory.").tag(config=True)
    sandbox_policy = Unicode("{}", help="Policy as JSON.").tag(config=True)
    sandbox_cgroup = Unicode("", help="cgroup directory the kernel joins.").tag(config=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.sandbox_workdir:
            return cmd
        policy = Policy.from_dict(json.loads(self.sandbox_policy))
        cgroup = Path(self.sandbox_cgroup) if self.sandbox_cgroup else None
        return wrap_kernel_command(cmd, Path(self.sandbox_workdir), policy, cgroup)

    async def interrupt_kernel(self) -> None:  # type: ignore[override]
        """Interrupt with a control message: a signal would reach bubblewrap, not the kernel."""
        if self.sandbox_workdir and self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"
        await AsyncKernelManager.interrupt_kernel(self)
