"""``mnist1d_hf.compat.transform`` against the reference's ``mnist1d.transform`` on random 1-D and 2-D input.

Each function runs on both packages from the same seed; the results (or the kind of error), their dtypes and
numpy's global random state afterwards must be identical.
"""

from importlib import import_module

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mnist1d_hf.compat.utils import ObjectView

# the modules themselves (a package attribute ``transform`` is the function, in both packages)
theirs_module = import_module("mnist1d.transform")
ours_module = import_module("mnist1d_hf.compat.transform")
# degenerate inputs (equal grid points) make both packages' interpolation divide 0 by 0, alike
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
FINITE = st.floats(-10, 10, allow_nan=False, width=64)
SETTINGS = settings(max_examples=40, deadline=None)


def run(module, name, seed, *args, **kwargs):
    np.random.seed(seed)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        out, error = getattr(module, name)(*copies, **kwargs), None
    except Exception as err:  # the reference's own failures are part of its behaviour
        out, error = None, type(err)
    _, key, pos, *_ = np.random.get_state()
    return out, error, key.copy(), pos


def assert_same(name, seed, *args, **kwargs):
    ours = run(ours_module, name, seed, *args, **kwargs)
    theirs = run(theirs_module, name, seed, *args, **kwargs)
    assert ours[1] == theirs[1], f"{name}: errors {ours[1]} vs {theirs[1]}"
    outs = (ours[0], theirs[0]) if isinstance(ours[0], tuple) else ((ours[0],), (theirs[0],))
    for mine, ref in zip(*outs):
        assert np.asarray(mine).dtype == np.asarray(ref).dtype and np.shape(mine) == np.shape(ref)
        np.testing.assert_array_equal(mine, ref)
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[3] == theirs[3], "the global random state moved differently"
    return theirs


one_d = arrays(np.float64, st.integers(1, 30), elements=FINITE)
two_d = arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=FINITE)
signals = st.one_of(one_d, two_d)
seeds = st.integers(0, 2**32 - 1)


@SETTINGS
@given(x=signals, n=st.integers(0, 60))
def test_interpolate_takes_the_keyword_N_and_works_along_axis_0(x, n):
    assert_same("interpolate", 0, x, N=n)


@SETTINGS
@given(x=signals, low=st.integers(0, 12), width=st.integers(-6, 12), seed=seeds)
def test_pad(x, low, width, seed):
    assert_same("pad", seed, x, (low, max(0, low + width)))


@SETTINGS
@given(x=signals, k=st.integers(1, 40), seed=seeds)
def test_translate_including_shifts_beyond_the_length(x, k, seed):
    assert_same("translate", seed, x, k)


@SETTINGS
@given(x=signals, scale=st.floats(-3, 3), seed=seeds)
def test_noise(x, scale, seed):
    assert_same("corr_noise_like", seed, x, scale)
    assert_same("iid_noise_like", seed, x, scale)


@SETTINGS
@given(n=st.integers(1, 8), cols=st.integers(1, 8), scale=st.floats(-20, 20), seed=seeds, square=st.booleans())
def test_shear_broadcasts_as_the_reference(n, cols, scale, seed, square):
    x = np.random.default_rng(seed).normal(size=(n, n if square else cols))
    assert_same("shear", seed, x, scale)
    assert_same("shear", seed, x[0], scale)


@st.composite
def transform_args(draw):
    low = draw(st.integers(0, 30))
    high = draw(st.integers(max(0, low - 10), low + 30))
    template_len = draw(st.integers(-5, 20))
    return ObjectView({
        "padding": [low, high], "template_len": template_len, "scale_coeff": draw(st.floats(-1, 3)),
        "max_translation": draw(st.integers(1, 80)), "corr_noise_scale": draw(st.floats(-1, 1)),
        "iid_noise_scale": draw(st.floats(-1, 1)), "shear_scale": draw(st.floats(-2, 2)),
        "final_seq_length": draw(st.integers(0, 60))})


@SETTINGS
@given(x=signals, args=transform_args(), seed=seeds)
def test_transform_on_1d_and_2d_signals(x, args, seed):
    y = np.linspace(-1, 1, x.shape[0])
    assert_same("transform", seed, x, y, args)


def test_transform_of_a_template_gives_data_not_an_error():
    """The everyday call (``make_dataset``'s loop) succeeds and equals the reference: the properties above are
    not all about matching errors."""
    args = ObjectView({"padding": [36, 60], "template_len": 12, "scale_coeff": 0.4, "max_translation": 48,
                       "corr_noise_scale": 0.25, "iid_noise_scale": 0.02, "shear_scale": 0.75,
                       "final_seq_length": 40})
    x, t = assert_same("transform", 7, np.linspace(0, 1, 12) ** 2, np.linspace(-5, 5, 12) / 6, args)[0]
    assert x.shape == t.shape == (40,) and np.isfinite(x).all()


@pytest.mark.parametrize("shape", [(8, 8), (72, 5)])
def test_2d_pieces_that_succeed_match(shape):
    x = np.random.default_rng(1).normal(size=shape)
    for name, args in [("interpolate", (x, 13)), ("pad", (x, (2, 9))), ("translate", (x, 5)),
                       ("corr_noise_like", (x, 0.3)), ("iid_noise_like", (x, 0.3))]:
        out = assert_same(name, 3, *args)
        assert out[1] is None, f"{name} failed on {shape}"
