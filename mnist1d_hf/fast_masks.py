"""Fast mode, per mask: each example's noise drawn as one Gaussian vector, from as few normals as it has dimensions.

After the template is placed, everything is linear, and the correlated noise is kept only where the template is
exactly zero. Given that zero mask, the noise an example ends with (correlated, masked, plus iid, resampled to
``final_seq_length``) is one Gaussian vector whose covariance the mask alone decides. The templates leave a few
hundred distinct masks (384 by default), so each has its covariance factored once, and a row's noise is
``noise_rank = min(dilated_length, final_seq_length)`` standard normals times its mask's factor: 40 normals by
default where the step-by-step transform (``fast_rows``) draws 112, and the normals are most of the cost.

A block of ``BLOCK`` rows draws its rows' padding, scale, translation and shear, then the normals, handed out to
the rows sorted by mask, then by placement (padding, label, translation), then by row: each mask's rows take
their normals in one draw, straight into one product with the mask's factor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .config import MNIST1DConfig
from .fast_streams import PER_MASK, draw_scalars, stream
from .resample import resample, resample_matrix
from .templates import NUM_CLASSES, templates

BLOCK = 32_768  # rows per independent random stream and per grouping by mask: part of the stream, never change it
SLICE = 2048  # rows per elementwise step: small enough to stay in cache; does not change the output
TABLES_BUDGET = 256 * 2**20  # bytes of per-mask tables a config may need to use this method
# The reference's constants and padded templates, restated here without scipy: importing scipy.ndimage (through
# ``reference``) costs about half a second, as much as making 500,000 examples. The tests hold them equal.
EPS, CORR_NOISE_SIGMA, GAUSSIAN_TRUNCATE = 1e-8, 2.0, 4.0


def dilated_templates(cfg: MNIST1DConfig, pads: np.ndarray) -> dict[int, np.ndarray]:
    """``reference.dilated_templates``: for each padding length, the (10, D) padded-and-dilated templates."""
    base = templates() + EPS
    return {int(p): resample(np.concatenate([base, np.zeros((NUM_CLASSES, p))], axis=1), cfg.dilated_length)
            for p in np.unique(pads)}


@lru_cache(maxsize=8)
def padded_shapes(cfg: MNIST1DConfig) -> np.ndarray:
    """(P * 10, D): every padding's dilated templates, row ``pad_index * 10 + label``."""
    low, high = cfg.padding
    table = dilated_templates(cfg, np.arange(low, high + 1))
    return np.concatenate([table[p] for p in range(low, high + 1)])


def gaussian_filter_matrix(d: int, sigma: float) -> np.ndarray:
    """(d, d) F with ``v @ F`` equal to ``scipy.ndimage.gaussian_filter1d(v, sigma)`` (mode "reflect", the
    kernel truncated at 4 sigma) up to rounding."""
    radius = int(GAUSSIAN_TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    kernel /= kernel.sum()
    # output j reads input j + offset, reflected at the edges (d c b a | a b c d | d c b a)
    source = np.arange(d)[:, None] + offsets[None, :]
    source %= 2 * d
    source = np.where(source < d, source, 2 * d - 1 - source)
    matrix = np.zeros((d, d))
    np.add.at(matrix, (source, np.repeat(np.arange(d)[:, None], len(offsets), axis=1)), kernel[None, :])
    return matrix


def table_bytes(cfg: MNIST1DConfig) -> int:
    """About the memory of ``mask_plan(cfg)`` while it is built: the factors (masks x rank x L) and, per
    placement, the template at both lengths. The masks are counted as rotations of the padded templates' zeros."""
    low, high = cfg.padding
    zeros, _ = distinct_rows(padded_shapes(cfg) == 0)
    masks = len(zeros) * cfg.max_translation
    placements = (high - low + 1) * NUM_CLASSES * cfg.max_translation
    return 8 * (masks * noise_rank(cfg) * cfg.final_seq_length
                + placements * (cfg.final_seq_length + 2 * cfg.dilated_length))


def fits(cfg: MNIST1DConfig) -> bool:
    """Whether the config uses this method (else ``fast_rows``): its tables fit ``TABLES_BUDGET``."""
    return table_bytes(cfg) <= TABLES_BUDGET


def noise_rank(cfg: MNIST1DConfig) -> int:
    """Normals drawn per row: the dimension the final noise can span (it is resampled from the dilated length)."""
    return min(cfg.dilated_length, cfg.final_seq_length)


@dataclass(frozen=True)
class MaskPlan:
    """Everything about a config that is the same for every example, precomputed once per process and shared by
    its worker threads. The noise factors are computed on demand: all of them before a dataset of several blocks,
    only those a block needs for a single one (a small dataset needs few of them).

    A row's placement is ``(pad_index * 10 + label) * max_translation + shift``.
    """

    key_of: np.ndarray  # (placements,): the placement's position when placements are sorted by mask, then number
    mask_of: np.ndarray  # (placements,): which zero mask the placed template leaves
    placed: np.ndarray  # (placements, L) by key: the translated template, resampled (before scaling)
    shear_profile: np.ndarray  # (L,): the shear ramp, resampled
    masks: np.ndarray  # (masks, D): 1 where the correlated noise is kept
    downsample: np.ndarray  # (D, L): the final linear resampling
    factors: np.ndarray  # (masks, r, L): G with G.T @ G the final noise covariance under that mask
    ready: np.ndarray  # (masks,): whether the mask's factor has been computed
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)  # one writer at a time

    def factors_for(self, cfg: MNIST1DConfig, needed: np.ndarray) -> np.ndarray:
        """Compute the factors of the masks ``needed`` that are not ready yet (each factor depends on its mask
        alone, whichever masks it is computed with); return all factors. Worker threads take turns, so a factor
        is computed once and read only once it is complete."""
        with self.lock:
            missing = needed[~self.ready[needed]]
            if len(missing):
                self.factors[missing] = noise_factors(cfg, self.masks[missing], self.downsample)
                self.ready[missing] = True
        return self.factors


