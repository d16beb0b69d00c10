"""MNIST-1D as a ``datasets`` builder: every named variant is a config, and any knob override is a custom one.

``datasets`` >= 4 no longer runs dataset scripts in ``load_dataset``, so this builder is used directly (``load``
below, and ``export`` for the Hub, which receives Parquet files instead of code).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np
import pyarrow

from .config import MNIST1DConfig, field_names
from .generate import MNIST1DData, check_fits_in_memory, generate
from .templates import NUM_CLASSES
from .variants import DESCRIPTIONS, VARIANTS, variant_config

# The cache is keyed by config id and this version only (a builder used directly has no code hash): bump it
# whenever the generator's output for a given config changes, or users keep reading stale cached data.
VERSION = datasets.Version("1.0.0")

DEFAULT_VARIANT = "standard"
ROWS_PER_TABLE = 10_000
HOMEPAGE = "https://github.com/greydanus/mnist1d"
LICENSE = "apache-2.0"
CITATION = """\
@inproceedings{greydanus2024scaling,
  title     = {Scaling Down Deep Learning with {MNIST}-{1D}},
  author    = {Greydanus, Sam and Kobak, Dmitry},
  booktitle = {Proceedings of the 41st International Conference on Machine Learning (ICML)},
  year      = {2024}
}
"""
SUMMARY = ("MNIST-1D: procedurally generated 1-D digit signals in 10 classes, small enough to train on a CPU in "
           "minutes yet separating logistic regression, MLPs, CNNs and RNNs.")
METADATA_MARKER = "MNIST-1D metadata (JSON): "


def features(cfg: MNIST1DConfig) -> datasets.Features:
    """``x``: the signal as a fixed-length float32 list; ``y``: the digit as a ClassLabel named "0".."9"."""
    return datasets.Features({
        "x": datasets.List(datasets.Value("float32"), length=cfg.final_seq_length),
        "y": datasets.ClassLabel(names=[str(k) for k in range(NUM_CLASSES)]),
    })


def metadata(data: MNIST1DData) -> dict[str, Any]:
    """What every row shares: the generator config and version, the time axis ``t`` and the templates."""
    return {"generator_version": str(VERSION), "config": data.config.to_dict(), "t": data.t.tolist(),
            "templates": data.templates.tolist()}


def metadata_of(dataset: datasets.Dataset | datasets.DatasetInfo) -> dict[str, Any]:
    """Read back ``metadata(...)`` from a dataset built here (it travels in the description, not in rows)."""
    info = dataset.info if isinstance(dataset, datasets.Dataset) else dataset
    _, marker, payload = info.description.partition(METADATA_MARKER)
    if not marker:
        raise ValueError("this dataset's description carries no MNIST-1D metadata; was it built by MNIST1D?")
    return json.loads(payload)


def changed_knobs(cfg: MNIST1DConfig) -> str:
    """The knobs that differ from the paper's defaults, e.g. ``shuffle_seq=true, max_translation=20``."""
    defaults = MNIST1DConfig().to_dict()
    changed = [f"{k}={json.dumps(v)}" for k, v in cfg.to_dict().items() if v != defaults[k]]
    return ", ".join(changed) or "the paper's defaults"


def named_variant_of(cfg: MNIST1DConfig) -> str | None:
    """The named variant equal to ``cfg``, if any: equal configs share one cache entry and one config name."""
    return next((name for name, named in VARIANTS.items() if named == cfg), None)


def custom_config_id(cfg: MNIST1DConfig) -> str:
    """A cache id that depends only on the resolved knobs, however they were spelled."""
    return "custom-" + hashlib.sha256(cfg.to_json().encode()).hexdigest()[:16]


@dataclass
class MNIST1DBuilderConfig(datasets.BuilderConfig):
    """A builder config holding one complete generator configuration."""

    generator: MNIST1DConfig = field(default_factory=MNIST1DConfig)


