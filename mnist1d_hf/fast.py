"""Fast mode: the reference's transforms on counter-based random streams, in blocks, over worker threads.

This is NOT the paper's random stream: a config in fast mode gives different examples than in reference mode,
drawn from the same distribution. A block of output rows is made by one of two methods, chosen by the config
alone: ``fast_masks`` (the noise of each example drawn as one Gaussian vector given its template's zero mask:
about half the CPU time) wherever its tables fit their budget, else ``fast_rows`` (the noise drawn step by step).
``fast_streams`` says which generator draws what. Each block's output depends on its index only, so the chunk
size and the number of workers never change the output.

Workers are threads of this process, not processes: numpy releases the GIL while it draws, multiplies and
copies, which is nearly all of a block's time, and threads write straight into the one output array. Worker
processes had to share the output through a file in ``/dev/shm``, whose 4 KiB pages made a block about a quarter
slower to write than ordinary memory: 2 processes spent 2.2 CPU seconds on 1,000,000 examples where one spent 1.6.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from types import ModuleType
from typing import Callable, Iterator, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from . import fast_masks
from .config import MNIST1DConfig
from .errors import ConfigError
from .fast_streams import LABEL_NOISE, row_labels_and_columns, stream
from .templates import NUM_CLASSES

PROGRESS_THRESHOLD = 200_000
STANDARDIZE_ROWS = 1024  # rows standardized at a time, so both operations find them in cache (no output change)

Result = TypeVar("Result")


@lru_cache(maxsize=8)
def method(cfg: MNIST1DConfig) -> ModuleType:
    """The module that makes the config's blocks: ``fast_masks`` if its tables fit, else ``fast_rows`` (imported
    only then: it needs scipy)."""
    if fast_masks.fits(cfg):
        return fast_masks
    from . import fast_rows

    return fast_rows


def prepare(cfg: MNIST1DConfig, blocks: int) -> None:
    """Build the method's tables before the blocks are made, so that the workers share them instead of each
    building them. The per-mask noise factors too, unless there is a single block: it computes only those it
    needs (a small dataset needs few of them)."""
    maker = method(cfg)
    if maker is fast_masks:
        plan = fast_masks.mask_plan(cfg)
        if blocks > 1:
            plan.factors_for(cfg, np.arange(len(plan.masks)))
    else:
        maker.row_plan(cfg)


class _Quiet:
    """Stands in for a progress bar that is not shown."""

    def update(self, n: int) -> None:
        pass


def progress(total: int, show: bool | None) -> AbstractContextManager:
    """The generation's progress bar; when none is shown, tqdm is not even imported (a tenth of a second)."""
    if (total < PROGRESS_THRESHOLD) if show is None else not show:
        return nullcontext(_Quiet())
    from .progress import progress_bar

    return progress_bar(total, "fast generation", show, PROGRESS_THRESHOLD)


def rows_of(cfg: MNIST1DConfig, blocks: range) -> slice:
    """The output rows of consecutive blocks."""
    size = method(cfg).BLOCK
    return slice(blocks.start * size, min(cfg.total, blocks.stop * size))


def fill_blocks(cfg: MNIST1DConfig, blocks: range, labels: np.ndarray, columns: np.ndarray | None,
                out: np.ndarray) -> np.ndarray:
    """Write the rows of consecutive blocks (``labels`` and ``out`` hold their rows only); return each block's
    sum and sum of squares, from which the dataset-wide mean and std follow without another pass over the data."""
    sums = np.empty((len(blocks), 2))
    maker = method(cfg)
    for i, b in enumerate(blocks):
        rows = slice(i * maker.BLOCK, (i + 1) * maker.BLOCK)
        sums[i] = maker.block_examples(cfg, b, labels[rows], columns, out[rows])
    return sums


