"""Reference mode must reproduce the paper's generator exactly (the reference package is the oracle), and its
standard config is checked against the digests of the paper's frozen file (REFERENCE.md section 1)."""

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mnist1d_hf import MNIST1DConfig, generate, variant_config
from reference_oracle import reference_dataset


def assert_same_as_reference(cfg: MNIST1DConfig) -> None:
    ours, ref = generate(cfg), reference_dataset(cfg)
    np.testing.assert_array_equal(ours.y_train, ref["y"])
    np.testing.assert_array_equal(ours.y_test, ref["y_test"])
    np.testing.assert_array_equal(ours.t, ref["t"])
    for mine, theirs in [(ours.x_train, ref["x"]), (ours.x_test, ref["x_test"])]:
        assert mine.dtype == np.float64 and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)  # bit for bit, every value
    np.testing.assert_array_equal(ours.templates, ref["templates"]["x"])


@pytest.mark.parametrize("name", ["standard", "shuffled", "clean"])
def test_named_variants_match_the_reference(name):
    assert_same_as_reference(variant_config(name))


def test_label_noise_continues_the_reference_stream():
    cfg = variant_config("standard", label_noise=0.3)
    assert_same_as_reference(cfg)
    clean = generate(variant_config("standard"))
    changed = np.mean(generate(cfg).y_train != clean.y_train)
    assert 0.3 * 0.9 - 0.03 < changed < 0.3 * 0.9 + 0.03  # a tenth of the resampled labels stay the same
    np.testing.assert_array_equal(generate(cfg).y_test, clean.y_test)


def test_the_papers_frozen_dataset():
    data = generate(variant_config("standard"))
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40) and data.t.shape == (40,)
    assert data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.y_train[:5], [2, 6, 4, 5, 6])
    np.testing.assert_allclose(data.x_train[0, :3], [-0.33200567, -0.47191037, -0.77869708], atol=5e-9)
    np.testing.assert_array_equal(np.bincount(np.concatenate([data.y_train, data.y_test])), [500] * 10)


# SHA-256 of the frozen mnist1d_data.pkl's arrays (raw C-order bytes), as published with the paper's data
FROZEN_SHA256 = {
    "x": "76a0fc450d42c1bab3e99da3327c7735feb09f5236bec6fbaeaa1b9a41195252",
    "x_test": "546e12e851d831f762b6daf43956bc62fe233620cdec483f8789359f94c842d9",
    "y": "d97dc7aecec8ad6b5d8f143ba3e9c4bd7e25c420d7dfc2eb990591cfc0ed3e15",
    "y_test": "8de99be3ff9dab15ae0dc072c3d6ced7cf6b33d365888ce4a386fc944489452c",
    "t": "84b830bf54825bb3e0bc2f4152a3ec900578a3494e3ff53f1b3c7adacb69620b",
}


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def frozen_layout(data) -> dict:
    return {"x": data.x_train, "x_test": data.x_test, "y": data.y_train, "y_test": data.y_test, "t": data.t}


@pytest.mark.parametrize("name", ["y", "y_test", "t"])
def test_labels_and_time_axis_are_the_frozen_files_whole_arrays(name):
    assert sha256(frozen_layout(generate(variant_config("standard")))[name]) == FROZEN_SHA256[name]


@pytest.mark.xfail(strict=True, reason="the frozen file was made with older numpy/scipy arithmetic: some values of "
                                       "x and x_test differ from the reference generator's in the last bits, how "
                                       "many depending on the numpy and scipy versions")
@pytest.mark.parametrize("name", ["x", "x_test"])
def test_float64_signals_are_the_frozen_files(name):
    assert sha256(frozen_layout(generate(variant_config("standard")))[name]) == FROZEN_SHA256[name]


def test_float32_signals_cannot_differ_from_the_frozen_file():
    """Every float64 value is more than 1e-14 (2,000 ulps) from a float32 rounding boundary, so any array within
    that of ours, value by value (a file differing in the last bits is), rounds to the same float32 array."""
    data = generate(variant_config("standard"))
    for x in (data.x_train, data.x_test):
        f32 = x.astype(np.float32)
        up = np.nextafter(f32, np.float32(np.inf)).astype(np.float64)
        down = np.nextafter(f32, np.float32(-np.inf)).astype(np.float64)
        exact = f32.astype(np.float64)  # float32 midpoints are exact in float64
        margin = np.minimum((exact + up) / 2 - x, x - (exact + down) / 2)
        assert margin.min() > 1e-14 and (margin / np.spacing(np.abs(x))).min() > 2000
        np.testing.assert_array_equal((x + 1e-14).astype(np.float32), f32)
        np.testing.assert_array_equal((x - 1e-14).astype(np.float32), f32)


def test_exact_split_sizes_with_a_count():
    cfg = variant_config("standard", num_samples=1010, train_split=1000)
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
