"""The one typed, validated object that holds every knob of the MNIST-1D generator."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .templates import NUM_CLASSES

MODES = ("reference", "fast")


class ClassCounts:
    """The sizes the reference's loop makes from ``num_samples``: ``num_samples // 10`` examples of each class
    (shared by the strict config and the compat's lenient knobs)."""

    num_samples: int

    @property
    def samples_per_class(self) -> int:
        return self.num_samples // NUM_CLASSES

    @property
    def total(self) -> int:
        """Examples actually generated: the reference makes ``num_samples // 10`` of each class."""
        return self.samples_per_class * NUM_CLASSES


@dataclass(frozen=True)
class MNIST1DConfig(ClassCounts):
    """Generator knobs (the paper's defaults) plus how to draw the randomness.

    ``train_split`` is either a fraction in (0, 1), as in the paper (train size ``int(N * train_split)``), or a
    whole number of training examples, which makes sizes such as 50,000 / 1,000 exact.
    ``label_noise`` resamples that fraction of the TRAINING labels uniformly from 0..9 after generation.
    ``mode`` "reference" replays the paper's legacy random stream bit for bit; "fast" uses a counter-based
    stream (a different random stream with the same distribution) for large datasets.
    """

    num_samples: int = 5000
    train_split: float | int = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 0.02
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42
    mode: str = "reference"
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "padding", _as_padding(self.padding))
        _validate(self)

    # sizes --------------------------------------------------------------------------------------------------
    @property
    def num_train(self) -> int:
        if _is_count(self.train_split):
            return int(self.train_split)
        return int(self.total * self.train_split)

    @property
    def num_test(self) -> int:
        return self.total - self.num_train

    @property
    def dilated_length(self) -> int:
        """Length of the signal between padding and the final subsampling (72 by default)."""
        return self.template_len + self.padding[1]

    # round trip ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["padding"] = list(self.padding)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MNIST1DConfig":
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown MNIST1DConfig field(s) {unknown}; known: {field_names()}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "MNIST1DConfig":
        return cls.from_dict(json.loads(text))

    def replace(self, **overrides: Any) -> "MNIST1DConfig":
        """A new, validated config with some knobs changed."""
        unknown = sorted(set(overrides) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown MNIST1DConfig field(s) {unknown}; known: {field_names()}")
        return dataclasses.replace(self, **overrides)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(MNIST1DConfig)]


# validation -------------------------------------------------------------------------------------------------
def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_padding(value: Any) -> tuple[int, int]:
    try:
        low, high = value
    except (TypeError, ValueError):
        raise ConfigError(f"padding={value!r}: expected two integers [low, high]") from None
    return (_int("padding", low), _int("padding", high))


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{name}={value!r}: expected an integer")
    return value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r}: expected a finite number")
    return float(value)


def require(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise the project's one error shape for a bad value: ``name=value is invalid: allowed ...``."""
    if not ok:
        raise ConfigError(f"{name}={value!r} is invalid: allowed {allowed}")


def _validate(c: MNIST1DConfig) -> None:
    for name in ("num_samples", "template_len", "max_translation", "final_seq_length", "seed"):
        object.__setattr__(c, name, _int(name, getattr(c, name)))
    for name in ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale", "label_noise"):
        object.__setattr__(c, name, _number(name, getattr(c, name)))
    if not isinstance(c.shuffle_seq, bool):
        raise ConfigError(f"shuffle_seq={c.shuffle_seq!r}: expected true or false")

    require(c.mode in MODES, "mode", c.mode, f"one of {list(MODES)}")
    require(c.num_samples >= NUM_CLASSES, "num_samples", c.num_samples,
            f">= {NUM_CLASSES} (every class needs at least one example)")
    require(c.template_len >= 1, "template_len", c.template_len, ">= 1")
    low, high = c.padding
    require(0 <= low <= high, "padding", list(c.padding), "0 <= low <= high")
    require(c.dilated_length >= 2, "template_len + padding[1]", c.dilated_length, ">= 2")
    require(1 <= c.max_translation <= c.dilated_length, "max_translation", c.max_translation,
            f"1 <= max_translation <= template_len + padding[1] = {c.dilated_length}")
    for name in ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale"):
        require(getattr(c, name) >= 0, name, getattr(c, name), ">= 0")
    require(c.scale_coeff < 2, "scale_coeff", c.scale_coeff, "< 2 (a larger value can flip a signal's sign)")
    require(c.final_seq_length >= 2, "final_seq_length", c.final_seq_length, ">= 2")
    require(0 <= c.seed < 2**32, "seed", c.seed, "0 <= seed < 2**32 (numpy's legacy seeding)")
    require(0 <= c.label_noise <= 1, "label_noise", c.label_noise, "a fraction in [0, 1]")

    if isinstance(c.train_split, bool) or not isinstance(c.train_split, (int, float)):
        raise ConfigError(f"train_split={c.train_split!r}: expected a fraction in (0, 1) or a whole number "
                         "of training examples")
    if _is_count(c.train_split):
        require(1 <= c.train_split < c.total, "train_split", c.train_split,
                f"a count of training examples in [1, {c.total - 1}] (total examples {c.total})")
    else:
        require(0 < c.train_split < 1, "train_split", c.train_split,
                "a fraction in (0, 1) or a whole number of training examples")
        require(1 <= c.num_train < c.total, "train_split", c.train_split,
                f"a split leaving both sides non-empty: {c.total} examples give {c.num_train} train / "
                f"{c.num_test} test")
