"""Where runs execute. Each backend takes jobs (a run, or several seeds trained as one population) and yields
``(job, result, seconds)`` as they finish; the driver, never a worker, writes the store, so workers need no shared
file system.

``local`` is a pool of processes on this machine (each pinned to one torch thread), the default. Its workers are
forked from a fork server that imported torch and Lightning once, where the platform has one (Linux, macOS): a
pool of N workers pays those seconds of imports once instead of N times, and later pools of the same process
(several sweeps from one script or notebook, a test session) start at once. Elsewhere they are spawned.
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from .runs import Job, Output, Upstream

Outcome = tuple[Job, "Finished", float]
Handle = TypeVar("Handle")  # a backend's token for a submitted job: a Future, a Ray ObjectRef


@dataclass(frozen=True)
class Finished:
    """What a worker sends back for a job: its result, its artifacts and the worker's environment."""

    result: dict[str, Any]
    artifacts: dict[str, bytes]
    environment: dict[str, Any]


def execute(task: str, config: dict[str, Any], upstream: tuple[Upstream, ...] = (),
            scratch: str | None = None) -> tuple[Finished, float]:
    """Run one task in this process on one torch thread; what it produced and its wall time.

    The task gets ``upstream`` (the needed runs' results and artifacts) and ``scratch`` (a folder for files that
    let an interrupted run resume, such as checkpoints) if its signature asks for them by those names.
    """
    import torch

    from .provenance import environment
    from .tasks import resolve

    torch.set_num_threads(1)
    function = resolve(task)
    accepted = inspect.signature(function).parameters
    options = {name: value for name, value in (("upstream", upstream), ("scratch", scratch)) if name in accepted}
    if upstream and "upstream" not in accepted:
        raise TypeError(f"task {task} needs other runs but takes no 'upstream' argument")
    start = time.perf_counter()
    produced = function(config, **options)
    seconds = time.perf_counter() - start
    if isinstance(produced, Output):
        return Finished(produced.result, dict(produced.artifacts), environment()), seconds
    return Finished(produced, {}, environment()), seconds


def _start_worker(environment: dict[str, str], driver: int) -> None:
    """The driver's environment variables as they are now (a forked worker would otherwise see the fork
    server's, from when it started); one thread per worker; Ctrl-C is the driver's to handle (it stops the
    workers); a worker ends with its driver (process id ``driver``) even when the driver is killed outright; its
    progress bars (disabled ones too) take no named semaphore; and Lightning's noise that a user cannot act on
    is silenced as on the command line (a torch API deprecation per run, the seed line, the litlogger tip)."""
    os.environ.clear()
    os.environ.update(environment)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_driver(driver)
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())  # not tqdm's default cross-process lock: a named semaphore that a stopped
    # worker would leave registered ("leaked semaphore objects"); a worker's progress bars are its own
    from lightning_modules.cli import silence_third_party_noise

    silence_third_party_noise()  # as cli.py does


def _end_with_driver(driver: int) -> None:
    """End this process when the process ``driver`` ends, killed outright or not: a thread waits on a pidfd of
    the driver (Linux 5.3 or later; a worker forked by the fork server is not the driver's child) and then sends
    SIGKILL, since nothing is left to store a result, and Lightning turns a SIGTERM during ``fit`` into a
    graceful stop after which the worker would wait for work forever. Elsewhere a no-op, and the driver's own
    handlers stop the workers."""
    try:
        pidfd = os.pidfd_open(driver)
    except ProcessLookupError:  # the driver died before this worker started
        os.kill(os.getpid(), signal.SIGKILL)
        return
    except (AttributeError, OSError):  # not Linux, or a kernel without pidfd
        return

    def wait_for_the_driver() -> None:
        select.select([pidfd], [], [])  # readable once the driver has exited
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait_for_the_driver, name="end-with-driver", daemon=True).start()


def as_is(job: Job) -> Job:
    return job


