"""Where runs execute. Each backend takes jobs (a run, or several seeds trained as one population) and yields
``(job, result, seconds)`` as they finish; the driver, never a worker, writes the store, so workers need no shared
file system.

``local`` is a pool of processes on this machine (spawned, each pinned to one torch thread), the default.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .runs import Job

Outcome = tuple[Job, dict[str, Any], float]


def execute(task: str, config: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run one task in this process on one torch thread; the result and its wall time."""
    import torch

    from .tasks import resolve

    torch.set_num_threads(1)
    start = time.perf_counter()
    result = resolve(task)(config)
    return result, time.perf_counter() - start


def _start_worker() -> None:
    """One thread per worker; and no line per run for Lightning 2.6's use of a torch API that torch 2.13
    deprecates (nothing a user can act on)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def local(jobs: Sequence[Job], workers: int) -> Iterator[Outcome]:
    """Run ``jobs`` in ``workers`` spawned processes, yielding each as it finishes (in finishing order).

    A failed job raises ``RunFailed`` after the jobs already submitted have finished, so nothing finished is lost.
    """
    if workers < 1:
        raise ValueError(f"workers={workers}: expected at least 1")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker) as pool:
        pending: dict[Future, Job] = {}
        queue = list(jobs)
        failures: list[tuple[Job, BaseException]] = []
        try:
            while queue or pending:
                while queue and len(pending) < workers and not failures:
                    job = queue.pop(0)
                    pending[pool.submit(execute, job.task, job.config)] = job
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    try:
                        result, seconds = future.result()
                    except Exception as err:  # noqa: BLE001 - reported with the job's name below
                        failures.append((job, err))
                        continue
                    yield job, result, seconds
        finally:
            for future in pending:
                future.cancel()
        if failures:
            raise RunFailed(failures)


class RunFailed(RuntimeError):
    """Jobs that raised; the message names each job's runs and its error."""

    def __init__(self, failures: list[tuple[Job, BaseException]]) -> None:
        self.failures = failures
        lines = [f"{job.label} ({', '.join(r.key for r in job.members)}): {type(err).__name__}: {err}"
                 for job, err in failures]
        super().__init__(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(lines))
