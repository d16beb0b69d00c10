"""Fast mode: a different random stream, the same distribution, the same output however it is computed."""

import threading
import time

import numpy as np
import pytest

from mnist1d_hf import fast_masks, generate, variant_config
from mnist1d_hf.fast import STANDARDIZE_ROWS, fast_examples, standardize_rows
from mnist1d_hf.fast_masks import BLOCK
from mnist1d_hf.reference import reference_examples

ATOL = 1e-9  # float rounding only: the statistics are compared before standardization


def both(data):
    return np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])


def test_output_does_not_depend_on_chunks_or_workers():
    cfg = variant_config("shuffled", mode="fast", num_samples=3 * BLOCK + 500, label_noise=0.1)
    runs = [generate(cfg, chunk_size=1), generate(cfg, chunk_size=2 * BLOCK + 1), generate(cfg, chunk_size=10**9),
            generate(cfg, chunk_size=BLOCK, workers=2), generate(cfg, workers=3), generate(cfg, workers=None)]
    for other in runs[1:]:
        for name in ("x_train", "y_train", "x_test", "y_test", "t"):
            np.testing.assert_array_equal(getattr(other, name), getattr(runs[0], name))
    runs[3].x_train[0, 0] += 1.0  # the arrays are the caller's own


def test_an_error_in_a_block_stops_the_workers_and_propagates(monkeypatch):
    """The blocks not started yet are cancelled, the running ones finish, and no worker thread outlives the call."""
    started = []

    def failing(cfg, block, labels, columns, out):
        started.append(block)
        if block == 2:
            raise RuntimeError("block 2 failed")
        time.sleep(0.1 if block > 2 else 0.0)  # later blocks are slow: cancelling them is what keeps them out
        out[:] = 0.0
        return 0.0, 0.0

    monkeypatch.setattr(fast_masks, "block_examples", failing)
    cfg = variant_config("standard", mode="fast", num_samples=20 * BLOCK)
    with pytest.raises(RuntimeError, match="block 2 failed"):
        generate(cfg, workers=2)
    assert 2 in started and len(started) < 20
    assert not [t for t in threading.enumerate() if t.name.startswith("mnist1d-fast")]


@pytest.mark.parametrize("rows", [range(0, 2500), range(700, 2100), range(5, 6)])
def test_standardizing_a_few_rows_at_a_time_gives_the_bits_of_the_whole_array(rows):
    x = np.random.default_rng(0).standard_normal((2500, 40)) * 3.3 + 0.7
    expected = x.copy()
    expected[rows.start:rows.stop] -= 0.61
    expected[rows.start:rows.stop] /= 3.07
    standardize_rows(x, rows, 0.61, 3.07)
    np.testing.assert_array_equal(x, expected)
    assert 2500 > STANDARDIZE_ROWS  # more than one step of rows


def test_seeds_give_different_balanced_data_and_labels_follow_the_config():
    a, b = generate(variant_config("standard", mode="fast", seed=1)), generate(variant_config("standard", mode="fast", seed=2))
    assert not np.allclose(a.x_train, b.x_train)
    x, y = both(a)
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12
    assert a.x_train.shape == (4000, 40) and a.x_train.dtype == np.float64


def test_fast_is_a_different_stream_than_reference():
    ref, fast = generate(variant_config("standard")), generate(variant_config("standard", mode="fast"))
    assert not np.array_equal(ref.y_train, fast.y_train)


def test_reference_mode_refuses_fast_options():
    with pytest.raises(ValueError, match="mode='fast' only"):
        generate(variant_config("standard"), workers=2)
    with pytest.raises(ValueError, match="workers=0"):
        generate(variant_config("standard", mode="fast"), workers=0)


def unnormalized(cfg):
    """Examples before the dataset-wide standardization, whose own sampling noise would blur the comparison."""
    if cfg.mode == "reference":
        x, y, _ = reference_examples(cfg)
    else:
        x, y, _, _ = fast_examples(cfg)
    return x, y


def agree(xr, yr, xf, yf):
    """Per-position means and stds and per-class mean signals agree within 5 standard errors (+ ATOL).

    Five standard errors of the difference of two independent estimates: with 440 comparisons a false alarm
    has odds of about 1 in 4,000, while a missing or mis-scaled transform moves these statistics by far more.
    """
    n = len(xr)
    se_mean = np.sqrt((xr.var(0) + xf.var(0)) / n)
    if np.any(np.abs(xr.mean(0) - xf.mean(0)) > 5 * se_mean + ATOL):
        return False
    # the std of a sample std is about sqrt((kurtosis - 1) / 4n) * std
    def var_of_std(x):
        var = x.var(0)
        kurt = np.divide(((x - x.mean(0)) ** 4).mean(0), var**2, out=np.ones_like(var), where=var > 0)
        return (kurt - 1) / (4 * n) * var
    if np.any(np.abs(xr.std(0) - xf.std(0)) > 5 * np.sqrt(var_of_std(xr) + var_of_std(xf)) + ATOL):
        return False
    for c in range(10):
        r, f = xr[yr == c], xf[yf == c]
        se = np.sqrt(r.var(0) / len(r) + f.var(0) / len(f))
        if np.any(np.abs(r.mean(0) - f.mean(0)) > 5 * se + ATOL):
            return False
    return True


@pytest.mark.parametrize("name", ["standard", "clean"])  # shuffled: each mode draws its own column permutation
def test_same_distribution_as_reference_mode(name):
    cfg = variant_config(name, num_samples=50_000)
    assert agree(*unnormalized(cfg), *unnormalized(cfg.replace(mode="fast")))


def test_the_distribution_check_notices_a_changed_knob():
    """Each knob changed by an amount the check can see at N = 50,000: iid noise 0.02 -> 0.03 moves the stds by
    under 1%, within the check's 5 standard errors; 0.06 moves them by about 4%."""
    cfg = variant_config("standard", num_samples=50_000)
    reference = unnormalized(cfg)
    for knob in [{"shear_scale": 1.0}, {"iid_noise_scale": 0.06}, {"corr_noise_scale": 0.3}]:
        assert not agree(*reference, *unnormalized(cfg.replace(mode="fast", **knob))), knob


def test_label_noise_in_fast_mode():
    clean = generate(variant_config("standard", mode="fast", num_samples=20_000))
    noisy = generate(variant_config("standard", mode="fast", num_samples=20_000, label_noise=0.5))
    np.testing.assert_array_equal(noisy.x_train, clean.x_train)
    np.testing.assert_array_equal(noisy.y_test, clean.y_test)
    assert abs(np.mean(noisy.y_train != clean.y_train) - 0.45) < 0.02
