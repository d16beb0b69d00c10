"""Fast mode: the same transforms on a counter-based random stream, vectorized in fixed-size blocks.

This is NOT the paper's random stream: a config in fast mode gives different examples than in reference mode,
drawn from the same distribution. Every block of ``BLOCK`` output rows has its own generator, seeded by
``SeedSequence(seed, spawn_key=(1, block))``; labels and the column permutation come from
``SeedSequence(seed, spawn_key=(0,))`` and label noise from ``spawn_key=(2,)``. So the output for a seed is the same whatever the chunk size or the
number of worker processes: they only decide which blocks are computed together and where.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter1d
from threadpoolctl import threadpool_limits

from .config import MNIST1DConfig
from .errors import ConfigError
from .progress import progress_bar
from .reference import CORR_NOISE_SIGMA, dilated_templates
from .resample import resample_matrix
from .templates import NUM_CLASSES

BLOCK = 4096  # rows per independent random stream; part of the stream's definition, never change it
PROGRESS_THRESHOLD = 200_000
GLOBAL_STREAM, BLOCK_STREAM, LABEL_NOISE_STREAM = 0, 1, 2


def _generator(cfg: MNIST1DConfig, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(cfg.seed, spawn_key=key)))


def row_labels_and_columns(cfg: MNIST1DConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """Balanced labels in their final (shuffled) row order, and the column permutation if ``shuffle_seq``."""
    g = _generator(cfg, GLOBAL_STREAM)
    labels = g.permutation(np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), cfg.samples_per_class))
    columns = g.permutation(cfg.final_seq_length) if cfg.shuffle_seq else None
    return labels, columns


@dataclass(frozen=True)
class FastPlan:
    """Everything about a config that is the same for every example, precomputed once per process."""

    translated: np.ndarray  # (P * 10, D + 1, D) view: [padding * 10 + label, D - shift] is a translated template
    corr_filter: np.ndarray  # (D, D): scale times the Gaussian filter, as a matrix on the normals
    downsample: np.ndarray  # (D, L): the final linear resampling
    iid_mix: np.ndarray  # (r, L): r normals mapped to iid noise already resampled (same covariance)
    shear_profile: np.ndarray  # (L,): the shear ramp, resampled


@lru_cache(maxsize=8)
def fast_plan(cfg: MNIST1DConfig) -> FastPlan:
    """The config's constant tables, built once per process (workers build their own)."""
    low, high = cfg.padding
    d = cfg.dilated_length
    table = dilated_templates(cfg, np.arange(low, high + 1))
    downsample = resample_matrix(d, cfg.final_seq_length)
    _, singular, vt = np.linalg.svd(downsample, full_matrices=False)
    shapes = np.concatenate([table[p] for p in range(low, high + 1)])
    # every circular shift of a row is a window of the row written twice: a view, no copies
    return FastPlan(
        translated=sliding_window_view(np.concatenate([shapes, shapes], axis=1), d, axis=1),
        corr_filter=cfg.corr_noise_scale * gaussian_filter1d(np.eye(d), CORR_NOISE_SIGMA, axis=1),
        downsample=downsample,
        iid_mix=cfg.iid_noise_scale * singular[:, None] * vt,
        shear_profile=np.linspace(-0.5, 0.5, d) @ downsample,
    )


def draw_block(cfg: MNIST1DConfig, block: int, n: int) -> tuple[np.ndarray, ...]:
    """The block's random numbers alone: padding, scale, translation, shear, and the noise normals."""
    g = _generator(cfg, BLOCK_STREAM, block)
    low, high = cfg.padding
    plan = fast_plan(cfg)
    pad = g.integers(0, high - low + 1, n)
    scale_u = g.random(n)
    shift = g.integers(0, cfg.max_translation, n)
    shear_u = g.random(n)
    corr_normals = g.standard_normal((n, cfg.dilated_length))
    iid_normals = g.standard_normal((n, plan.iid_mix.shape[0]))
    return pad, scale_u, shift, shear_u, corr_normals, iid_normals


def block_examples(cfg: MNIST1DConfig, block: int, labels: np.ndarray) -> np.ndarray:
    """Unnormalized examples for one block of rows with the given labels.

    The reference's steps, reordered where maths allows: the translated template is one row gather from a
    small table of windows, and everything after the noise mask is linear, so the iid noise and the shear are added after the
    final resampling (the iid noise drawn directly with its resampled covariance: fewer normals to draw).
    """
    plan = fast_plan(cfg)
    d = cfg.dilated_length
    pad, scale_u, shift, shear_u, corr_normals, iid_normals = draw_block(cfg, block, len(labels))
    x = plan.translated[pad * NUM_CLASSES + labels, d - shift]
    x *= (1 + cfg.scale_coeff * (scale_u - 0.5))[:, None]
    np.copyto(x, corr_normals @ plan.corr_filter, where=x == 0)
    out = x @ plan.downsample
    out += iid_normals @ plan.iid_mix
    out -= (cfg.shear_scale * (shear_u - 0.5))[:, None] * plan.shear_profile[None, :]
    return out