class MNIST1D(datasets.ArrowBasedBuilder):
    """The named variants as builder configs; ``MNIST1D(config_name="shuffled", max_translation=20)`` (any
    generator knob) or ``MNIST1D(generator=cfg)`` builds a custom config with its own cache id.

    The generator returns whole arrays, so the splits are written as Arrow tables of ``ROWS_PER_TABLE`` rows,
    not encoded example by example in Python.
    """

    VERSION = VERSION
    BUILDER_CONFIG_CLASS = MNIST1DBuilderConfig
    BUILDER_CONFIGS = [MNIST1DBuilderConfig(name=name, version=VERSION, description=DESCRIPTIONS[name],
                                            generator=cfg) for name, cfg in VARIANTS.items()]
    DEFAULT_CONFIG_NAME = DEFAULT_VARIANT

    def __init__(self, *args: Any, config_name: str | None = None, generator: MNIST1DConfig | None = None,
                 **kwargs: Any) -> None:
        knobs = {name: kwargs.pop(name) for name in field_names() if name in kwargs}
        base = generator if generator is not None else variant_config(config_name or DEFAULT_VARIANT)
        resolved = base.replace(**knobs) if knobs else base
        config_name = named_variant_of(resolved)
        if config_name is None:
            config_name = DEFAULT_VARIANT
            kwargs.update(generator=resolved, config_id=custom_config_id(resolved),
                          description=f"A custom configuration: {changed_knobs(resolved)}.")
        kwargs.setdefault("dataset_name", "mnist1d")
        super().__init__(*args, config_name=config_name, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=f"{SUMMARY}\n\n{self.config.description}",
                                    features=features(self.config.generator), homepage=HOMEPAGE,
                                    citation=CITATION, license=LICENSE, version=self.config.version)

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        data = generate(self.config.generator)
        # t depends on the generated signals, so the description is completed once they exist
        self.info.description = f"{self._info().description}\n\n{METADATA_MARKER}{json.dumps(metadata(data))}"
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"x": data.x_train, "y": data.y_train}),
                datasets.SplitGenerator(name=datasets.Split.TEST, gen_kwargs={"x": data.x_test, "y": data.y_test})]

    def _generate_tables(self, x: np.ndarray, y: np.ndarray) -> Iterator[tuple[int, pyarrow.Table]]:
        schema = self.info.features.arrow_schema
        signals = np.ascontiguousarray(x, dtype=np.float32)
        for start in range(0, len(signals), ROWS_PER_TABLE):
            rows = signals[start:start + ROWS_PER_TABLE]
            columns = [pyarrow.FixedSizeListArray.from_arrays(pyarrow.array(rows.reshape(-1)), rows.shape[1]),
                       pyarrow.array(y[start:start + ROWS_PER_TABLE], type=pyarrow.int64())]
            yield start, pyarrow.Table.from_arrays(columns, schema=schema)


def load(variant: str = DEFAULT_VARIANT, cache_dir: str | None = None, **overrides: Any) -> datasets.DatasetDict:
    """The variant's ``train`` and ``test`` splits as a DatasetDict, generated once and then read from the cache
    (the HF datasets cache unless ``cache_dir`` is given). Overrides are generator knobs."""
    return load_generated(variant_config(variant, **overrides), cache_dir=cache_dir)


def load_generated(cfg: MNIST1DConfig, cache_dir: str | None = None) -> datasets.DatasetDict:
    """``load`` for a complete generator config (what ``export`` and ``publish`` receive).

    A cached entry that cannot be read back whole (a truncated Arrow file: killed mid-write, full disk) is
    rebuilt with a warning naming its folder; if the rebuilt entry is still unreadable, ``CorruptCacheError``
    names the folder to delete. Concurrent builds of one config are serialized by ``datasets``' file lock.
    """
    check_fits_in_memory(cfg)
    builder = MNIST1D(generator=cfg, cache_dir=cache_dir)
    builder.download_and_prepare()  # a no-op when the cache already holds this config id and version
    try:
        return read_complete(builder)
    except CorruptCacheError as err:
        warnings.warn(f"{err}; rebuilding it", stacklevel=2)
    builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD)
    return read_complete(builder)


class CorruptCacheError(OSError):
    """A cached dataset that cannot be read back whole; the message names its folder."""


def read_complete(builder: MNIST1D) -> datasets.DatasetDict:
    """The builder's cached splits, checked to hold every row its ``dataset_info.json`` promises."""
    folder = builder.cache_dir
    try:
        dd = builder.as_dataset()
        expected = {name: split.num_examples for name, split in (builder.info.splits or {}).items()}
        found = {name: len(dd[name]) for name in dd}
        if not expected or found != expected:
            raise ValueError(f"rows {found}, expected {expected}")
        for split in dd.values():  # touch the last row: a short final record batch fails here
            split[len(split) - 1]
    except (OSError, ValueError, KeyError, pyarrow.ArrowException) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CorruptCacheError(f"the cached MNIST-1D data in {folder} is incomplete or corrupt ({reason}); "
                                "delete that folder to rebuild it") from None
    return dd