@lru_cache(maxsize=8)
def mask_plan(cfg: MNIST1DConfig) -> MaskPlan:
    """The config's constant tables, built once per process."""
    d, shifts = cfg.dilated_length, cfg.max_translation
    shapes = padded_shapes(cfg)
    # shifting a row circularly by s is the window at d - s of the row written twice
    windows = sliding_window_view(np.concatenate([shapes, shapes], axis=1), d, axis=1)
    translated = windows[:, d - np.arange(shifts)].reshape(-1, d)
    downsample = resample_matrix(d, cfg.final_seq_length)
    masks, mask_of = distinct_rows(translated == 0)
    by_key = np.argsort(mask_of, kind="stable")
    key_of = np.empty(len(by_key), dtype=np.min_scalar_type(len(by_key) - 1))
    key_of[by_key] = np.arange(len(by_key))
    return MaskPlan(key_of=key_of, mask_of=mask_of, placed=translated[by_key] @ downsample,
                    shear_profile=np.linspace(-0.5, 0.5, d) @ downsample, masks=masks.astype(np.float64),
                    downsample=downsample, ready=np.zeros(len(masks), dtype=bool),
                    factors=np.empty((len(masks), noise_rank(cfg), cfg.final_seq_length)))


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a boolean matrix (in the order of their bits) and each row's index among them, in the
    smallest unsigned type that holds it, which numpy sorts by radix."""
    packed = np.packbits(rows, axis=1)
    words = np.zeros((len(rows), -(-packed.shape[1] // 8) * 8), dtype=np.uint8)
    words[:, :packed.shape[1]] = packed
    words = words.view(">u8")  # big-endian: comparing words compares the bits in order
    order = np.lexsort(words.T[::-1])
    starts = np.concatenate([[True], np.any(words[order[1:]] != words[order[:-1]], axis=1)])
    index = np.empty(len(rows), dtype=np.min_scalar_type(max(np.count_nonzero(starts) - 1, 0)))
    index[order] = np.cumsum(starts) - 1
    return rows[order[starts]], index


def noise_factors(cfg: MNIST1DConfig, masks: np.ndarray, downsample: np.ndarray) -> np.ndarray:
    """For each zero mask (1 where the correlated noise is kept), a factor G of the covariance of the noise an
    example ends with: the masked, filtered normals plus the iid normals, resampled. ``z @ G`` with z standard
    normal has that covariance; G has ``noise_rank`` rows."""
    d, length = cfg.dilated_length, cfg.final_seq_length
    # the reference filters corr_noise_scale * normals: as rows, normals @ filter_matrix
    filter_matrix = cfg.corr_noise_scale * gaussian_filter_matrix(d, CORR_NOISE_SIGMA)
    corr_cov = filter_matrix.T @ filter_matrix
    iid_var = cfg.iid_noise_scale ** 2
    if length > d:  # the noise spans only d dimensions: factor it at the dilated length, then resample
        cov = masks[:, :, None] * corr_cov * masks[:, None, :] + iid_var * np.eye(d)
        return psd_factor(cov) @ downsample
    # downsample.T @ (masked corr_cov) @ downsample, using that each output point has two neighbours
    cov = np.broadcast_to(iid_var * (downsample.T @ downsample), (len(masks), length, length)).copy()
    pairs = neighbours(downsample)
    for a, weight_a in pairs:
        for b, weight_b in pairs:
            cov += (np.outer(weight_a, weight_b) * corr_cov[np.ix_(a, b)]) * masks[:, a, None] * masks[:, None, b]
    return psd_factor(cov)


def neighbours(downsample: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The linear resampling as its two neighbours per output point: (input index, weight) for the left and the
    right one (weight 0 where a point lands on an input point and reads only that one)."""
    nonzero = downsample != 0
    columns = np.arange(downsample.shape[1])
    left = np.argmax(nonzero, axis=0)
    right = len(downsample) - 1 - np.argmax(nonzero[::-1], axis=0)
    right_weight = np.where(right != left, downsample[right, columns], 0.0)
    assert np.count_nonzero(nonzero) == np.count_nonzero(right_weight) + np.count_nonzero(downsample[left, columns])
    return [(left, downsample[left, columns]), (right, right_weight)]


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """G with ``G^T G = cov`` for a stack of symmetric positive semidefinite matrices, each on its own: the
    (transposed) Cholesky factor, or, for a singular matrix (no iid noise), the square root from the
    eigendecomposition."""
    try:
        return np.ascontiguousarray(np.linalg.cholesky(cov).transpose(0, 2, 1))
    except np.linalg.LinAlgError:
        return np.stack([psd_factor_one(c) for c in cov])