def fill_blocks(cfg: MNIST1DConfig, blocks: range, labels: np.ndarray, columns: np.ndarray | None,
                out: np.ndarray) -> np.ndarray:
    """Write the rows of consecutive blocks into ``out`` (their rows only); return each block's sum and sum of
    squares, from which the dataset-wide mean and std follow without another pass over the data."""
    sums = np.empty((len(blocks), 2))
    # the matrices are small: one BLAS thread per process is fastest, and never oversubscribes the cores
    with threadpool_limits(1, user_api="blas"):
        for i, b in enumerate(blocks):
            rows = slice((b - blocks.start) * BLOCK, (b - blocks.start + 1) * BLOCK)
            x = block_examples(cfg, b, labels[rows])
            out[rows] = x if columns is None else x[:, columns]
            sums[i] = x.sum(), np.vdot(x, x)
    return sums


def _fill_shared(path: str, shape: tuple[int, int], cfg: MNIST1DConfig, blocks: range, labels: np.ndarray,
                 columns: np.ndarray | None) -> np.ndarray:
    """``fill_blocks`` in a worker process, writing straight into the output file mapped by every process."""
    out = np.memmap(path, dtype=np.float64, mode="r+", shape=shape)
    return fill_blocks(cfg, blocks, labels, columns, out[blocks.start * BLOCK:blocks.stop * BLOCK])


def fast_examples(cfg: MNIST1DConfig, chunk_size: int = 8 * BLOCK, workers: int | None = 1,
                  show_progress: bool | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Unnormalized examples, labels, and the mean and std of all values.

    ``chunk_size`` rows (rounded up to whole blocks) make one task; ``workers`` > 1 (None: all cores) spreads
    tasks over processes, which write into one shared memory-mapped output, so no rows are copied between
    processes. Memory stays at the output array: the moments are summed per block.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size={chunk_size!r}: expected a positive number of rows")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ConfigError(f"workers={workers!r}: expected a positive number of processes (or None for all)")
    labels, columns = row_labels_and_columns(cfg)
    n_blocks = -(-cfg.total // BLOCK)
    per_chunk = max(1, -(-chunk_size // BLOCK))
    chunks = [range(b, min(n_blocks, b + per_chunk)) for b in range(0, n_blocks, per_chunk)]
    shape = (cfg.total, cfg.final_seq_length)
    block_sums = np.empty((n_blocks, 2))

    with progress_bar(cfg.total, "fast generation", show_progress, PROGRESS_THRESHOLD) as bar:
        if workers == 1 or len(chunks) == 1:
            x = np.empty(shape)
            for blocks in chunks:
                rows = slice(blocks.start * BLOCK, blocks.stop * BLOCK)
                block_sums[blocks.start:blocks.stop] = fill_blocks(cfg, blocks, labels[rows], columns, x[rows])
                bar.update(len(labels[rows]))
        else:
            x = _parallel_fill(cfg, chunks, labels, columns, shape, workers, block_sums, bar)
    mean, mean_sq = block_sums.sum(0) / x.size
    return x, labels, mean, float(np.sqrt(mean_sq - mean**2))


def _parallel_fill(cfg: MNIST1DConfig, chunks: list[range], labels: np.ndarray, columns: np.ndarray | None,
                   shape: tuple[int, int], workers: int, block_sums: np.ndarray, bar) -> np.ndarray:
    """Fill a memory-mapped file (in RAM where ``/dev/shm`` exists) from worker processes; the file is unlinked
    at the end and the returned array keeps its mapping alive."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.NamedTemporaryFile(prefix="mnist1d-fast-", suffix=".f64", dir=folder, delete=False) as f:
        f.truncate(shape[0] * shape[1] * 8)
        path = f.name
    try:
        x = np.memmap(path, dtype=np.float64, mode="r+", shape=shape)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_fill_shared, path, shape, cfg, c, labels[c.start * BLOCK:c.stop * BLOCK],
                                   columns) for c in chunks]
            try:
                for blocks, future in zip(chunks, futures):
                    block_sums[blocks.start:blocks.stop] = future.result()
                    bar.update(len(labels[blocks.start * BLOCK:blocks.stop * BLOCK]))
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
    finally:
        os.unlink(path)
    return np.asarray(x)


def fast_label_noise(y: np.ndarray, cfg: MNIST1DConfig) -> np.ndarray:
    """Resample ``cfg.label_noise`` of the labels uniformly, from the fast mode's own stream."""
    g = _generator(cfg, LABEL_NOISE_STREAM)
    flip = g.random(len(y)) < cfg.label_noise
    return np.where(flip, g.integers(0, NUM_CLASSES, len(y)), y)
