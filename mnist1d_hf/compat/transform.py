"""The reference package's per-example ``transform(x, y, args)``, drawing from numpy's global random state.

The same operations, in the same order and with the same arithmetic, as the reference: so a loop that calls it
after ``set_seed`` gives the reference's numbers bit for bit. ``make_dataset`` does not loop over it (it uses the
vectorized reference mode); it is here for code that transforms its own signals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..resample import resample

CORR_NOISE_SIGMA = 2.0


def pad(x: np.ndarray, padding: Any) -> np.ndarray:
    """Append ``low + int(rand() * (high - low + 1))`` zeros (one uniform draw)."""
    low, high = padding
    p = low + int(np.random.rand() * (high - low + 1))
    return np.concatenate([x, np.zeros(p)])


def shear(x: np.ndarray, scale: float = 10) -> np.ndarray:
    """Subtract a random linear trend (one uniform draw)."""
    coeff = scale * (np.random.rand() - 0.5)
    return x - coeff * np.linspace(-0.5, 0.5, len(x))


def translate(x: np.ndarray, max_translation: int) -> np.ndarray:
    """Roll right by ``choice(max_translation)`` positions."""
    k = np.random.choice(max_translation)
    return np.concatenate([x[-k:], x[:-k]])


def corr_noise_like(x: np.ndarray, scale: float) -> np.ndarray:
    return gaussian_filter1d(scale * np.random.randn(*x.shape), CORR_NOISE_SIGMA)


def iid_noise_like(x: np.ndarray, scale: float) -> np.ndarray:
    return scale * np.random.randn(*x.shape)


def interpolate(x: np.ndarray, n: int) -> np.ndarray:
    """Linear resampling of a 1-D signal to ``n`` points on [0, 1] (the arithmetic of ``numpy.interp``)."""
    return resample(np.asarray(x, dtype=np.float64), n)


def transform(x: np.ndarray, y: np.ndarray, args: Any, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Pad, dilate, scale, translate, add correlated and iid noise, shear and subsample one 1-D signal.

    ``y`` (the time axis) is resampled alongside. ``args`` needs ``padding``, ``template_len``, ``scale_coeff``,
    ``max_translation``, ``corr_noise_scale``, ``iid_noise_scale``, ``shear_scale`` and ``final_seq_length``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x has shape {x.shape}: transform takes one 1-D signal")
    dilated = args.template_len + args.padding[-1]
    new_x = interpolate(pad(x + eps, args.padding), dilated)
    new_y = interpolate(y, dilated)
    new_x *= 1 + args.scale_coeff * (np.random.rand() - 0.5)
    new_x = translate(new_x, args.max_translation)
    new_x = np.where(new_x != 0, new_x, corr_noise_like(new_x, args.corr_noise_scale))
    new_x = new_x + iid_noise_like(new_x, args.iid_noise_scale)
    new_x = shear(new_x, args.shear_scale)
    return interpolate(new_x, args.final_seq_length), interpolate(new_y, args.final_seq_length)
