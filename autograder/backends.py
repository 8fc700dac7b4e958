"""Where jobs execute: local worker processes, or a Dask cluster. Same job, same code path."""

from __future__ import annotations

import os
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
