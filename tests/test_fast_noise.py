"""Fast mode's two methods. Per mask: one factor per zero mask must give exactly the noise covariance of the
reference's steps, and each placement the mask and resampled template the reference's steps give. Per row: the
first fast stream, kept bit for bit for the configs whose per-mask tables are too large. Both streams are pinned
so that any change to them is noticed."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from mnist1d_hf import fast, fast_masks, fast_rows, generate, variant_config
from mnist1d_hf.fast import fast_examples
from mnist1d_hf.fast_masks import BLOCK, distinct_rows, draw_block, mask_plan, noise_factors, noise_rank
from mnist1d_hf.fast_streams import row_labels_and_columns
from mnist1d_hf.reference import CORR_NOISE_SIGMA, dilated_templates
from mnist1d_hf.resample import resample, resample_matrix
from mnist1d_hf.templates import NUM_CLASSES


def covariance_by_the_reference_steps(cfg, mask):
    """The final noise covariance, from pushing each normal through the reference's own operations: the filter
    on the scaled correlated normals, the mask, the iid normals, the resampling."""
    d = cfg.dilated_length
    corr = gaussian_filter1d(cfg.corr_noise_scale * np.eye(d), CORR_NOISE_SIGMA, axis=1)
    corr = np.where(mask, corr, 0.0)  # kept where the template is zero
    rows = resample(np.concatenate([corr, cfg.iid_noise_scale * np.eye(d)]), cfg.final_seq_length)
    return rows.T @ rows


@pytest.mark.parametrize("overrides", [
    {},                                                 # 40 from 72: factored at the final length
    {"final_seq_length": 72},                           # the same length: the resampling is the identity
    {"final_seq_length": 100, "padding": [20, 30], "max_translation": 30},  # longer: at the dilated length
    {"final_seq_length": 7, "iid_noise_scale": 0.0},    # singular covariances: the eigendecomposition
    {"corr_noise_scale": 0.0, "iid_noise_scale": 0.0},  # no noise at all
])
def test_each_masks_factor_gives_the_reference_covariance(overrides):
    cfg = variant_config("standard", mode="fast", **overrides)
    d, length = cfg.dilated_length, cfg.final_seq_length
    rng = np.random.default_rng(0)
    masks = rng.random((6, d)) < 0.75
    masks[0] = True  # nothing placed
    factors = noise_factors(cfg, masks.astype(np.float64), resample_matrix(d, length))
    assert factors.shape == (6, noise_rank(cfg), length)
    for mask, factor in zip(masks, factors):
        expected = covariance_by_the_reference_steps(cfg, mask)
        np.testing.assert_allclose(factor.T @ factor, expected, rtol=0, atol=1e-14 * max(1.0, np.abs(expected).max()))
    if cfg.corr_noise_scale or cfg.iid_noise_scale:
        assert np.abs(factors).max() > 1e-3  # the comparison above is not between zeros


def test_every_placement_has_the_reference_template_and_zero_mask():
    cfg = variant_config("standard", mode="fast", padding=[30, 41], max_translation=30)
    plan = mask_plan(cfg)
    low, high = cfg.padding
    table = dilated_templates(cfg, np.arange(low, high + 1))
    zero_masks = []
    for pad in range(low, high + 1):
        for label in range(NUM_CLASSES):
            for shift in range(cfg.max_translation):
                placement = ((pad - low) * NUM_CLASSES + label) * cfg.max_translation + shift
                placed = np.roll(table[pad][label], shift)  # the reference translates with a circular shift
                np.testing.assert_allclose(plan.placed[plan.key_of[placement]], resample(placed, cfg.final_seq_length),
                                           rtol=1e-13, atol=1e-15)
                zero_masks.append((placed == 0, plan.mask_of[placement]))
    by_index = {}
    for zeros, index in zero_masks:  # one index per distinct mask, and distinct masks get distinct indices
        by_index.setdefault(int(index), zeros)
        np.testing.assert_array_equal(by_index[int(index)], zeros)
    assert len(by_index) == len({z.tobytes() for z, _ in zero_masks}) == len(plan.masks)


@pytest.mark.parametrize("columns", [5, 64, 130])
def test_distinct_rows(columns):
    rng = np.random.default_rng(columns)
    base = rng.random((7, columns)) < 0.5
    rows = base[rng.integers(0, 7, 500)]
    distinct, index = distinct_rows(rows)
    np.testing.assert_array_equal(distinct[index], rows)
    assert len({r.tobytes() for r in distinct}) == len(distinct) == len({r.tobytes() for r in rows})
    assert index.dtype == np.uint8


def test_blocks_draw_their_numbers_in_the_documented_order():
    """Scalars first, then the normals: the floor the bench times is exactly the block's stream."""
    cfg = variant_config("standard", mode="fast", num_samples=20_000, seed=3)
    pad, scale_u, shift, shear_u, normals = draw_block(cfg, 1, 100)
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(3, spawn_key=(3, 1))))
    np.testing.assert_array_equal(pad, g.integers(0, 25, 100))
    np.testing.assert_array_equal(scale_u, g.random(100))
    np.testing.assert_array_equal(shift, g.integers(0, 48, 100))
    np.testing.assert_array_equal(shear_u, g.random(100))
    np.testing.assert_array_equal(normals, g.standard_normal((100, 40)))


