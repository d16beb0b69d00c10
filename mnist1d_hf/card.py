"""The dataset card: YAML front matter that ``load_dataset`` reads (configs, dataset_info) and a body rendered
from ``hub_card/`` (installed as ``mnist1d_hf.hub_card``). The body is a function of the YAML alone, so a card merged on the Hub renders every config."""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import Any

from datasets import DatasetDict, DatasetInfo
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from .builder import CITATION, DEFAULT_VARIANT, LICENSE, VERSION, changed_knobs
from .config import MNIST1DConfig
from .variants import DESCRIPTIONS, VARIANTS

CARD_PACKAGE = "mnist1d_hf.hub_card"  # the checkout's hub_card/, installed inside this package
FIGURE = "mnist1d.png"
METADATA_FILE = "mnist1d.json"
SPLITS = ("train", "test")
CARD_FIELDS = {  # what this package owns in the YAML; any other key already on the Hub is kept
    "pretty_name": "MNIST-1D",
    "license": LICENSE,
    "task_categories": ["tabular-classification"],
    "task_ids": ["tabular-multi-class-classification"],
    "tags": ["mnist1d", "time-series", "1d-signal", "synthetic"],
}


def parquet_path(name: str, split: str) -> str:
    return f"{name}/{split}-00000-of-00001.parquet"


def config_entry(name: str, cfg: MNIST1DConfig) -> dict[str, Any]:
    """One ``configs:`` entry: where the config's Parquet files are, and what it is (knobs, generator version)."""
    about = DESCRIPTIONS[name] if VARIANTS.get(name) == cfg else "A custom configuration."
    entry: dict[str, Any] = {
        "data_files": [{"split": split, "path": f"{name}/{split}-*"} for split in SPLITS],
        "description": f"{about} Knobs: {changed_knobs(cfg)}. Generator version {VERSION}.",
    }
    if name == DEFAULT_VARIANT:
        entry["default"] = True
    return entry


def dataset_info(dd: DatasetDict, download_size: int) -> DatasetInfo:
    """One ``dataset_info:`` entry: features, split sizes and the bytes of the Parquet files."""
    info = dd["train"].info
    return DatasetInfo(features=info.features, splits=info.splits, dataset_size=info.dataset_size,
                       download_size=download_size)


def card_data(configs: dict[str, dict[str, Any]], infos: dict[str, DatasetInfo],
              existing: DatasetCardData | None = None) -> DatasetCardData:
    """The YAML: ``existing`` (a card already on the Hub) with these configs added or replaced."""
    data = DatasetCardData(**(existing.to_dict() if existing is not None else {}))
    MetadataConfigs(configs).to_dataset_card_data(data)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    for key, value in CARD_FIELDS.items():
        data[key] = value
    _mark_one_default(data)
    data["size_categories"] = [_size_category(_largest_config(data))]
    return data


def _mark_one_default(data: DatasetCardData) -> None:
    """Exactly one config carries ``default: true``: the standard one if present, else the first listed."""
    configs = data.get("configs") or []
    names = [c["config_name"] for c in configs]
    chosen = DEFAULT_VARIANT if DEFAULT_VARIANT in names else (names[0] if names else None)
    for c in configs:
        c.pop("default", None)
        if c["config_name"] == chosen:
            c["default"] = True


def merge_card_data(card: DatasetCardData, into: DatasetCardData | None) -> DatasetCardData:
    """The YAML of ``card`` merged into ``into``: its configs added or replaced, the others kept."""
    return card_data(dict(MetadataConfigs.from_dataset_card_data(card)),
                     dict(DatasetInfosDict.from_dataset_card_data(card)), existing=into)


def config_names(data: DatasetCardData) -> list[str]:
    return list(MetadataConfigs.from_dataset_card_data(data))


def render_card(data: DatasetCardData, repo_id: str) -> str:
    """README.md: the YAML front matter, then ``hub_card/README.md`` filled in from that YAML."""
    template = Template(_read_card_file("README.md"))
    configs = MetadataConfigs.from_dataset_card_data(data)
    names = list(configs)
    first = next((n for n in names if configs[n].get("default")), names[0])
    others = ", ".join(f'"{n}"' for n in names if n != first)
    load_line = f'ds = load_dataset("{repo_id}", "{first}")' + (f"   # or {others}" if others else "")
    body = template.substitute(
        generator_version=str(VERSION),
        configurations=_configurations_table(data),
        load_examples=load_line,
        table1=_read_card_file("table1.md").strip(),
        citation=CITATION,
    )
    return f"---\n{data.to_yaml()}\n---\n\n{body}"


def _configurations_table(data: DatasetCardData) -> str:
    configs = MetadataConfigs.from_dataset_card_data(data)
    infos = DatasetInfosDict.from_dataset_card_data(data)
    rows = ["| config | train | test | description |", "|---|---|---|---|"]
    for name, entry in configs.items():
        splits = infos[name].splits if name in infos and infos[name].splits else {}
        sizes = [f"{splits[s].num_examples:,}" if s in splits else "" for s in SPLITS]
        rows.append(f"| `{name}` | {sizes[0]} | {sizes[1]} | {entry.get('description', '')} |")
    return "\n".join(rows)


def _largest_config(data: DatasetCardData) -> int:
    infos = DatasetInfosDict.from_dataset_card_data(data)
    return max((sum(s.num_examples for s in info.splits.values()) for info in infos.values() if info.splits),
               default=0)


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M")]
    return next((label for bound, label in bounds if n < bound), "10M<n<100M")


def _read_card_file(name: str) -> str:
    path = resources.files(CARD_PACKAGE) / name
    if not path.is_file():
        raise FileNotFoundError(f"dataset card template {path} is missing from this install of mnist1d-hf; "
                                "reinstall it (pip install -e .)")
    return path.read_text()
