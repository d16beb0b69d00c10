"""Configs the reference package makes data from: the compat makes the same data, bit for bit, including the
ones the strict native ``MNIST1DConfig`` refuses; what the compat refuses, the reference cannot make either
(non-finite scales aside: the reference turns them into NaN data, see docs/dropin.md)."""

import random

import mnist1d as reference
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist1d_hf import MNIST1DConfig
from mnist1d_hf import compat as mnist1d
from mnist1d_hf.errors import ConfigError

KEYS = ("x", "x_test", "y", "y_test", "t")
# the empty signals of final_seq_length=0 have no standard deviation, in both packages alike
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def both_make(**knobs):
    """Run both packages' make_dataset on the defaults with ``knobs``; return (ours, theirs) with the global
    generators' states after each."""
    out = []
    for package in (mnist1d, reference):
        args = package.get_dataset_args()
        for name, value in knobs.items():
            setattr(args, name, value)
        data = package.data.make_dataset(args)
        out.append((data, np.random.rand(2), random.random()))
    return out


def assert_same_data(ours, theirs):
    (mine, mine_next, mine_py), (ref, ref_next, ref_py) = ours, theirs
    for key in KEYS:
        assert mine[key].dtype == ref[key].dtype and mine[key].shape == ref[key].shape, key
        np.testing.assert_array_equal(mine[key], ref[key], err_msg=key)
    np.testing.assert_array_equal(mine_next, ref_next)
    assert mine_py == ref_py


@pytest.mark.parametrize("knobs", [
    {"padding": [60, 36]},                                   # low > high: paddings 38..60, dilated length 48
    {"max_translation": 60, "padding": [0, 10]},             # shifts beyond the dilated length (22) keep signals
    {"template_len": 0},                                     # only template_len + padding[1] matters
    {"corr_noise_scale": -0.25, "shear_scale": -2.0, "scale_coeff": 2.5},
    {"final_seq_length": 1},
    {"train_split": 1.0},                                    # an empty test split
    {"train_split": -0.1},                                   # a negative split slices from the end
], ids=["low>high", "translation>length", "template_len=0", "negative-scales", "one-point", "split=1",
        "split<0"])
def test_configs_the_native_api_refuses_make_the_references_data(knobs):
    knobs = {"num_samples": 200, **knobs}
    with pytest.raises((ConfigError, ValueError)):  # the native API stays strict
        MNIST1DConfig(**{k: v for k, v in knobs.items() if k != "train_split"},
                      train_split=knobs.get("train_split", 0.8))
    assert_same_data(*both_make(**knobs))


@st.composite
def reference_configs(draw):
    """Anything the reference makes data from: paddings in either order, any scales, tiny or huge shifts."""
    low = draw(st.integers(0, 30))
    high = draw(st.integers(max(0, low - 20), low + 30))
    template_len = draw(st.integers(2 - high, 20))
    return {"num_samples": draw(st.integers(10, 80)), "train_split": draw(st.floats(-0.5, 1.5)),
            "template_len": template_len, "padding": [low, high], "scale_coeff": draw(st.floats(-3, 3)),
            "max_translation": draw(st.integers(1, template_len + high + 20)),
            "corr_noise_scale": draw(st.floats(-1, 1)), "iid_noise_scale": draw(st.floats(-1, 1)),
            "shear_scale": draw(st.floats(-3, 3)), "shuffle_seq": draw(st.booleans()),
            "final_seq_length": draw(st.integers(0, 50)), "seed": draw(st.integers(0, 2**32 - 1))}


@settings(max_examples=40, deadline=None)
@given(reference_configs())
def test_random_configs_the_reference_accepts_give_its_data(knobs):
    assert_same_data(*both_make(**knobs))


@pytest.mark.parametrize("knobs", [
    {"num_samples": 9},                       # no example of any class
    {"padding": [-5, 10]},                    # negative paddings
    {"padding": [60, -3]},                    # paddings -1 .. 60: some are negative
    {"template_len": -59},                    # dilated length 1
    {"max_translation": 0},
    {"final_seq_length": -1},
    {"seed": 2**32},
    {"seed": -1},
    {"padding": [36.5, 60]},
    {"num_samples": 1000.5},
], ids=["too-few", "negative-padding", "padding-can-be-negative", "dilated-1", "no-translation",
        "negative-length", "seed-too-large", "negative-seed", "fractional-padding", "fractional-samples"])
def test_what_the_compat_refuses_the_reference_cannot_make(knobs):
    knobs = {"num_samples": 2000, **knobs}
    args = mnist1d.get_dataset_args()
    for name, value in knobs.items():
        setattr(args, name, value)
    with pytest.raises(ValueError, match=next(iter(k for k in knobs if k != "num_samples"), "num_samples")):
        mnist1d.make_dataset(args)
    theirs = reference.get_dataset_args()
    for name, value in knobs.items():
        setattr(theirs, name, value)
    with pytest.raises(Exception):
        reference.data.make_dataset(theirs)


@pytest.mark.parametrize("name", ["scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale"])
def test_non_finite_scales_are_refused_because_the_reference_makes_nan_data(name):
    args = mnist1d.get_dataset_args()
    setattr(args, name, np.inf)
    with pytest.raises(ValueError, match=f"{name}=inf: expected a finite number"):
        mnist1d.make_dataset(args)
    theirs = reference.get_dataset_args()
    theirs.num_samples = 100
    setattr(theirs, name, np.inf)
    assert np.isnan(reference.data.make_dataset(theirs)["x"]).all()