def test_the_stream_is_pinned():
    """A few values of a seed's dataset: any change to the stream (draws, their order, block size, factors)
    changes them. Written down when the per-mask stream was introduced; a tolerance allows BLAS rounding."""
    data = generate(variant_config("standard", mode="fast", num_samples=2 * BLOCK + 100, seed=7))
    np.testing.assert_array_equal(data.y_train[:12], PINNED_LABELS)
    np.testing.assert_allclose(data.x_train[0, :6], PINNED_FIRST_ROW, rtol=1e-10)
    np.testing.assert_allclose(data.x_test[-1, -6:], PINNED_LAST_ROW, rtol=1e-10)
    np.testing.assert_allclose(data.t[:3], PINNED_T, rtol=1e-10)


def test_labels_and_columns_are_todays():
    """The per-mask stream changed the signals only: labels and the column permutation come from the same global
    stream as before."""
    cfg = variant_config("shuffled", mode="fast", num_samples=1000, seed=11)
    labels, columns = row_labels_and_columns(cfg)
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(11, spawn_key=(0,))))
    np.testing.assert_array_equal(labels, g.permutation(np.repeat(np.arange(10), 100)))
    np.testing.assert_array_equal(columns, g.permutation(40))


def test_moments_are_those_of_the_output():
    cfg = variant_config("shuffled", mode="fast", num_samples=BLOCK + 777, seed=5)
    x, _, mean, std = fast_examples(cfg, chunk_size=1)
    assert mean == pytest.approx(x.mean(), rel=1e-12) and std == pytest.approx(x.std(), rel=1e-10)


PINNED_LABELS = [5, 4, 1, 3, 6, 1, 7, 5, 9, 9, 2, 5]
PINNED_FIRST_ROW = [-0.4504502453727273, 0.2800931010548842, 0.9332774374325743, 0.7689978405105419,
                    0.09559826998376823, 0.3832335142478775]
PINNED_LAST_ROW = [-0.32068799518729485, 0.030838164383400084, 0.8537929603707793, 1.182878858745046,
                   1.549931393804492, 1.18360057682867]
PINNED_T = [-5.387212293769172, -5.110944996652805, -4.834677699536436]


@pytest.fixture
def per_row_only(monkeypatch):
    """Every config made by the per-row method, as configs whose per-mask tables exceed the budget are."""
    monkeypatch.setattr(fast_masks, "TABLES_BUDGET", 0)
    fast.method.cache_clear()
    yield
    fast.method.cache_clear()


def test_the_per_row_method_is_the_first_fast_stream(per_row_only):
    """Values of the default fast config (seed 7) written down from the fast mode before the per-mask method."""
    cfg = variant_config("standard", mode="fast", seed=7)
    assert fast.method(cfg) is fast_rows
    data = generate(cfg)
    np.testing.assert_array_equal(data.y_train[:12], [1, 3, 1, 1, 9, 6, 4, 4, 3, 3, 0, 3])
    np.testing.assert_allclose(data.x_train[0, :6], [-0.4899476846483161, 0.03173888966849295, 0.5917928177470713,
                                                     0.6041270681492495, 0.9513933137455833, 1.5698570447887719],
                               rtol=1e-10)
    np.testing.assert_allclose(data.x_test[-1, -6:], [-0.46411608242119184, -0.5483761980053473, -1.0714414759269053,
                                                      -1.0421002180383891, -1.000842647270119, -1.0680192853291408],
                               rtol=1e-10)


def test_long_sequences_with_wide_padding_use_the_per_row_method():
    """200 points from 150-300 padding: the per-mask tables would take about 650 MB; the per-row stream is kept,
    and its output is the same however it is computed."""
    cfg = variant_config("standard", mode="fast", seed=7, final_seq_length=200, padding=[150, 300],
                  num_samples=2 * fast_rows.BLOCK + 300)
    assert fast_masks.table_bytes(cfg) > fast_masks.TABLES_BUDGET and fast.method(cfg) is fast_rows
    default = variant_config("standard", mode="fast")
    assert fast_masks.fits(default) and fast.method(default) is fast_masks
    runs = [generate(cfg), generate(cfg, chunk_size=1, workers=2)]
    for name in ("x_train", "y_train", "x_test", "y_test", "t"):
        np.testing.assert_array_equal(getattr(runs[1], name), getattr(runs[0], name))
    small = generate(cfg.replace(num_samples=300))  # the values written down from the first fast stream
    np.testing.assert_allclose(small.x_train[0, :4], [0.45653780426436497, 0.8903726919683012, 1.1080245983322348,
                                                      1.0106601027907989], rtol=1e-10)
    np.testing.assert_allclose(small.x_test[-1, -4:], [0.22733228753759738, -0.5891518503732558, -1.41751413438935,
                                                       -1.6666991432697893], rtol=1e-10)


