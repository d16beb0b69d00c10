"""The dataset card's YAML follows the Hub's conventions (checked on the rendered README, as the Hub reads it), and
its Table 1 quotes the committed runs."""

import json
import statistics
from collections import defaultdict
from pathlib import Path

import datasets
import pytest
import yaml
from huggingface_hub import DatasetCardData

from mnist1d_hf import VARIANTS
from mnist1d_hf.builder import features
from mnist1d_hf.card import card_data, config_entry, merge_card_data, render_card

SIZE_CATEGORIES = {"n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M"}


def info(cfg):
    splits = datasets.SplitDict()
    splits.add(datasets.SplitInfo("train", num_examples=cfg.num_train))
    splits.add(datasets.SplitInfo("test", num_examples=cfg.num_test))
    return datasets.DatasetInfo(features=features(cfg), splits=splits, dataset_size=1, download_size=1)


def rendered(names):
    data = card_data({n: config_entry(n, VARIANTS[n]) for n in names}, {n: info(VARIANTS[n]) for n in names})
    return render_card(data, "someone/mnist1d")


def front_matter(card):
    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def defaults(meta):
    return [c["config_name"] for c in meta["configs"] if c.get("default")]


def test_the_yaml_has_the_hub_metadata():
    meta, body = front_matter(rendered(list(VARIANTS)))
    assert meta["task_categories"] == ["tabular-classification"]
    assert meta["task_ids"] == ["tabular-multi-class-classification"]
    assert {"time-series", "1d-signal", "synthetic"} <= set(meta["tags"])
    assert meta["license"] == "apache-2.0" and meta["pretty_name"] == "MNIST-1D"
    assert len(meta["size_categories"]) == 1 and meta["size_categories"][0] in SIZE_CATEGORIES
    assert meta["size_categories"] == ["10K<n<100K"]  # the largest config, `large`, has 51,000 examples
    assert defaults(meta) == ["standard"]
    assert sorted(c["config_name"] for c in meta["configs"]) == sorted(VARIANTS)
    for c in meta["configs"]:
        assert c["data_files"] == [{"split": s, "path": f"{c['config_name']}/{s}-*"} for s in ("train", "test")]
    assert {i["config_name"] for i in meta["dataset_info"]} == set(VARIANTS)
    assert "datasets` >= 4" in body
    assert 'load_dataset("someone/mnist1d", "standard")' in body


def test_without_standard_the_first_config_is_the_one_default():
    meta, body = front_matter(rendered(["shuffled", "clean"]))
    assert defaults(meta) == ["clean"]  # configs are listed sorted by name
    assert meta["size_categories"] == ["1K<n<10K"]
    assert 'load_dataset("someone/mnist1d", "clean")' in body


def test_merging_into_a_card_on_the_hub_keeps_exactly_one_default():
    on_hub = card_data({"clean": config_entry("clean", VARIANTS["clean"])}, {"clean": info(VARIANTS["clean"])})
    ours = card_data({n: config_entry(n, VARIANTS[n]) for n in ("standard", "shuffled")},
                     {n: info(VARIANTS[n]) for n in ("standard", "shuffled")})
    meta, _ = front_matter(render_card(merge_card_data(ours, on_hub), "someone/mnist1d"))
    assert defaults(meta) == ["standard"]
    assert sorted(c["config_name"] for c in meta["configs"]) == ["clean", "shuffled", "standard"]


@pytest.mark.parametrize("field", ["task_categories", "tags"])
def test_our_fields_replace_stale_ones_from_the_hub(field):
    stale = DatasetCardData(**{field: ["image-classification"]})
    merged = merge_card_data(card_data({"standard": config_entry("standard", VARIANTS["standard"])},
                                       {"standard": info(VARIANTS["standard"])}), stale)
    assert "image-classification" not in merged[field]


def test_the_card_states_the_frozen_file_difference_exactly():
    _, body = front_matter(rendered(["standard"]))
    assert "depends on the numpy and scipy versions" in body and "more\nthan 1e-14" in body
    assert "92 of the 160,000" not in body, "a count of differing values holds for one pair of library versions"


def test_the_cards_table1_quotes_the_committed_runs():
    """The card's measured rows are the mean ± std (over seeds) of the stored Table 1 runs' last-step accuracy."""
    root = Path(__file__).resolve().parents[1]
    accuracy = defaultdict(list)
    for path in sorted((root / "results" / "table1" / "runs").glob("*.json")):
        run = json.loads(path.read_text())
        accuracy[run["tags"]["variant"], run["tags"]["model"]].append(100 * run["result"]["final"]["val/acc"])
    card = (root / "hub_card" / "table1.md").read_text()
    for variant in ("standard", "shuffled"):
        cells = [f"{statistics.fmean(accuracy[variant, m]):.1f} ± {statistics.stdev(accuracy[variant, m]):.1f}"
                 for m in ("logistic", "mlp", "cnn", "gru")]
        assert f"| `{variant}`, measured | {' | '.join(cells)} |" in card
