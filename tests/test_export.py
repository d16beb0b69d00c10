"""Export: a folder laid out like a Hub dataset repo that load_dataset reads exactly like load()."""

import json

import numpy as np
import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard

from mnist1d_hf import VARIANTS, generate, load, variant_config
from mnist1d_hf.builder import VERSION
from mnist1d_hf.cli import main
from mnist1d_hf.export import export

CUSTOM = {"no_translation": variant_config("standard", max_translation=1)}
CONFIGS = {**VARIANTS, **CUSTOM}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, cache):
    return export(CONFIGS, tmp_path_factory.mktemp("export") / "mnist1d", repo_id="someone/mnist1d",
                  cache_dir=cache)


def columns(ds):
    return ds.with_format("numpy")[:]


def test_layout_is_a_hub_dataset_repo(exported):
    files = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    per_config = [f"{name}/{f}" for name in sorted(CONFIGS)
                  for f in ("mnist1d.json", "test-00000-of-00001.parquet", "train-00000-of-00001.parquet")]
    assert files == sorted(["README.md", "mnist1d.png", *per_config])
    assert (exported / "mnist1d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(exported.parent.glob(".mnist1d-*")), "the temporary build folder was left behind"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_load_dataset_of_the_folder_equals_load(exported, cache, tmp_path, name):
    hub = load_dataset(str(exported), name, cache_dir=str(tmp_path))
    ours = load(name, cache_dir=cache) if name in VARIANTS else load("standard", cache_dir=cache, max_translation=1)
    assert set(hub) == {"train", "test"}
    for split in ("train", "test"):
        assert hub[split].features == ours[split].features
        got, want = columns(hub[split]), columns(ours[split])
        np.testing.assert_array_equal(got["x"], want["x"])
        np.testing.assert_array_equal(got["y"], want["y"])
    cfg = CONFIGS[name]
    assert (hub.num_rows["train"], hub.num_rows["test"]) == (cfg.num_train, cfg.num_test)


def test_default_config_is_standard(exported, tmp_path):
    hub = load_dataset(str(exported), cache_dir=str(tmp_path))
    np.testing.assert_array_equal(columns(hub["train"])["x"], generate(VARIANTS["standard"]).x_train.astype("f4"))


def test_card_yaml_lists_configs_features_sizes_and_license(exported):
    card = DatasetCard.load(exported / "README.md")
    data = card.data.to_dict()
    configs = {c["config_name"]: c for c in data["configs"]}
    assert sorted(configs) == sorted(CONFIGS)
    assert [n for n, c in configs.items() if c.get("default")] == ["standard"]
    assert configs["shuffled"]["data_files"] == [{"split": "train", "path": "shuffled/train-*"},
                                                 {"split": "test", "path": "shuffled/test-*"}]
    assert "max_translation=1" in configs["no_translation"]["description"]
    assert f"Generator version {VERSION}" in configs["large"]["description"]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    for name, cfg in CONFIGS.items():
        splits = {s["name"]: s["num_examples"] for s in infos[name]["splits"]}
        assert splits == {"train": cfg.num_train, "test": cfg.num_test}
        assert infos[name]["features"][0] == {"name": "x", "list": "float32", "length": 40}
    assert data["license"] == "apache-2.0" and data["task_categories"] and "mnist1d" in data["tags"]
    assert data["size_categories"] == ["10K<n<100K"]


def test_card_body_renders_every_config_loading_and_citation(exported):
    text = DatasetCard.load(exported / "README.md").text
    for name, cfg in CONFIGS.items():
        assert f"| `{name}` | {cfg.num_train:,} | {cfg.num_test:,} |" in text
    assert 'load_dataset("someone/mnist1d", "standard")' in text
    assert "](mnist1d.png)" in text and "@inproceedings{greydanus2024scaling" in text
    assert f"generator version {VERSION}" in text and "$" not in text


def test_metadata_file_holds_t_templates_and_config(exported):
    meta = json.loads((exported / "shuffled" / "mnist1d.json").read_text())
    data = generate(VARIANTS["shuffled"])
    np.testing.assert_array_equal(meta["t"], data.t)
    np.testing.assert_array_equal(meta["templates"], data.templates)
    assert meta["config"] == VARIANTS["shuffled"].to_dict()


def test_export_refuses_bad_names_and_existing_folders(exported, tmp_path, cache):
    with pytest.raises(FileExistsError, match="exists and is not an empty folder"):
        export({"standard": VARIANTS["standard"]}, exported, cache_dir=cache)
    with pytest.raises(ValueError, match="config name 'no translation' is invalid"):
        export({"no translation": CUSTOM["no_translation"]}, tmp_path / "a", cache_dir=cache)
    with pytest.raises(ValueError, match="'standard' is the named variant 'standard' but the knobs differ"):
        export({"standard": CUSTOM["no_translation"]}, tmp_path / "b", cache_dir=cache)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_exports_a_custom_variant(tmp_path, cache, capsys):
    out = tmp_path / "custom"
    argv = ["export", "--variant", "shuffled", "--set", "max_translation=20", "--name", "near", "--out", str(out),
            "--cache-dir", cache]
    assert main(argv) == 0
    assert "exported near" in capsys.readouterr().out
    hub = load_dataset(str(out), "near", cache_dir=str(tmp_path / "c"))
    np.testing.assert_array_equal(columns(hub["test"])["x"],
                                  generate(variant_config("shuffled", max_translation=20)).x_test.astype("f4"))
    assert main(["export", "--set", "seed=1", "--out", str(tmp_path / "x")]) == 2
    assert "name it with --name" in capsys.readouterr().err
    assert main(["export", "--variants", "clean", "--name", "c", "--out", str(tmp_path / "y")]) == 2
    assert "--variants takes named variants" in capsys.readouterr().err


def test_default_export_folder_makes_the_literal_call_work(tmp_path, cache, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--variants", "standard", "shuffled", "--cache-dir", cache]) == 0
    assert "to mnist1d" in capsys.readouterr().out and (tmp_path / "mnist1d" / "README.md").is_file()
    hub = load_dataset("mnist1d", "shuffled", cache_dir=str(tmp_path / "c"))   # the design's literal call
    want = generate(VARIANTS["shuffled"])
    np.testing.assert_array_equal(columns(hub["train"])["x"], want.x_train.astype("f4"))
    np.testing.assert_array_equal(columns(hub["test"])["y"], want.y_test)
    assert main(["export", "--variants", "clean", "--cache-dir", cache]) == 2   # never over an existing export
    assert "exists and is not an empty folder" in capsys.readouterr().err
