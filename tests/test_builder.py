"""The datasets builder: features, values equal to generate(), custom config ids, metadata, caching."""

import subprocess
import sys

import datasets
import numpy as np
import pytest

import mnist1d_hf.builder as builder_module
from mnist1d_hf import MNIST1D, generate, load, variant_config
from mnist1d_hf.builder import VERSION, custom_config_id, metadata_of


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


def arrays(ds: datasets.Dataset) -> tuple[np.ndarray, np.ndarray]:
    columns = ds.with_format("numpy")[:]
    return columns["x"], columns["y"]


def test_features_are_fixed_length_float32_and_class_labels(cache):
    dd = load("standard", cache_dir=cache)
    assert set(dd) == {"train", "test"}
    expected = datasets.Features({"x": datasets.List(datasets.Value("float32"), length=40),
                                  "y": datasets.ClassLabel(names=[str(k) for k in range(10)])})
    assert dd["train"].features == expected and dd["test"].features == expected
    short = load("standard", cache_dir=cache, final_seq_length=24, num_samples=200)
    assert short["train"].features["x"].length == 24
    assert (short.num_rows["train"], short.num_rows["test"]) == (160, 40)


@pytest.mark.parametrize("name, overrides", [("standard", {}), ("shuffled", {"max_translation": 20}),
                                             ("double_descent", {})])
def test_values_equal_generate_cast_to_float32(cache, name, overrides):
    dd = load(name, cache_dir=cache, **overrides)
    data = generate(variant_config(name, **overrides))
    for split, x_ref, y_ref in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        x, y = arrays(dd[split])
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, x_ref.astype(np.float32))
        np.testing.assert_array_equal(y, y_ref)


def test_standard_starts_like_the_papers_frozen_data(cache):
    x, y = arrays(load("standard", cache_dir=cache)["train"])
    assert y[:5].tolist() == [2, 6, 4, 5, 6]
    np.testing.assert_array_equal(x[0, :3], np.float32([-0.33200567, -0.47191037, -0.77869708]))


def test_second_load_reads_the_cache_without_generating(tmp_path, monkeypatch):
    calls = []

    def counting_generate(cfg):
        calls.append(cfg)
        return generate(cfg)

    monkeypatch.setattr(builder_module, "generate", counting_generate)
    first = load("shuffled", cache_dir=str(tmp_path), seed=3)
    second = load("shuffled", cache_dir=str(tmp_path), seed=3)
    assert len(calls) == 1
    np.testing.assert_array_equal(arrays(first["train"])[0], arrays(second["train"])[0])
    assert metadata_of(second["train"]) == metadata_of(first["train"])
    load("shuffled", cache_dir=str(tmp_path), seed=4)
    assert len(calls) == 2


def test_named_variants_keep_their_name_and_overrides_get_custom_ids(cache):
    assert MNIST1D(config_name="shuffled", cache_dir=cache).config_id == "shuffled"
    custom = MNIST1D(config_name="shuffled", max_translation=20, cache_dir=cache)
    assert custom.config_id.startswith("custom-") and custom.config.generator == variant_config("shuffled",
                                                                                          max_translation=20)
    assert custom.config.description == "A custom configuration: max_translation=20, shuffle_seq=true."
    # the id depends on the resolved knobs, not on how they were spelled
    respelled = MNIST1D(config_name="standard", shuffle_seq=True, max_translation=20, cache_dir=cache)
    assert respelled.config_id == custom.config_id == custom_config_id(variant_config("shuffled", max_translation=20))
    assert MNIST1D(config_name="shuffled", max_translation=21, cache_dir=cache).config_id != custom.config_id
    # overrides that land on a named variant are that variant
    assert MNIST1D(config_name="standard", shuffle_seq=True, cache_dir=cache).config_id == "shuffled"
    assert MNIST1D(generator=variant_config("clean"), cache_dir=cache).config_id == "clean"


def test_dataset_info_says_what_it_is_and_which_version(cache):
    info = load("standard", cache_dir=cache)["train"].info
    assert "MNIST-1D" in info.description and "4,000 train / 1,000 test" in info.description
    assert "Greydanus" in info.citation and info.homepage.startswith("https://") and info.license == "apache-2.0"
    assert str(info.version) == str(VERSION)


def test_t_and_templates_travel_in_the_metadata_not_in_rows(cache):
    dd = load("shuffled", cache_dir=cache, max_translation=20)
    assert set(dd["train"].column_names) == {"x", "y"}
    meta = metadata_of(dd["test"])
    data = generate(variant_config("shuffled", max_translation=20))
    np.testing.assert_array_equal(meta["t"], data.t)
    np.testing.assert_array_equal(meta["templates"], data.templates)
    assert meta["config"] == data.config.to_dict() and meta["generator_version"] == str(VERSION)


def test_bad_names_and_knobs_fail_with_the_allowed_values(cache):
    with pytest.raises(ValueError, match="unknown variant 'tiny'.*standard"):
        load("tiny", cache_dir=cache)
    with pytest.raises(ValueError, match="unknown MNIST1DConfig field.*'noise'"):
        load("standard", cache_dir=cache, noise=1)
    with pytest.raises(ValueError, match="max_translation=0 is invalid"):
        load("standard", cache_dir=cache, max_translation=0)


def test_package_import_stays_light():
    code = "import sys, mnist1d_hf; print('datasets' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
