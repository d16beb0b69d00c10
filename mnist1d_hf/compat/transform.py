"""``mnist1d.transform`` of the reference package: its functions, signatures and results, on 1-D and 2-D input.

Each function draws from numpy's global random state exactly as the reference's does, so code that calls them
after ``set_seed`` gets the reference's numbers bit for bit. Their behaviour on 2-D arrays is the reference's
too, odd as it is: ``pad`` appends columns, ``translate`` and ``interpolate`` work along axis 0 (rows), the
correlated noise is smoothed along every axis, and ``shear`` broadcasts a trend of ``len(x)`` points against
the last axis. ``make_dataset`` does not loop over these (it uses the vectorized reference mode); they are for
code that transforms its own signals, custom templates and ``plot_signals(do_transform=True)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.interpolate import interp1d
from scipy.ndimage import gaussian_filter

CORR_NOISE_SIGMA = 2

__all__ = ["corr_noise_like", "iid_noise_like", "interpolate", "pad", "shear", "transform", "translate"]


def pad(x: np.ndarray, padding: Any) -> np.ndarray:
    """Append ``low + int(rand() * (high - low + 1))`` zeros to the last axis (one uniform draw)."""
    low, high = padding
    p = low + int(np.random.rand() * (high - low + 1))
    if len(x.shape) == 1:
        return np.concatenate([x, np.zeros(p)])
    return np.concatenate([x, np.zeros((x.shape[0], p))], axis=-1)


def shear(x: np.ndarray, scale: float = 10) -> np.ndarray:
    """Subtract a random linear trend of ``len(x)`` points (one uniform draw)."""
    coeff = scale * (np.random.rand() - 0.5)
    return x - coeff * np.linspace(-0.5, 0.5, len(x))


def translate(x: np.ndarray, max_translation: int) -> np.ndarray:
    """Roll along axis 0 by ``k = choice(max_translation)``; a ``k`` of ``len(x)`` or more leaves ``x`` as is."""
    k = np.random.choice(max_translation)
    return np.concatenate([x[-k:], x[:-k]])


def corr_noise_like(x: np.ndarray, scale: float) -> np.ndarray:
    """Gaussian noise of ``x``'s shape, smoothed with sigma 2 along every axis."""
    return gaussian_filter(scale * np.random.randn(*x.shape), CORR_NOISE_SIGMA)


def iid_noise_like(x: np.ndarray, scale: float) -> np.ndarray:
    """Gaussian noise of ``x``'s shape."""
    return scale * np.random.randn(*x.shape)


def interpolate(x: np.ndarray, N: int) -> np.ndarray:  # noqa: N803 - the reference's keyword
    """Linear resampling along axis 0 from ``len(x)`` to ``N`` points on [0, 1], by scipy's ``interp1d``.

    The reference's own call, so the results follow scipy exactly as the reference's do.
    """
    return interp1d(np.linspace(0, 1, len(x)), x, axis=0, kind="linear")(np.linspace(0, 1, N))


def transform(x: np.ndarray, y: np.ndarray, args: Any, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Pad, dilate, scale, translate, add correlated and iid noise, shear and subsample a signal.

    ``y`` (the time axis) is resampled alongside. ``args`` needs ``padding``, ``template_len``, ``scale_coeff``,
    ``max_translation``, ``corr_noise_scale``, ``iid_noise_scale``, ``shear_scale`` and ``final_seq_length``.
    """
    dilated = args.template_len + args.padding[-1]
    new_x = interpolate(pad(x + eps, args.padding), dilated)
    new_y = interpolate(y, dilated)
    new_x *= 1 + args.scale_coeff * (np.random.rand() - 0.5)
    new_x = translate(new_x, args.max_translation)
    mask = new_x != 0  # only the padding is exactly zero: it gets correlated noise, the signal keeps its values
    new_x = mask * new_x + (1 - mask) * corr_noise_like(new_x, args.corr_noise_scale)
    new_x = new_x + iid_noise_like(new_x, args.iid_noise_scale)
    new_x = shear(new_x, args.shear_scale)
    return interpolate(new_x, args.final_seq_length), interpolate(new_y, args.final_seq_length)
