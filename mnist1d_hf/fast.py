"""Fast mode: the reference's transforms on counter-based random streams, in blocks, over worker processes.

This is NOT the paper's random stream: a config in fast mode gives different examples than in reference mode,
drawn from the same distribution. A block of output rows is made by one of two methods, chosen by the config
alone: ``fast_masks`` (the noise of each example drawn as one Gaussian vector given its template's zero mask:
about half the CPU time) wherever its tables fit their budget, else ``fast_rows`` (the noise drawn step by step).
``fast_streams`` says which generator draws what. Each block's output depends on its index only, so the chunk
size and the number of worker processes never change the output.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from types import ModuleType

import numpy as np
from threadpoolctl import threadpool_limits

from . import fast_masks
from .config import MNIST1DConfig
from .errors import ConfigError
from .fast_streams import LABEL_NOISE, row_labels_and_columns, stream
from .templates import NUM_CLASSES

PROGRESS_THRESHOLD = 200_000


@lru_cache(maxsize=8)
def method(cfg: MNIST1DConfig) -> ModuleType:
    """The module that makes the config's blocks: ``fast_masks`` if its tables fit, else ``fast_rows`` (imported
    only then: it needs scipy)."""
    if fast_masks.fits(cfg):
        return fast_masks
    from . import fast_rows

    return fast_rows


def prepare(cfg: MNIST1DConfig) -> None:
    """Build the method's tables in this process, so that forked workers share them instead of each building
    them (the per-mask noise factors excepted: each process computes those its blocks need)."""
    maker = method(cfg)
    (fast_masks.mask_plan if maker is fast_masks else maker.row_plan)(cfg)


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
    # the matrices are small: one BLAS thread per process is fastest, and never oversubscribes the cores
    with threadpool_limits(1, user_api="blas"):
        for i, b in enumerate(blocks):
            rows = slice(i * maker.BLOCK, (i + 1) * maker.BLOCK)
            sums[i] = maker.block_examples(cfg, b, labels[rows], columns, out[rows])
    return sums


def _fill_shared(path: str, shape: tuple[int, int], cfg: MNIST1DConfig, blocks: range, labels: np.ndarray,
                 columns: np.ndarray | None) -> np.ndarray:
    """``fill_blocks`` in a worker process, writing straight into the output file mapped by every process."""
    out = np.memmap(path, dtype=np.float64, mode="r+", shape=shape)
    return fill_blocks(cfg, blocks, labels, columns, out[rows_of(cfg, blocks)])


def _standardize_shared(path: str, shape: tuple[int, int], rows: slice, mean: float, std: float) -> None:
    """Standardize some rows of the shared output in a worker (the same operations as on the whole array)."""
    out = np.memmap(path, dtype=np.float64, mode="r+", shape=shape)[rows]
    out -= mean
    out /= std


def moments(block_sums: np.ndarray, size: int) -> tuple[float, float]:
    """The mean and std of all values, from each block's sum and sum of squares."""
    mean, mean_sq = block_sums.sum(0) / size
    return float(mean), float(np.sqrt(mean_sq - mean**2))


def fast_examples(cfg: MNIST1DConfig, chunk_size: int = 131_072, workers: int | None = 1,
                  show_progress: bool | None = None, standardize: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Examples, labels, and the mean and std of all values (of the examples before ``standardize``).

    ``chunk_size`` rows (rounded up to whole blocks) make one task; ``workers`` > 1 (None: all cores) spreads
    tasks over processes, which write into one shared memory-mapped output, so no rows are copied between
    processes, and standardize it there too. Memory stays at the output array: the moments are summed per block.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size={chunk_size!r}: expected a positive number of rows")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ConfigError(f"workers={workers!r}: expected a positive number of processes (or None for all)")
    prepare(cfg)
    labels, columns = row_labels_and_columns(cfg)
    size = method(cfg).BLOCK
    n_blocks = -(-cfg.total // size)
    per_chunk = max(1, -(-chunk_size // size))
    chunks = [range(b, min(n_blocks, b + per_chunk)) for b in range(0, n_blocks, per_chunk)]
    shape = (cfg.total, cfg.final_seq_length)

    with progress(cfg.total, show_progress) as bar:
        if workers == 1 or len(chunks) == 1:
            x = np.empty(shape)
            block_sums = np.empty((n_blocks, 2))
            for blocks in chunks:
                rows = rows_of(cfg, blocks)
                block_sums[blocks.start:blocks.stop] = fill_blocks(cfg, blocks, labels[rows], columns, x[rows])
                bar.update(rows.stop - rows.start)
            mean, std = moments(block_sums, x.size)
            if standardize:
                x -= mean
                x /= std
        else:
            x, mean, std = _parallel_fill(cfg, chunks, labels, columns, shape, workers, bar, standardize)
    return x, labels, mean, std


def _parallel_fill(cfg: MNIST1DConfig, chunks: list[range], labels: np.ndarray, columns: np.ndarray | None,
                   shape: tuple[int, int], workers: int, bar, standardize: bool) -> tuple[np.ndarray, float, float]:
    """Fill a memory-mapped file (in RAM where ``/dev/shm`` exists) from worker processes, and standardize it
    there once the moments are known; the file is unlinked at the end and the returned array keeps its mapping
    alive."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.NamedTemporaryFile(prefix="mnist1d-fast-", suffix=".f64", dir=folder, delete=False) as f:
        f.truncate(shape[0] * shape[1] * 8)
        path = f.name
    block_sums = np.empty((chunks[-1].stop, 2))
    try:
        x = np.memmap(path, dtype=np.float64, mode="r+", shape=shape)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            try:
                futures = [pool.submit(_fill_shared, path, shape, cfg, c, labels[rows_of(cfg, c)], columns)
                           for c in chunks]
                for blocks, future in zip(chunks, futures):
                    block_sums[blocks.start:blocks.stop] = future.result()
                    bar.update(rows_of(cfg, blocks).stop - rows_of(cfg, blocks).start)
                mean, std = moments(block_sums, x.size)
                if standardize:
                    for future in [pool.submit(_standardize_shared, path, shape, rows_of(cfg, c), mean, std)
                                   for c in chunks]:
                        future.result()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
    finally:
        os.unlink(path)
    return np.asarray(x), mean, std


def fast_label_noise(y: np.ndarray, cfg: MNIST1DConfig) -> np.ndarray:
    """Resample ``cfg.label_noise`` of the labels uniformly, from the fast mode's own stream."""
    g = stream(cfg, LABEL_NOISE)
    flip = g.random(len(y)) < cfg.label_noise
    return np.where(flip, g.integers(0, NUM_CLASSES, len(y)), y)
