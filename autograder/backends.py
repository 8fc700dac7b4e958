"""Where jobs execute: local worker processes, or a Dask cluster. Same job, same code path."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Protocol

from autograder.jobs import run_job


class Backend(Protocol):
    """Runs job dicts; yields ``(job, result)`` as each finishes."""

    def run(self, jobs: list[dict]) -> Iterator[tuple[dict, dict]]: ...


class LocalBackend:
    """``workers`` jobs at a time, each in its own subprocess and kernel."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def run(self, jobs: list[dict]) -> Iterator[tuple[dict, dict]]:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grade") as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()


class DaskBackend:
    """The same jobs on a ``dask.distributed`` cluster.

    ``address`` connects to a running scheduler; ``local_workers`` starts a LocalCluster of
    that many single-threaded worker processes. Jobs marked ``gpu`` ask for the ``GPU``
    resource, so they only go to workers started with ``--resources GPU=1``. A lost worker's
    job is rescheduled by Dask (``retries``).
    """

    def __init__(self, address: str | None = None, local_workers: int | None = None, retries: int = 2) -> None:
        from dask.distributed import Client, LocalCluster

        self.retries = retries
        self._cluster = None
        if address:
            self.client = Client(address, timeout="30s")
        else:
            self._cluster = LocalCluster(n_workers=max(1, local_workers or os.cpu_count() or 1),
                                         threads_per_worker=1, processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR)
            self.client = Client(self._cluster)
        self.workers = len(self.client.scheduler_info().get("workers", {})) or (local_workers or 1)

    def run(self, jobs: list[dict]) -> Iterator[tuple[dict, dict]]:
        from dask.distributed import as_completed as dask_completed

        futures = []
        owner = {}
        for job in jobs:
            kwargs = {"resources": {"GPU": 1}} if job.get("gpu") else {}
            future = self.client.submit(run_job, job, pure=False, retries=self.retries,
                                        key=f"grade-{job['student']}-{job['assignment']}-{uuid.uuid4().hex[:8]}",
                                        **kwargs)
            futures.append(future)
            owner[future.key] = job
        for future in dask_completed(futures):
            job = owner[future.key]
            try:
                yield job, future.result()
            except Exception as exc:  # the task failed on every retry (e.g. its workers kept dying)
                yield job, {"status": "worker-crashed", "notebook": None, "reason": f"dask: {exc}"}

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