def standardize_rows(x: np.ndarray, rows: range, mean: float, std: float) -> None:
    """``x[rows] = (x[rows] - mean) / std`` in place, a few rows at a time: one pass over memory instead of two,
    with the same operations on each value as on the whole array at once."""
    for start in range(rows.start, rows.stop, STANDARDIZE_ROWS):
        part = x[start:min(rows.stop, start + STANDARDIZE_ROWS)]
        part -= mean
        part /= std


class InPlace(Executor):
    """An executor that runs each task at once in the calling thread: what one worker means."""

    def submit(self, fn: Callable[..., Result], /, *args, **kwargs) -> Future:
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def map(self, fn: Callable[..., Result], *items, timeout=None, chunksize=1) -> Iterator[Result]:
        return map(fn, *items)  # lazily, so that progress shows as the tasks finish


def executor(workers: int) -> Executor:
    """Up to ``workers`` threads; ``map`` yields the results in order, and on an error or an interruption the
    tasks not started yet are cancelled and the running ones finish before it propagates."""
    return InPlace() if workers == 1 else ThreadPoolExecutor(workers, thread_name_prefix="mnist1d-fast")


def shares(total: int, parts: int) -> list[range]:
    """``range(total)`` cut into ``parts`` consecutive ranges of nearly equal length."""
    bounds = [total * i // parts for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def moments(block_sums: np.ndarray, size: int) -> tuple[float, float]:
    """The mean and std of all values, from each block's sum and sum of squares."""
    mean, mean_sq = block_sums.sum(0) / size
    return float(mean), float(np.sqrt(mean_sq - mean**2))


def fast_examples(cfg: MNIST1DConfig, chunk_size: int | None = None, workers: int | None = 1,
                  show_progress: bool | None = None, standardize: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Examples, labels, and the mean and std of all values (of the examples before ``standardize``).

    ``chunk_size`` rows (rounded up to whole blocks; None: one block) make one task; ``workers`` > 1 (None: all
    cores) spreads the tasks, then the standardization, over that many threads writing into the one output.
    Memory stays at the output array: the moments are summed per block.
    """
    if chunk_size is not None and chunk_size < 1:
        raise ConfigError(f"chunk_size={chunk_size!r}: expected a positive number of rows (or None for one block)")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ConfigError(f"workers={workers!r}: expected a positive number of threads (or None for all cores)")
    size = method(cfg).BLOCK
    n_blocks = -(-cfg.total // size)
    per_chunk = 1 if chunk_size is None else -(-chunk_size // size)
    chunks = [range(b, min(n_blocks, b + per_chunk)) for b in range(0, n_blocks, per_chunk)]
    x = np.empty((cfg.total, cfg.final_seq_length))
    block_sums = np.empty((n_blocks, 2))
    # the matrices are small: one BLAS thread per worker is fastest, and never oversubscribes the cores (the
    # limit holds until the workers have stopped)
    with threadpool_limits(1, user_api="blas"), executor(min(workers, len(chunks))) as pool:
        drawn = pool.submit(row_labels_and_columns, cfg)  # a permutation of every label: beside the tables
        prepare(cfg, n_blocks)
        labels, columns = drawn.result()

        def fill(blocks: range) -> int:
            rows = rows_of(cfg, blocks)
            block_sums[blocks.start:blocks.stop] = fill_blocks(cfg, blocks, labels[rows], columns, x[rows])
            return rows.stop - rows.start

        with progress(cfg.total, show_progress) as bar:
            for done in pool.map(fill, chunks):
                bar.update(done)
        mean, std = moments(block_sums, x.size)
        if standardize:
            for _ in pool.map(lambda rows: standardize_rows(x, rows, mean, std), shares(cfg.total, workers)):
                pass
    return x, labels, mean, std


def fast_label_noise(y: np.ndarray, cfg: MNIST1DConfig) -> np.ndarray:
    """Resample ``cfg.label_noise`` of the labels uniformly, from the fast mode's own stream."""
    g = stream(cfg, LABEL_NOISE)
    flip = g.random(len(y)) < cfg.label_noise
    return np.where(flip, g.integers(0, NUM_CLASSES, len(y)), y)