@pytest.mark.parametrize("overrides", [{}, {"final_seq_length": 100, "padding": [20, 30], "max_translation": 30}])
def test_a_block_is_its_documented_recipe(overrides):
    """Rows sorted by (mask, placement, row) take the block's normals in turn; each row is its scaled template,
    minus its shear, plus its normals times its mask's factor; the rows land in their own places."""
    cfg = variant_config("shuffled", mode="fast", seed=9, **overrides)
    plan = mask_plan(cfg)
    labels = np.random.default_rng(0).integers(0, 10, 3000)
    columns = np.random.default_rng(1).permutation(cfg.final_seq_length)
    out = np.full((3000, cfg.final_seq_length), np.nan)
    total, total_sq = fast_masks.block_examples(cfg, 4, labels, columns, out)

    pad, scale_u, shift, shear_u, normals = draw_block(cfg, 4, 3000)
    factors = plan.factors_for(cfg, np.arange(len(plan.masks)))
    placement = (pad * 10 + labels) * cfg.max_translation + shift
    order = np.lexsort((np.arange(3000), placement, plan.mask_of[placement]))
    expected = np.empty_like(out)
    for z, row in zip(normals, order):
        p = placement[row]
        expected[row] = ((1 + cfg.scale_coeff * (scale_u[row] - 0.5)) * plan.placed[plan.key_of[p]]
                         - cfg.shear_scale * (shear_u[row] - 0.5) * plan.shear_profile
                         + z @ factors[plan.mask_of[p]])
    np.testing.assert_allclose(out, expected[:, columns], rtol=1e-12, atol=1e-14)
    assert total == pytest.approx(expected.sum(), rel=1e-12) and total_sq == pytest.approx((expected**2).sum())


@pytest.mark.parametrize("d", [2, 5, 9, 17, 72, 130])
def test_the_filter_matrix_and_templates_restated_without_scipy_are_the_references(d):
    from mnist1d_hf import reference

    v = np.random.default_rng(d).standard_normal((4, d))
    np.testing.assert_allclose(v @ fast_masks.gaussian_filter_matrix(d, reference.CORR_NOISE_SIGMA),
                               gaussian_filter1d(v, reference.CORR_NOISE_SIGMA, axis=1), rtol=0, atol=1e-15)
    assert (fast_masks.EPS, fast_masks.CORR_NOISE_SIGMA) == (reference.EPS, reference.CORR_NOISE_SIGMA)
    cfg = variant_config("standard", mode="fast", padding=[0, max(0, d - 12)], template_len=min(12, d), max_translation=1)
    pads = np.arange(cfg.padding[0], cfg.padding[1] + 1)
    mine, theirs = fast_masks.dilated_templates(cfg, pads), reference.dilated_templates(cfg, pads)
    assert mine.keys() == theirs.keys()
    for p in pads:
        np.testing.assert_array_equal(mine[p], theirs[p])


def test_the_per_mask_method_imports_no_scipy():
    """scipy.ndimage alone takes about half a second to import: as long as 500,000 examples."""
    code = ("import sys; from mnist1d_hf import generate, variant_config; generate(variant_config('standard', mode='fast'));"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("overrides", [
    {},                                                  # every covariance positive definite: Cholesky
    {"iid_noise_scale": 0.0, "final_seq_length": 5},     # 307 of the 384 singular, the others not
    {"corr_noise_scale": 0.0, "iid_noise_scale": 0.0},   # all zero
])
def test_a_masks_factor_does_not_depend_on_the_masks_computed_with_it(overrides):
    """Factors are computed when a block first needs them, so a mask's factor must be the same alone or in any
    batch, also when a batch mixes covariances Cholesky can factor and singular ones it cannot."""
    cfg = variant_config("standard", mode="fast", **overrides)
    plan = mask_plan(cfg)
    together = noise_factors(cfg, plan.masks, plan.downsample)
    alone = np.concatenate([noise_factors(cfg, plan.masks[m:m + 1], plan.downsample) for m in range(len(plan.masks))])
    np.testing.assert_array_equal(alone, together)
