"""The spatial structure of a first-layer mask: how often a unit keeps runs of adjacent input weights.

A ticket found on signals with spatial structure may keep neighbouring input positions together more often than
chance; for a mask whose entries survive independently with density d, a window of w adjacent entries is all kept
with probability d ** w.
"""

from __future__ import annotations

import numpy as np
import torch


def adjacency(mask: np.ndarray | torch.Tensor, window: int = 3) -> float:
    """Fraction of windows of ``window`` adjacent input weights that are all kept, per unit, mean over units.

    ``mask`` is a first-layer mask (units, inputs), nonzero = kept."""
    kept = np.asarray(mask) != 0
    if kept.ndim != 2 or not 1 <= window <= kept.shape[1]:
        raise ValueError(f"mask of shape {kept.shape} and window={window}: expected (units, inputs), "
                         f"1 <= window <= inputs")
    width = kept.shape[1] - window + 1
    windows = np.ones((kept.shape[0], width), dtype=bool)
    for offset in range(window):
        windows &= kept[:, offset:offset + width]
    return float(windows.mean(axis=1).mean())
