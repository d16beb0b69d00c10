"""The reference's generator knobs, read from any ``args`` and refused only where the reference cannot make data.

The reference package makes data from configs that the native ``MNIST1DConfig`` refuses on purpose (``padding``
with low > high, ``max_translation`` beyond the dilated length, negative noise scales, a ``template_len`` of
zero, ...). ``ReferenceKnobs`` holds the knobs as the reference reads them and refuses only configs the
reference fails on, plus non-finite scales (from which the reference makes NaN data). It offers the attributes
the reference mode reads from a config (``total``, ``dilated_length``, ...), so the same vectorized code runs it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import ClassCounts
from ..templates import NUM_CLASSES

INTEGER_KNOBS = ("num_samples", "template_len", "max_translation", "final_seq_length", "seed")
SCALE_KNOBS = ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale")
KNOB_NAMES = ("num_samples", "train_split", "template_len", "padding", "scale_coeff", "max_translation",
              "corr_noise_scale", "iid_noise_scale", "shear_scale", "shuffle_seq", "final_seq_length", "seed")


@dataclass(frozen=True)
class ReferenceKnobs(ClassCounts):
    """The twelve knobs of the reference's ``args``, normalized (ints, floats, a bool and a (low, high) pair)."""

    num_samples: int
    train_split: float
    template_len: int
    padding: tuple[int, int]
    scale_coeff: float
    max_translation: int
    corr_noise_scale: float
    iid_noise_scale: float
    shear_scale: float
    shuffle_seq: bool
    final_seq_length: int
    seed: int

    @property
    def dilated_length(self) -> int:
        """The reference's working length, ``template_len + padding[-1]``."""
        return self.template_len + self.padding[1]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (``padding`` as a list), in the reference's field order."""
        d = dataclasses.asdict(self)
        d["padding"] = list(self.padding)
        return d


def knobs_of(args: Any) -> ReferenceKnobs:
    """The knobs of ``args`` (any object with the attributes, or a mapping; others are ignored), checked."""
    raw = {name: _field(args, name) for name in KNOB_NAMES}
    padding = raw["padding"]
    try:
        low, high = padding
    except (TypeError, ValueError):
        raise ValueError(f"padding={padding!r}: expected two integers [low, high]") from None
    knobs = ReferenceKnobs(
        **{name: _integer(name, raw[name]) for name in INTEGER_KNOBS},
        **{name: _finite(name, raw[name]) for name in (*SCALE_KNOBS, "train_split")},
        padding=(_integer("padding", low), _integer("padding", high)),
        shuffle_seq=bool(raw["shuffle_seq"]),  # the reference tests its truth value
    )
    _check_the_reference_can_make(knobs)
    return knobs


def _field(args: Any, name: str) -> Any:
    if isinstance(args, Mapping):
        if name not in args:
            raise AttributeError(f"args has no {name!r}: the generator needs {', '.join(KNOB_NAMES)}")
        return args[name]
    if not hasattr(args, name):
        raise AttributeError(f"args has no attribute {name!r}: the generator needs {', '.join(KNOB_NAMES)}")
    return getattr(args, name)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise ValueError(f"{name}={value!r}: expected an integer")


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r}: expected a finite number (the reference makes NaN data from "
                         "infinities and NaN)")
    return float(value)


def smallest_padding(padding: tuple[int, int]) -> int:
    """The least ``low + int(u * (high - low + 1))`` over u in [0, 1): the reference's shortest padding."""
    low, high = padding
    width = high - low + 1
    return low if width >= 0 else low + width + 1  # int() truncates toward zero


def _check_the_reference_can_make(k: ReferenceKnobs) -> None:
    """Refuse what the reference fails on, naming the knob and what is allowed."""
    if k.num_samples < NUM_CLASSES:
        raise ValueError(f"num_samples={k.num_samples} is invalid: allowed >= {NUM_CLASSES} (the reference makes "
                         "num_samples // 10 examples of each class and fails with none)")
    if smallest_padding(k.padding) < 0:
        raise ValueError(f"padding={list(k.padding)} is invalid: its paddings low + int(u * (high - low + 1)) "
                         "can be negative, which the reference cannot append")
    if k.dilated_length < 2:
        raise ValueError(f"template_len + padding[1] = {k.dilated_length} is invalid: allowed >= 2 (the "
                         "reference's interpolation needs two points)")
    if k.max_translation < 1:
        raise ValueError(f"max_translation={k.max_translation} is invalid: allowed >= 1 (the reference draws "
                         "choice(max_translation))")
    if k.final_seq_length < 0:
        raise ValueError(f"final_seq_length={k.final_seq_length} is invalid: allowed >= 0")
    if not 0 <= k.seed < 2**32:
        raise ValueError(f"seed={k.seed} is invalid: allowed 0 <= seed < 2**32 (numpy's legacy seeding)")
