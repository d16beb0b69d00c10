"""Named variants of MNIST-1D: each is just a configuration (``variant_config``), and any knob can still be
overridden."""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Any

from .config import MNIST1DConfig

VARIANTS: MappingProxyType[str, MNIST1DConfig] = MappingProxyType({
    # the paper's dataset, 4,000 train / 1,000 test: the reference generator's output bit for bit (the frozen
    # mnist1d_data.pkl, made with older numpy/scipy, differs in the last bits of some float64 values, how many
    # depending on the library versions; its labels, t and float32 values are ours)
    "standard": MNIST1DConfig(),
    # the same signals with the 40 positions permuted by one fixed permutation (no spatial prior left)
    "shuffled": MNIST1DConfig(shuffle_seq=True),
    # exactly 50,000 train / 1,000 test, for sample-efficiency curves (the pooling experiment)
    "large": MNIST1DConfig(num_samples=51_000, train_split=50_000),
    # the deep double descent protocol: 4,000 train / 12,000 test, 15% of training labels resampled
    "double_descent": MNIST1DConfig(num_samples=16_000, train_split=0.25, label_noise=0.15),
    # padding and translation only: no correlated or iid noise, no shear, no scaling
    "clean": MNIST1DConfig(scale_coeff=0.0, corr_noise_scale=0.0, iid_noise_scale=0.0, shear_scale=0.0),
})

DESCRIPTIONS: MappingProxyType[str, str] = MappingProxyType({
    "standard": ("The paper's dataset (4,000 train / 1,000 test): the reference generator's output bit for bit; "
                 "labels, t and float32 values as in its frozen mnist1d_data.pkl."),
    "shuffled": "Standard signals with the 40 positions permuted by one fixed permutation.",
    "large": "50,000 train / 1,000 test examples for sample-efficiency studies.",
    "double_descent": "16,000 examples split 4,000 / 12,000 with 15% of training labels resampled.",
    "clean": "Padding and translation only: no noise, shear or scaling.",
})


def variant_config(name: str, **overrides: Any) -> MNIST1DConfig:
    """The named variant's config, with any knobs overridden (the result is validated anew)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known variants: {', '.join(VARIANTS)}")
    return VARIANTS[name].replace(**overrides) if overrides else VARIANTS[name]


_warned_variant = False


def variant(name: str, **overrides: Any) -> MNIST1DConfig:
    """Deprecated name of ``variant_config`` (``variant`` also names the DataModule's argument); warns once per
    process, then behaves exactly like it."""
    global _warned_variant
    if not _warned_variant:
        _warned_variant = True
        warnings.warn("mnist1d_hf.variant is deprecated: use mnist1d_hf.variant_config (same arguments)",
                      FutureWarning, stacklevel=2)
    return variant_config(name, **overrides)
