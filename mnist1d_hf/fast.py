"""Fast mode: the same transforms on a counter-based random stream, vectorized in fixed-size blocks.

This is NOT the paper's random stream: a config in fast mode gives different examples than in reference mode,
drawn from the same distribution. Every block of ``BLOCK`` output rows has its own generator, seeded by
``SeedSequence(seed, spawn_key=(1, block))``; labels and the column permutation come from
``SeedSequence(seed, spawn_key=(0,))``. So the output for a seed is the same whatever the chunk size or the
number of worker processes: they only decide which blocks are computed together and where.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .config import MNIST1DConfig
from .progress import progress_bar
from .reference import CORR_NOISE_SIGMA, dilated_templates
from .resample import resample
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


@lru_cache(maxsize=8)
def _template_table(cfg: MNIST1DConfig) -> np.ndarray:
    """(P, 10, D): the dilated templates for every padding length low..high."""
    low, high = cfg.padding
    table = dilated_templates(cfg, np.arange(low, high + 1))
    return np.stack([table[p] for p in range(low, high + 1)])


def draw_block(cfg: MNIST1DConfig, block: int, n: int) -> tuple[np.ndarray, ...]:
    """The block's random numbers alone: pad, scale, shift and shear variables and 2 x D normals per row."""
    g = _generator(cfg, BLOCK_STREAM, block)
    low, high = cfg.padding
    d = cfg.dilated_length
    pad = g.integers(0, high - low + 1, n)
    scale_u = g.random(n)
    shift = g.integers(0, cfg.max_translation, n)
    shear_u = g.random(n)
    normals = g.standard_normal((2, n, d))
    return pad, scale_u, shift, shear_u, normals


def block_examples(cfg: MNIST1DConfig, block: int, labels: np.ndarray) -> np.ndarray:
    """Unnormalized examples for one block of rows with the given labels."""
    n, d = len(labels), cfg.dilated_length
    pad, scale_u, shift, shear_u, normals = draw_block(cfg, block, n)
    x = _template_table(cfg)[pad, labels]
    x *= (1 + cfg.scale_coeff * (scale_u - 0.5))[:, None]
    x = np.take_along_axis(x, (np.arange(d)[None, :] - shift[:, None]) % d, axis=1)
    normals[0] *= cfg.corr_noise_scale
    corr = gaussian_filter1d(normals[0], CORR_NOISE_SIGMA, axis=1)
    x = np.where(x != 0, x, corr)
    x += cfg.iid_noise_scale * normals[1]
    x -= (cfg.shear_scale * (shear_u - 0.5))[:, None] * np.linspace(-0.5, 0.5, d)[None, :]
    return resample(x, cfg.final_seq_length)


def _blocks_task(cfg: MNIST1DConfig, blocks: range, labels: np.ndarray, columns: np.ndarray | None
                 ) -> np.ndarray:
    start = blocks.start * BLOCK
    x = np.concatenate([block_examples(cfg, b, labels[b * BLOCK - start:(b + 1) * BLOCK - start])
                        for b in blocks])
    return x if columns is None else x[:, columns]


def fast_examples(cfg: MNIST1DConfig, chunk_size: int = 8 * BLOCK, workers: int | None = 1,
                  show_progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalized examples and labels; ``chunk_size`` rows (rounded to whole blocks) per task.

    ``workers`` > 1 (None: all cores) spreads chunks over processes; memory stays at the output array plus
    one chunk per worker.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r}: expected a positive number of rows")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers={workers!r}: expected a positive number of processes (or None for all)")
    labels, columns = row_labels_and_columns(cfg)
    n_blocks = -(-cfg.total // BLOCK)
    per_chunk = max(1, -(-chunk_size // BLOCK))
    chunks = [range(b, min(n_blocks, b + per_chunk)) for b in range(0, n_blocks, per_chunk)]
    x = np.empty((cfg.total, cfg.final_seq_length))

    def task_labels(blocks: range) -> np.ndarray:
        return labels[blocks.start * BLOCK:blocks.stop * BLOCK]

    with progress_bar(cfg.total, "fast generation", show_progress, PROGRESS_THRESHOLD) as bar:
        if workers == 1 or len(chunks) == 1:
            results = (_blocks_task(cfg, c, task_labels(c), columns) for c in chunks)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=workers)
            results = pool.map(_blocks_task, [cfg] * len(chunks), chunks, map(task_labels, chunks),
                               [columns] * len(chunks))
        try:
            for blocks, rows in zip(chunks, results):
                x[blocks.start * BLOCK:blocks.start * BLOCK + len(rows)] = rows
                bar.update(len(rows))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    return x, labels


def fast_label_noise(y: np.ndarray, cfg: MNIST1DConfig) -> np.ndarray:
    """Resample ``cfg.label_noise`` of the labels uniformly, from the fast mode's own stream."""
    g = _generator(cfg, LABEL_NOISE_STREAM)
    flip = g.random(len(y)) < cfg.label_noise
    return np.where(flip, g.integers(0, NUM_CLASSES, len(y)), y)
