"""Where runs execute. Each backend takes runs and yields ``(run, result, seconds)`` as they finish; the driver,
never a worker, writes the store, so workers need no shared file system.

``local`` is a pool of processes on this machine (spawned, each pinned to one torch thread), the default.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .runs import Run

Outcome = tuple[Run, dict[str, Any], float]


def execute(task: str, config: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run one task in this process on one torch thread; the result and its wall time."""
    import torch

    from .tasks import resolve

    torch.set_num_threads(1)
    start = time.perf_counter()
    result = resolve(task)(config)
    return result, time.perf_counter() - start


def _pin_one_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"


def local(runs: Sequence[Run], workers: int) -> Iterator[Outcome]:
    """Run ``runs`` in ``workers`` spawned processes, yielding each as it finishes (in finishing order).

    A failed run raises ``RunFailed`` after the runs already submitted have finished, so nothing finished is lost.
    """
    if workers < 1:
        raise ValueError(f"workers={workers}: expected at least 1")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_pin_one_thread) as pool:
        pending: dict[Future, Run] = {}
        queue = list(runs)
        failures: list[tuple[Run, BaseException]] = []
        try:
            while queue or pending:
                while queue and len(pending) < workers and not failures:
                    run = queue.pop(0)
                    pending[pool.submit(execute, run.task, run.config)] = run
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    run = pending.pop(future)
                    try:
                        result, seconds = future.result()
                    except Exception as err:  # noqa: BLE001 - reported with the run's name below
                        failures.append((run, err))
                        continue
                    yield run, result, seconds
        finally:
            for future in pending:
                future.cancel()
        if failures:
            raise RunFailed(failures)


class RunFailed(RuntimeError):
    """Runs that raised; the message names each run and its error."""

    def __init__(self, failures: list[tuple[Run, BaseException]]) -> None:
        self.failures = failures
        lines = [f"{run.label} ({run.key}): {type(err).__name__}: {err}" for run, err in failures]
        super().__init__(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(lines))
