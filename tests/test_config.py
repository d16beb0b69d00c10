import json
import warnings

import pytest

from mnist1d_hf import VARIANTS, MNIST1DConfig, variant_config


def test_defaults_are_the_papers():
    cfg = MNIST1DConfig()
    assert (cfg.num_samples, cfg.train_split, cfg.template_len, cfg.padding) == (5000, 0.8, 12, (36, 60))
    assert (cfg.scale_coeff, cfg.max_translation, cfg.corr_noise_scale, cfg.iid_noise_scale) == (0.4, 48, 0.25, 0.02)
    assert (cfg.shear_scale, cfg.shuffle_seq, cfg.final_seq_length, cfg.seed) == (0.75, False, 40, 42)
    assert (cfg.num_train, cfg.num_test, cfg.dilated_length) == (4000, 1000, 72)


@pytest.mark.parametrize("overrides, field, allowed", [
    ({"padding": (60, 36)}, "padding", "low <= high"),
    ({"padding": (-1, 5)}, "padding", "0 <= low"),
    ({"padding": 5}, "padding", "two integers"),
    ({"scale_coeff": -0.1}, "scale_coeff", ">= 0"),
    ({"corr_noise_scale": -1}, "corr_noise_scale", ">= 0"),
    ({"iid_noise_scale": -1e-3}, "iid_noise_scale", ">= 0"),
    ({"shear_scale": -2}, "shear_scale", ">= 0"),
    ({"final_seq_length": 1}, "final_seq_length", ">= 2"),
    ({"train_split": 1.0}, "train_split", "(0, 1)"),
    ({"train_split": 0.0}, "train_split", "(0, 1)"),
    ({"train_split": 5000}, "train_split", "[1, 4999]"),
    ({"train_split": 0.0001}, "train_split", "both sides non-empty"),
    ({"max_translation": 0}, "max_translation", "1 <= max_translation"),
    ({"max_translation": 73}, "max_translation", "<= template_len + padding[1] = 72"),
    ({"num_samples": 9}, "num_samples", "every class"),
    ({"mode": "turbo"}, "mode", "'reference', 'fast'"),
    ({"label_noise": 1.5}, "label_noise", "[0, 1]"),
    ({"seed": -1}, "seed", "2**32"),
    ({"num_samples": 5000.5}, "num_samples", "integer"),
    ({"shuffle_seq": "yes"}, "shuffle_seq", "true or false"),
    ({"iid_noise_scale": float("nan")}, "iid_noise_scale", "finite"),
])
def test_invalid_values_name_field_value_and_allowed_range(overrides, field, allowed):
    with pytest.raises(ValueError) as err:
        MNIST1DConfig(**overrides)
    message = str(err.value)
    assert message.startswith(field) and allowed in message


def test_messages_show_the_bad_value():
    with pytest.raises(ValueError, match=r"^max_translation=0 is invalid: allowed 1 <= max_translation"):
        MNIST1DConfig(max_translation=0)
    with pytest.raises(ValueError, match=r"^padding=\[60, 36\] is invalid"):
        MNIST1DConfig(padding=(60, 36))


def test_json_round_trip_keeps_every_field_and_type():
    for cfg in [*VARIANTS.values(), variant_config("standard", padding=[30, 50], mode="fast", seed=3)]:
        text = cfg.to_json()
        back = MNIST1DConfig.from_json(text)
        assert back == cfg and type(back.train_split) is type(cfg.train_split)
        assert json.loads(text) == cfg.to_dict()


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match=r"unknown MNIST1DConfig field\(s\) \['colour'\]"):
        MNIST1DConfig.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="colour"):
        variant_config("standard", colour=1)


def test_variants_and_overrides():
    assert set(VARIANTS) >= {"standard", "shuffled", "large", "double_descent", "clean"}
    assert variant_config("standard") == MNIST1DConfig()
    assert variant_config("shuffled", seed=7) == MNIST1DConfig(shuffle_seq=True, seed=7)
    assert (variant_config("large").num_train, variant_config("large").num_test) == (50_000, 1_000)
    dd = variant_config("double_descent")
    assert (dd.num_train, dd.num_test, dd.label_noise) == (4_000, 12_000, 0.15)
    clean = variant_config("clean")
    assert clean.corr_noise_scale == clean.iid_noise_scale == clean.shear_scale == clean.scale_coeff == 0
    with pytest.raises(ValueError, match="unknown variant 'nope'; known variants: standard, shuffled"):
        variant_config("nope")
    with pytest.raises(ValueError, match="max_translation"):
        variant_config("large", max_translation=0)


def test_the_old_name_variant_still_works_and_warns_once_naming_variant_config(monkeypatch):
    import mnist1d_hf
    from mnist1d_hf import variants

    monkeypatch.setattr(variants, "_warned_variant", False)  # as in a fresh process
    with pytest.warns(FutureWarning, match="use mnist1d_hf.variant_config") as caught:
        first = mnist1d_hf.variant("shuffled", seed=7)
    assert len(caught) == 1 and caught[0].filename == __file__  # points at the caller's line
    assert first == variant_config("shuffled", seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call warns no more
        assert mnist1d_hf.variant("large") == variant_config("large")
    assert "variant" not in mnist1d_hf.__all__ and "variant_config" in mnist1d_hf.__all__


def test_configs_are_immutable_and_hashable():
    cfg = MNIST1DConfig()
    with pytest.raises(AttributeError):
        cfg.seed = 1  # type: ignore[misc]
    assert hash(cfg) == hash(MNIST1DConfig(padding=[36, 60]))
