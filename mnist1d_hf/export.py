"""Export configs to a folder laid out exactly like a Hub dataset repo, which ``load_dataset(folder, name)``
reads without any code: ``<name>/train-*.parquet``, ``<name>/test-*.parquet``, ``<name>/mnist1d.json`` (t,
templates, generator config), the sample figure, and README.md whose YAML lists the configs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from .atomic import write_folder
from .builder import load_generated, metadata_of
from .card import FIGURE, METADATA_FILE, SPLITS, card_data, config_entry, dataset_info, parquet_path, render_card
from .config import MNIST1DConfig
from .generate import generate
from .plot import plot_examples
from .variants import VARIANTS

PLACEHOLDER_REPO_ID = "OWNER/mnist1d"
DEFAULT_OUT = Path("mnist1d")  # so that, in its parent folder, load_dataset("mnist1d", "shuffled") reads it
CONFIG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_config_names(configs: Mapping[str, MNIST1DConfig]) -> None:
    """Names become folders and ``load_dataset`` config names; a named variant's name means its exact knobs."""
    if not configs:
        raise ValueError("no configs to export: name at least one variant")
    for name, cfg in configs.items():
        if not CONFIG_NAME.fullmatch(name):
            raise ValueError(f"config name {name!r} is invalid: allowed letters, digits, '_' and '-', "
                             "starting with a letter or digit")
        if name in VARIANTS and VARIANTS[name] != cfg:
            raise ValueError(f"config name {name!r} is the named variant {name!r} but the knobs differ from it; "
                             "choose another name (--name) for a custom config")


def write_export(configs: Mapping[str, MNIST1DConfig], folder: Path, repo_id: str = PLACEHOLDER_REPO_ID,
                 cache_dir: str | None = None) -> list[Path]:
    """Fill the empty ``folder`` with the export; returns the files written."""
    check_config_names(configs)
    folder = Path(folder)
    entries, infos = {}, {}
    for name, cfg in configs.items():
        dd = load_generated(cfg, cache_dir=cache_dir)
        (folder / name).mkdir()
        for split in SPLITS:
            dd[split].to_parquet(folder / parquet_path(name, split))
        (folder / name / METADATA_FILE).write_text(json.dumps(metadata_of(dd["train"]), indent=1) + "\n")
        entries[name] = config_entry(name, cfg)
        infos[name] = dataset_info(dd, sum((folder / parquet_path(name, s)).stat().st_size for s in SPLITS))
    plot_examples(generate(VARIANTS["standard"]), folder / FIGURE)
    (folder / "README.md").write_text(render_card(card_data(entries, infos), repo_id))
    return sorted(p for p in folder.rglob("*") if p.is_file())


def export(configs: Mapping[str, MNIST1DConfig], out: Path = DEFAULT_OUT, repo_id: str = PLACEHOLDER_REPO_ID,
           cache_dir: str | None = None) -> Path:
    """Write the export to the new folder ``out``, atomically (built in a temporary sibling, then renamed)."""
    write_folder(out, lambda tmp: write_export(configs, tmp, repo_id, cache_dir))
    return Path(out)
