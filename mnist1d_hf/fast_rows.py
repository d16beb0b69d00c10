"""Fast mode, per row: each example's noise drawn step by step at the dilated length (the first fast stream).

Used for configs whose per-mask tables (``fast_masks``) would not fit their memory budget, such as long
sequences with wide padding ranges: here the tables are only the padded templates and a few matrices. It draws
``dilated_length + min(dilated_length, final_seq_length)`` normals per row (112 by default) where the per-mask
method draws ``min(dilated_length, final_seq_length)`` (40). Its output is the fast mode's output from before the
per-mask method, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter1d

from .config import MNIST1DConfig
from .fast_streams import PER_ROW, draw_scalars, stream
from .reference import CORR_NOISE_SIGMA, dilated_templates
from .resample import resample_matrix
from .templates import NUM_CLASSES

BLOCK = 4096  # rows per independent random stream; part of the stream's definition, never change it


@dataclass(frozen=True)
class RowPlan:
    """Everything about a config that is the same for every example, precomputed once per process."""

    translated: np.ndarray  # (P * 10, D + 1, D) view: [padding * 10 + label, D - shift] is a translated template
    corr_filter: np.ndarray  # (D, D): scale times the Gaussian filter, as a matrix on the normals
    downsample: np.ndarray  # (D, L): the final linear resampling
    iid_mix: np.ndarray  # (r, L): r normals mapped to iid noise already resampled (same covariance)
    shear_profile: np.ndarray  # (L,): the shear ramp, resampled


@lru_cache(maxsize=8)
def row_plan(cfg: MNIST1DConfig) -> RowPlan:
    """The config's constant tables, built once per process."""
    low, high = cfg.padding
    d = cfg.dilated_length
    table = dilated_templates(cfg, np.arange(low, high + 1))
    downsample = resample_matrix(d, cfg.final_seq_length)
    _, singular, vt = np.linalg.svd(downsample, full_matrices=False)
    shapes = np.concatenate([table[p] for p in range(low, high + 1)])
    # every circular shift of a row is a window of the row written twice: a view, no copies
    return RowPlan(
        translated=sliding_window_view(np.concatenate([shapes, shapes], axis=1), d, axis=1),
        corr_filter=cfg.corr_noise_scale * gaussian_filter1d(np.eye(d), CORR_NOISE_SIGMA, axis=1),
        downsample=downsample,
        iid_mix=cfg.iid_noise_scale * singular[:, None] * vt,
        shear_profile=np.linspace(-0.5, 0.5, d) @ downsample,
    )


def draw_block(cfg: MNIST1DConfig, block: int, n: int) -> tuple[np.ndarray, ...]:
    """The block's random numbers alone: padding, scale, translation, shear, and the noise normals."""
    g = stream(cfg, PER_ROW, block)
    pad, scale_u, shift, shear_u = draw_scalars(g, cfg, n)
    corr_normals = g.standard_normal((n, cfg.dilated_length))
    iid_normals = g.standard_normal((n, row_plan(cfg).iid_mix.shape[0]))
    return pad, scale_u, shift, shear_u, corr_normals, iid_normals


def block_examples(cfg: MNIST1DConfig, block: int, labels: np.ndarray, columns: np.ndarray | None,
                   out: np.ndarray) -> tuple[float, float]:
    """Write one block's unnormalized examples (rows with the given labels) into ``out``; return their sum and
    sum of squares.

    The reference's steps, reordered where maths allows: the translated template is one row gather from a
    small table of windows, and everything after the noise mask is linear, so the iid noise and the shear are
    added after the final resampling (the iid noise drawn directly with its resampled covariance).
    """
    plan = row_plan(cfg)
    d = cfg.dilated_length
    pad, scale_u, shift, shear_u, corr_normals, iid_normals = draw_block(cfg, block, len(labels))
    x = plan.translated[pad * NUM_CLASSES + labels, d - shift]
    x *= (1 + cfg.scale_coeff * (scale_u - 0.5))[:, None]
    np.copyto(x, corr_normals @ plan.corr_filter, where=x == 0)
    examples = x @ plan.downsample
    examples += iid_normals @ plan.iid_mix
    examples -= (cfg.shear_scale * (shear_u - 0.5))[:, None] * plan.shear_profile[None, :]
    out[:] = examples if columns is None else examples[:, columns]
    return examples.sum(), np.vdot(examples, examples)
