"""A drop-in for the reference ``mnist1d`` package: ``import mnist1d_hf.compat.alias`` before anything else.

After that line every ``import mnist1d`` / ``from mnist1d.data | .utils | .transform import ...`` resolves here
(``alias``); ``from mnist1d_hf import compat as mnist1d`` works without it. The reference's names, signatures,
messages and side effects on this package's exact generator; ``get_dataset`` without the reference's cache
traps and ``from_pickle`` without code execution unless ``trusted=True`` (docs/dropin.md lists every
difference).
"""

from . import data, utils
from .data import MNIST1DCompatWarning, get_dataset, get_dataset_args, get_templates, make_dataset
from .transform import transform
from .utils import ObjectView, from_pickle, plot_signals, set_seed, to_pickle

__all__ = ["MNIST1DCompatWarning", "ObjectView", "data", "from_pickle", "get_dataset", "get_dataset_args",
           "get_templates", "make_dataset", "plot_signals", "set_seed", "to_pickle", "transform", "utils"]
