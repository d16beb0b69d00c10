"""Reference mode: the paper's random stream, replayed exactly, with the arithmetic vectorized.

The reference generator transforms one example at a time and draws, per example and in this order: a uniform
for the padding, a uniform for the scale, a translation ``choice(max_translation)``, ``randn(D)`` correlated
noise, ``randn(D)`` iid noise and a uniform for the shear, all from numpy's legacy global MT19937 stream.
``draw_reference_stream`` makes the same draws in the same order (merging adjacent draws of one kind, which
leaves the stream unchanged) in a cheap loop; ``transform`` then does every example's arithmetic at once with
the very same floating-point operations.

Equality is with the reference package run on the same numpy/scipy arithmetic as today's (tested bit for bit).
The functions read a config's knobs by attribute, so the compat layer runs them on the looser configs the
reference package accepts (``mnist1d_hf.compat.knobs``); for ``MNIST1DConfig`` nothing below depends on that.

The paper's frozen ``mnist1d_data.pkl`` was made with older library arithmetic: its labels and ``t`` are ours
exactly (tested against its digests), while its ``x`` and ``x_test`` differ from ours in the last bits of some
values, how many depending on the numpy and scipy versions. Every value of ours lies more than 1e-14 from a
float32 rounding boundary (tested), so any such difference leaves the float32 values unchanged. Older
formulations of the interpolation, the Gaussian kernel and filter, and the standardization's sums were tried
against the file's digests; none reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .config import MNIST1DConfig
from .progress import progress_bar
from .resample import resample
from .templates import NUM_CLASSES, templates

EPS = 1e-8  # added to the template before padding so that only padding is exactly zero
CORR_NOISE_SIGMA = 2.0
PROGRESS_THRESHOLD = 200_000  # examples; smaller datasets generate in well under a second
PROGRESS_EVERY = 8192


@dataclass(frozen=True)
class ReferenceDraws:
    """Every random number of the per-example transforms, in generation order (class-major)."""

    pad_u: np.ndarray  # (N,) uniforms for the padding length
    scale_u: np.ndarray  # (N,) uniforms for the scale factor
    shift: np.ndarray  # (N,) translations in [0, max_translation)
    normals: np.ndarray  # (N, 2D): correlated-noise normals then iid-noise normals
    shear_u: np.ndarray  # (N,) uniforms for the shear


def draw_reference_stream(cfg: MNIST1DConfig, rng: np.random.RandomState,
                          show_progress: bool | None = None) -> ReferenceDraws:
    """Draw the per-example random numbers exactly as the reference loop does (the speed floor)."""
    n, d, m = cfg.total, cfg.dilated_length, cfg.max_translation
    uniforms = [rng.random_sample(2)]  # pad_0, scale_0
    shifts, normals = [], []
    randint, standard_normal, random_sample = rng.randint, rng.standard_normal, rng.random_sample
    with progress_bar(n, "reference draws", show_progress, PROGRESS_THRESHOLD) as bar:
        for start in range(0, n, PROGRESS_EVERY):
            stop = min(n, start + PROGRESS_EVERY)
            for i in range(start, stop):
                shifts.append(randint(m))
                normals.append(standard_normal(2 * d))
                # shear_i, then pad_{i+1} and scale_{i+1}: consecutive uniforms in the stream
                uniforms.append(random_sample(3 if i + 1 < n else 1))
            bar.update(stop - start)
    u = np.concatenate(uniforms)
    return ReferenceDraws(pad_u=u[0::3], scale_u=u[1::3], shift=np.asarray(shifts, dtype=np.int64),
                          normals=np.concatenate(normals).reshape(n, 2 * d), shear_u=u[2::3])


def dilated_templates(cfg: MNIST1DConfig, pads: np.ndarray) -> dict[int, np.ndarray]:
    """For each padding length used, the (10, D) padded-and-dilated templates (the data's only 250 shapes)."""
    base = templates() + EPS
    return {int(p): resample(np.concatenate([base, np.zeros((NUM_CLASSES, p))], axis=1), cfg.dilated_length)
            for p in np.unique(pads)}


def transform(cfg: MNIST1DConfig, labels: np.ndarray, draws: ReferenceDraws) -> np.ndarray:
    """Apply the reference transform to every example at once; returns (N, final_seq_length) float64."""
    low, high = cfg.padding
    d = cfg.dilated_length
    pads = low + (draws.pad_u * (high - low + 1)).astype(np.int64)
    table = dilated_templates(cfg, pads)
    x = np.empty((len(labels), d))
    for p, shapes in table.items():
        rows = pads == p
        x[rows] = shapes[labels[rows]]

    x *= (1 + cfg.scale_coeff * (draws.scale_u - 0.5))[:, None]
    # the reference rolls by k; a k of d or more (max_translation > d) leaves the signal as it is
    shift = np.where(draws.shift < d, draws.shift, 0)
    x = np.take_along_axis(x, (np.arange(d)[None, :] - shift[:, None]) % d, axis=1)

    corr = gaussian_filter1d(cfg.corr_noise_scale * draws.normals[:, :d], CORR_NOISE_SIGMA, axis=1)
    x = np.where(x != 0, x, corr)
    x = x + cfg.iid_noise_scale * draws.normals[:, d:]

    shear = cfg.shear_scale * (draws.shear_u - 0.5)
    x = x - shear[:, None] * np.linspace(-0.5, 0.5, d)[None, :]
    return resample(x, cfg.final_seq_length)


def reference_examples(cfg: MNIST1DConfig, show_progress: bool | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.random.RandomState]:
    """Unnormalized examples and labels in the reference's final row (and column) order.

    Returns the random state too: label noise continues the same stream.
    """
    rng = np.random.RandomState(cfg.seed)
    labels = np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), cfg.samples_per_class)
    x = transform(cfg, labels, draw_reference_stream(cfg, rng, show_progress))
    order = rng.permutation(cfg.total)
    x, labels = x[order], labels[order]
    if cfg.shuffle_seq:
        x = x[:, rng.permutation(cfg.final_seq_length)]
    return x, labels, rng


def reference_label_noise(y: np.ndarray, fraction: float, rng: np.random.RandomState) -> np.ndarray:
    """Resample ``fraction`` of labels uniformly, drawing as the double-descent protocol does, label by label."""
    y = y.copy()
    random_sample, randint = rng.random_sample, rng.randint
    for i in range(len(y)):
        if random_sample() < fraction:
            y[i] = randint(0, NUM_CLASSES)
    return y
