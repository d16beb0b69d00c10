"""Reference mode must reproduce the paper's generator exactly (the reference package is the oracle)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mnist1d_hf import MNIST1DConfig, generate, variant
from reference_oracle import reference_dataset


def assert_same_as_reference(cfg: MNIST1DConfig) -> None:
    ours, ref = generate(cfg), reference_dataset(cfg)
    np.testing.assert_array_equal(ours.y_train, ref["y"])
    np.testing.assert_array_equal(ours.y_test, ref["y_test"])
    np.testing.assert_array_equal(ours.t, ref["t"])
    for mine, theirs in [(ours.x_train, ref["x"]), (ours.x_test, ref["x_test"])]:
        assert mine.dtype == np.float64 and mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(mine.astype(np.float32), theirs.astype(np.float32))
    np.testing.assert_array_equal(ours.templates, ref["templates"]["x"])


@pytest.mark.parametrize("name", ["standard", "shuffled", "clean"])
def test_named_variants_match_the_reference(name):
    assert_same_as_reference(variant(name))


def test_label_noise_continues_the_reference_stream():
    cfg = variant("standard", label_noise=0.3)
    assert_same_as_reference(cfg)
    clean = generate(variant("standard"))
    changed = np.mean(generate(cfg).y_train != clean.y_train)
    assert 0.3 * 0.9 - 0.03 < changed < 0.3 * 0.9 + 0.03  # a tenth of the resampled labels stay the same
    np.testing.assert_array_equal(generate(cfg).y_test, clean.y_test)


def test_the_papers_frozen_dataset():
    data = generate(variant("standard"))
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40) and data.t.shape == (40,)
    assert data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.y_train[:5], [2, 6, 4, 5, 6])
    np.testing.assert_allclose(data.x_train[0, :3], [-0.33200567, -0.47191037, -0.77869708], atol=5e-9)
    np.testing.assert_array_equal(np.bincount(np.concatenate([data.y_train, data.y_test])), [500] * 10)


def test_exact_split_sizes_with_a_count():
    cfg = variant("standard", num_samples=1010, train_split=1000)
    data = generate(cfg)
    assert (len(data.y_train), len(data.y_test)) == (1000, 10)
    assert_same_as_reference(cfg)


@st.composite
def configs(draw):
    low = draw(st.integers(0, 40))
    high = draw(st.integers(low, low + 40))
    template_len = draw(st.integers(1, 30))
    num_samples = draw(st.integers(10, 300))
    total = num_samples // 10 * 10
    cfg = dict(
        num_samples=num_samples, template_len=template_len, padding=(low, high),
        train_split=draw(st.floats(0.05, 0.95)),
        scale_coeff=draw(st.floats(0, 1.5)), max_translation=draw(st.integers(1, template_len + high)),
        corr_noise_scale=draw(st.floats(0, 1)), iid_noise_scale=draw(st.floats(0, 0.5)),
        shear_scale=draw(st.floats(0, 2)), shuffle_seq=draw(st.booleans()),
        final_seq_length=draw(st.integers(2, 100)), seed=draw(st.integers(0, 2**32 - 1)),
        label_noise=draw(st.sampled_from([0.0, 0.2])))
    assume(template_len + high >= 2 and 1 <= int(total * cfg["train_split"]) < total)
    return MNIST1DConfig(**cfg)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_random_configs_match_the_reference(cfg):
    assert_same_as_reference(cfg)