def as_finished(jobs: Sequence[Job], submit: Callable[[Job], Handle],
                finished: Callable[[list[Handle]], Iterable[Handle]],
                outcome: Callable[[Handle], tuple[Finished, float]], cancel: Callable[[Handle], Any],
                capacity: int | None = None, prepare: Callable[[Job], Job | None] = as_is) -> Iterator[Outcome]:
    """The loop every backend shares: keep up to ``capacity`` jobs submitted (None: all at once), yield each as
    it finishes, stop submitting after a failure, and raise ``RunFailed`` once the submitted jobs are done, so
    nothing finished is lost. If the caller stops early, whatever is still pending is cancelled.

    ``prepare`` turns a job into what is submitted (its upstream results attached), or returns None while a run
    it needs is not stored yet: the first ready job in order is submitted next, so a later stage starts as soon
    as its own inputs exist. ``submit`` starts a job and returns its handle, ``finished`` blocks until some of
    the handles given are done and returns those, ``outcome`` returns a done job's (Finished, seconds) or raises.
    """
    queue, pending = list(jobs), {}
    failures: list[tuple[Job, BaseException]] = []
    try:
        while queue or pending:
            while queue and not failures and (capacity is None or len(pending) < capacity):
                ready = next(((i, p) for i, job in enumerate(queue) if (p := prepare(job)) is not None), None)
                if ready is None:
                    break
                queue.pop(ready[0])
                pending[submit(ready[1])] = ready[1]
            if not pending:
                break
            for handle in finished(list(pending)):
                job = pending.pop(handle)
                try:
                    done, seconds = outcome(handle)
                except Exception as err:  # noqa: BLE001 - reported with the job's name by RunFailed
                    failures.append((job, err))
                    continue
                yield job, done, seconds
    finally:
        for handle in pending:
            cancel(handle)
    if failures:
        raise RunFailed(failures)
    if queue:
        raise RunFailed([(job, RuntimeError("a run it needs was not stored")) for job in queue])


def local(jobs: Sequence[Job], workers: int, prepare: Callable[[Job], Job | None] = as_is) -> Iterator[Outcome]:
    """Run ``jobs`` in ``workers`` spawned processes, yielding each as it finishes (in finishing order).

    Interrupted (Ctrl-C, SIGTERM turned into an exception, or the caller stopping early), the workers are
    terminated at once: no worker trains on with no driver to store its result.
    """
    if workers < 1:
        raise ValueError(f"workers={workers}: expected at least 1")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_start_worker,
                               initargs=(dict(os.environ), os.getpid()))
    stopped = False
    try:
        yield from as_finished(jobs, lambda job: pool.submit(execute, job.task, job.config, job.upstream,
                                                             job.scratch),
                               lambda futures: wait(futures, return_when=FIRST_COMPLETED)[0],
                               Future.result, Future.cancel, capacity=workers, prepare=prepare)
    except BaseException:
        stopped = True
        _terminate(pool)
        raise
    finally:
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=not stopped, cancel_futures=True)
        if stopped and manager is not None:
            # The executor's thread closes its wake-up pipe once it has seen the killed workers; Python's exit
            # hook writes to that pipe without a lock, and doing so mid-close printed "OSError: Bad file
            # descriptor" after the driver's last line. Waiting here for the thread leaves the hook nothing to do.
            manager.join(timeout=30)


PRELOADED = ("torch", "lightning")  # seconds of imports every run needs; third-party, so the same in any checkout


def _context() -> multiprocessing.context.BaseContext:
    """The fork server where the platform has one, started (once per process) with ``PRELOADED`` imported;
    otherwise spawn. The code of the checkout is imported by each worker, never by the server, so a worker
    runs the driver's code (``sys.path`` and the working directory are the driver's, as with spawn)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED))
    return context


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's worker processes now (the executor has no public way to stop a running task). SIGKILL, not
    SIGTERM: Lightning turns a SIGTERM during ``fit`` into a graceful stop after the step, and the worker would
    then wait for its next job instead of ending; an unfinished run is not stored either way."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.kill()
    for process in processes:
        process.join(timeout=10)


class RunFailed(RuntimeError):
    """Jobs that raised; the message names each job's runs and its error."""

    def __init__(self, failures: list[tuple[Job, BaseException]]) -> None:
        self.failures = failures
        lines = [f"{job.label} ({', '.join(r.key for r in job.members)}): {type(err).__name__}: {err}"
                 for job, err in failures]
        super().__init__(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(lines))
