"""The ``ray`` backend: each run is a Ray task on a cluster; the driver writes the store as results come back.

Tasks get one CPU each, or a fraction of a GPU when the run's trainer asks for a GPU (small networks share a
device well). The checkout travels to the cluster as Ray's ``working_dir`` (results, logs and git history left
out), so nodes need neither a shared file system nor a copy of the code, only the same Python packages.

    python -m experiments run table1 --backend ray                      # a new Ray instance on this machine
    python -m experiments run table1 --backend ray --address auto       # the cluster this machine belongs to
    python -m experiments run table1 --backend ray --address HOST:6379  # a cluster's head node
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from .backends import Outcome, as_is, as_finished, execute
from .runs import ROOT, Job

GPU_FRACTION = float(os.environ.get("MNIST1D_RAY_GPU_FRACTION", "0.25"))
EXCLUDES = [".git", ".venv", "results", "bench/results", "lightning_logs", "**/__pycache__",
            "*.ckpt", "*.egg-info", ".hypothesis", ".pytest_cache"]
# Ray's switch between loopback-only (0) and cluster addressing; read when ray is first imported
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
INSTALL_HINT = 'the ray backend needs Ray: pip install -e ".[cluster]"'


class RayUnavailable(RuntimeError):
    """Ray is not installed."""


def resources(job: Job) -> dict[str, float]:
    """One CPU, plus a GPU fraction when the job's trainer is set to a GPU accelerator."""
    accelerator = str((job.config.get("trainer") or {}).get("accelerator", "cpu")).lower()
    return {"num_cpus": 1, "num_gpus": GPU_FRACTION if accelerator in ("gpu", "cuda") else 0}


def run(jobs: Sequence[Job], address: str | None = None, workers: int | None = None,
        prepare: Callable[[Job], Job | None] = as_is) -> Iterator[Outcome]:
    """Submit the jobs as tasks (at most ``workers`` at a time; None: as many as the cluster's resources take)
    and yield each result as it arrives; a failed job raises ``RunFailed`` after the others have come back, so
    nothing finished is lost. Without Ray, raises ``RayUnavailable`` at once. Upstream results and artifacts
    travel with each task (``prepare``), so workers need no shared folder."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers}: expected at least 1")
    if address is None:  # a new single-machine instance: keep all of Ray's traffic on loopback
        os.environ.setdefault(LOOPBACK_ONLY, "0")
    try:
        import ray
    except ImportError as err:
        raise RayUnavailable(INSTALL_HINT) from err
    return _results(ray, jobs, address, workers, prepare)


def _results(ray, jobs: Sequence[Job], address: str | None, workers: int | None,
             prepare: Callable[[Job], Job | None]) -> Iterator[Outcome]:
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, log_to_driver=False, configure_logging=False,
                 runtime_env={"working_dir": str(ROOT), "excludes": EXCLUDES})
    task = ray.remote(execute)

    def outcome(ref):
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as err:  # the run's own error, not Ray's wrapper
            raise (getattr(err, "cause", None) or err) from None

    try:
        yield from as_finished(jobs, lambda job: task.options(**resources(job)).remote(job.task, job.config,
                                                                                       job.upstream),
                               lambda refs: ray.wait(refs, num_returns=1)[0], outcome,
                               lambda ref: ray.cancel(ref, force=True),  # interrupted: stop it on the cluster
                               capacity=workers, prepare=prepare)
    finally:
        if started_here:
            ray.shutdown()
