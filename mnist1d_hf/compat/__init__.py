"""A drop-in for the reference ``mnist1d`` package: ``from mnist1d_hf import compat as mnist1d``.

The reference's names, at the top level and under ``data`` and ``utils``, on this package's exact generator;
``get_dataset`` without the reference's cache traps and ``from_pickle`` without code execution (see ``data``).
"""

from . import data, utils
from .data import MNIST1DCompatWarning, get_dataset, get_dataset_args, get_templates, make_dataset
from .transform import transform
from .utils import ObjectView, from_pickle, plot_signals, set_seed, to_pickle

__all__ = ["MNIST1DCompatWarning", "ObjectView", "data", "from_pickle", "get_dataset", "get_dataset_args",
           "get_templates", "make_dataset", "plot_signals", "set_seed", "to_pickle", "transform", "utils"]
