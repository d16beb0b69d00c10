"""Property test over the whole generator config space: 1,000 random configs in the default run.

Each case draws a jointly valid config (small ``num_samples`` keeps it fast) and, half of the time, replaces one
field by a value outside what that field allows. A valid config must generate finite float64 signals of the
right shapes with int64 labels in 0..9; a corrupted one must fail with the one error shape: a one-line
``ValueError`` (``ConfigError``) that names the corrupted field.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist1d_hf import MNIST1DConfig, generate
from mnist1d_hf.errors import ConfigError

CASES = 1000


@st.composite
def valid_fields(draw) -> dict:
    num_samples = draw(st.integers(10, 60))
    total = num_samples // 10 * 10
    train = draw(st.integers(1, total - 1))
    template_len = draw(st.integers(1, 16))
    low = draw(st.integers(0, 30))
    high = draw(st.integers(max(low, 2 - template_len), 40))
    finite = dict(allow_nan=False, allow_infinity=False)
    return {
        "num_samples": num_samples,
        "train_split": draw(st.sampled_from([train, (train + 0.5) / total])),  # a count, or a fraction giving it
        "template_len": template_len,
        "padding": draw(st.sampled_from([(low, high), [low, high]])),
        "scale_coeff": draw(st.floats(0, 1.99, **finite)),
        "max_translation": draw(st.integers(1, template_len + high)),
        "corr_noise_scale": draw(st.floats(0, 2, **finite)),
        "iid_noise_scale": draw(st.floats(0, 1, **finite)),
        "shear_scale": draw(st.floats(0, 2, **finite)),
        "shuffle_seq": draw(st.booleans()),
        "final_seq_length": draw(st.integers(2, 64)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "mode": draw(st.sampled_from(["reference", "fast"])),
        "label_noise": draw(st.floats(0, 1, **finite)),
    }


def invalid_value(draw, name: str, fields: dict):
    """A value outside what ``name`` allows, given the other (valid) fields."""
    total = fields["num_samples"] // 10 * 10
    dilated = fields["template_len"] + fields["padding"][1]
    wrong_type = st.sampled_from(["3", None, [1], {"a": 1}])
    choices = {
        "num_samples": st.one_of(st.integers(-5, 9), st.just(12.5), wrong_type, st.just(True)),
        "train_split": st.one_of(st.integers(total, total + 5), st.integers(-3, 0), st.sampled_from([0.0, 1.0, -0.5,
                                 1.5, math.nan, True, "0.5", None])),
        "template_len": st.one_of(st.integers(-3, 0), st.just(2.5), wrong_type),
        "padding": st.sampled_from([(5, 3), (-1, 4), "30", (1, 2, 3), (1.5, 4), None]),
        "scale_coeff": st.one_of(st.floats(2, 10), st.floats(-5, -0.01), st.sampled_from([math.nan, math.inf, "0.1"])),
        "max_translation": st.one_of(st.integers(-2, 0), st.integers(dilated + 1, dilated + 10), st.just(1.5)),
        "corr_noise_scale": st.one_of(st.floats(-3, -0.001), st.sampled_from([math.inf, -math.inf, "1"])),
        "iid_noise_scale": st.one_of(st.floats(-3, -0.001), st.sampled_from([math.nan, None])),
        "shear_scale": st.one_of(st.floats(-3, -0.001), st.sampled_from([math.nan, [0.1]])),
        "shuffle_seq": st.sampled_from([0, 1, "true", None]),
        "final_seq_length": st.one_of(st.integers(-3, 1), st.just(40.5), wrong_type),
        "seed": st.one_of(st.integers(-(2**40), -1), st.integers(2**32, 2**40), st.just(1.5)),
        "mode": st.sampled_from(["slow", "", None, 1]),
        "label_noise": st.one_of(st.floats(1.001, 5), st.floats(-5, -0.001), st.sampled_from([math.nan, "0.1"])),
    }
    return draw(choices[name])


@st.composite
def cases(draw) -> tuple[dict, str | None]:
    fields = draw(valid_fields())
    if draw(st.booleans()):
        return fields, None
    name = draw(st.sampled_from(sorted(fields)))
    return {**fields, name: invalid_value(draw, name, fields)}, name


@settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_config_generates_finite_data_or_names_the_bad_field(case):
    fields, corrupted = case
    if corrupted is not None:
        with pytest.raises(ConfigError) as err:
            MNIST1DConfig(**fields)
        message = str(err.value)
        assert "\n" not in message and message.startswith(corrupted), (corrupted, message)
        return
    cfg = MNIST1DConfig(**fields)
    data = generate(cfg)
    length = fields["final_seq_length"]
    assert data.x_train.shape == (cfg.num_train, length) and data.x_test.shape == (cfg.num_test, length)
    assert cfg.num_train + cfg.num_test == fields["num_samples"] // 10 * 10
    assert data.x_train.dtype == data.x_test.dtype == np.float64
    assert data.y_train.dtype == data.y_test.dtype == np.int64
    assert np.isfinite(data.x_train).all() and np.isfinite(data.x_test).all() and np.isfinite(data.t).all()
    assert data.t.shape == (length,)
    for y in (data.y_train, data.y_test):
        assert ((0 <= y) & (y < 10)).all()
