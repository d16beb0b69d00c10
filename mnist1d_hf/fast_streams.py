"""Fast mode's random streams: which counter-based generator draws what.

Every stream is a PCG64 generator seeded by ``SeedSequence(cfg.seed, spawn_key=key)``. Labels and the column
permutation come from ``(0,)`` and label noise from ``(2,)``. The signals come from one stream per block of output
rows, ``(method, block)``: ``PER_MASK`` (blocks of ``fast_masks.BLOCK`` rows) for every config whose per-mask tables
fit their memory budget, ``PER_ROW`` (blocks of ``fast_rows.BLOCK`` rows, the first fast stream) for the others.
A block's numbers depend on its index only, so chunking and workers never change the output.
"""

from __future__ import annotations

import numpy as np

from .config import MNIST1DConfig
from .templates import NUM_CLASSES

GLOBAL, PER_ROW, LABEL_NOISE, PER_MASK = 0, 1, 2, 3


def stream(cfg: MNIST1DConfig, *key: int) -> np.random.Generator:
    """The generator keyed ``key`` under the config's seed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(cfg.seed, spawn_key=key)))


def row_labels_and_columns(cfg: MNIST1DConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """Balanced labels in their final (shuffled) row order, and the column permutation if ``shuffle_seq``."""
    g = stream(cfg, GLOBAL)
    labels = g.permutation(np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), cfg.samples_per_class))
    columns = g.permutation(cfg.final_seq_length) if cfg.shuffle_seq else None
    return labels, columns


def draw_scalars(g: np.random.Generator, cfg: MNIST1DConfig, n: int) -> tuple[np.ndarray, ...]:
    """A block's first draws, the same in both methods: each row's padding index, scale uniform, translation
    and shear uniform."""
    low, high = cfg.padding
    return (g.integers(0, high - low + 1, n), g.random(n), g.integers(0, cfg.max_translation, n), g.random(n))