def psd_factor_one(cov: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov).T
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(cov)
        return np.sqrt(np.clip(values, 0, None))[:, None] * vectors.T


def draw_block(cfg: MNIST1DConfig, block: int, n: int) -> tuple[np.ndarray, ...]:
    """The block's random numbers alone, in stream order (the speed floor): the scalars, then the normals."""
    g = stream(cfg, PER_MASK, block)
    return (*draw_scalars(g, cfg, n), g.standard_normal((n, noise_rank(cfg))))


def block_examples(cfg: MNIST1DConfig, block: int, labels: np.ndarray, columns: np.ndarray | None,
                   out: np.ndarray) -> tuple[float, float]:
    """Write one block's unnormalized examples (rows with the given labels) into ``out``; return their sum and
    sum of squares.

    The rows are sorted by mask, then placement, then row; in that order each mask's rows draw their normals in
    one call, and one matrix product with the mask's factor writes their noise. The template
    and shear follow on slices small enough to stay in cache, read from the placement-sorted table almost in
    order, and each slice is moved to its rows.
    """
    plan = mask_plan(cfg)
    n = len(labels)
    g = stream(cfg, PER_MASK, block)
    pad, scale_u, shift, shear_u = draw_scalars(g, cfg, n)
    placement = (pad * NUM_CLASSES + labels) * cfg.max_translation + shift
    key = plan.key_of[placement]
    order = np.argsort(key, kind="stable")  # keys are stored in the smallest integer type: a radix sort
    counts = np.bincount(plan.mask_of[placement], minlength=len(plan.masks))
    factors = plan.factors_for(cfg, np.flatnonzero(counts))

    x = np.empty((n, cfg.final_seq_length))
    normals = np.empty((counts.max(), noise_rank(cfg)))
    start = 0
    for m in np.flatnonzero(counts):
        end = start + counts[m]
        np.matmul(g.standard_normal(out=normals[:end - start]), factors[m], out=x[start:end])
        start = end

    key, scale, shear = key[order], 1 + cfg.scale_coeff * (scale_u[order] - 0.5), \
        cfg.shear_scale * (shear_u[order] - 0.5)
    total = total_sq = 0.0
    part = np.empty((min(n, SLICE), cfg.final_seq_length))
    for a in range(0, n, SLICE):
        b = min(n, a + SLICE)
        xs, ps = x[a:b], part[:b - a]
        np.take(plan.placed, key[a:b], axis=0, out=ps)
        ps *= scale[a:b, None]
        xs += ps
        np.multiply.outer(shear[a:b], plan.shear_profile, out=ps)
        xs -= ps
        as_items(out)[order[a:b]] = as_items(xs if columns is None else np.take(xs, columns, axis=1))
        total += xs.sum()
        total_sq += np.vdot(xs, xs)
    return total, total_sq


def as_items(rows: np.ndarray) -> np.ndarray:
    """A C-contiguous matrix as a vector of opaque rows: moving rows by index copies whole rows at once."""
    return rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize)))[:, 0]
