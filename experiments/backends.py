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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from .runs import Job

Outcome = tuple[Job, dict[str, Any], float]
Handle = TypeVar("Handle")  # a backend's token for a submitted job: a Future, a Ray ObjectRef


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


def as_finished(jobs: Sequence[Job], submit: Callable[[Job], Handle],
                finished: Callable[[list[Handle]], Iterable[Handle]],
                outcome: Callable[[Handle], tuple[dict[str, Any], float]], cancel: Callable[[Handle], Any],
                capacity: int | None = None) -> Iterator[Outcome]:
    """The loop every backend shares: keep up to ``capacity`` jobs submitted (None: all at once), yield each as
    it finishes, stop submitting after a failure, and raise ``RunFailed`` once the submitted jobs are done, so
    nothing finished is lost. If the caller stops early, whatever is still pending is cancelled.

    ``submit`` starts a job and returns its handle, ``finished`` blocks until some of the handles given are done
    and returns those, ``outcome`` returns a done job's (result, seconds) or raises its error.
    """
    queue, pending = list(jobs), {}
    failures: list[tuple[Job, BaseException]] = []
    try:
        while queue or pending:
            while queue and not failures and (capacity is None or len(pending) < capacity):
                job = queue.pop(0)
                pending[submit(job)] = job
            if not pending:
                break
            for handle in finished(list(pending)):
                job = pending.pop(handle)
                try:
                    result, seconds = outcome(handle)
                except Exception as err:  # noqa: BLE001 - reported with the job's name by RunFailed
                    failures.append((job, err))
                    continue
                yield job, result, seconds
    finally:
        for handle in pending:
            cancel(handle)
    if failures:
        raise RunFailed(failures)


def local(jobs: Sequence[Job], workers: int) -> Iterator[Outcome]:
    """Run ``jobs`` in ``workers`` spawned processes, yielding each as it finishes (in finishing order)."""
    if workers < 1:
        raise ValueError(f"workers={workers}: expected at least 1")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker) as pool:
        yield from as_finished(jobs, lambda job: pool.submit(execute, job.task, job.config),
                               lambda futures: wait(futures, return_when=FIRST_COMPLETED)[0],
                               Future.result, Future.cancel, capacity=workers)


class RunFailed(RuntimeError):
    """Jobs that raised; the message names each job's runs and its error."""

    def __init__(self, failures: list[tuple[Job, BaseException]]) -> None:
        self.failures = failures
        lines = [f"{job.label} ({', '.join(r.key for r in job.members)}): {type(err).__name__}: {err}"
                 for job, err in failures]
        super().__init__(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(lines))
