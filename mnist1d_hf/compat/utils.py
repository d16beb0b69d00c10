"""``mnist1d.utils`` of the reference package: seeding, pickles, ``ObjectView`` and ``plot_signals``.

``set_seed`` and ``plot_signals`` do what the reference's do, side effects included. Two differences, on
purpose: ``to_pickle`` writes atomically, and ``from_pickle`` rebuilds only numpy arrays, plain containers and
``ObjectView`` unless told the file is trusted (a pickle can otherwise run code).
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_file
from .safe_pickle import safe_load
from .transform import transform

PICKLE_PROTOCOL = 3  # the reference's protocol: files stay readable by its users' older Pythons

__all__ = ["ObjectView", "from_pickle", "plot_signals", "set_seed", "to_pickle", "transform"]


def set_seed(seed: int) -> None:
    """Seed ``random`` and numpy's global generator, exactly as the reference does (torch is not touched)."""
    random.seed(seed)
    np.random.seed(seed)


def to_pickle(thing: Any, path: str | Path) -> None:
    """Pickle ``thing`` to ``path`` (protocol 3, as the reference), atomically: never a half-written file."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            pickle.dump(thing, handle, protocol=PICKLE_PROTOCOL)

    write_file(path, write)


def from_pickle(path: str | Path, trusted: bool = False) -> Any:
    """Load a pickle of numpy arrays, plain containers and ``ObjectView``s; anything else needs ``trusted=True``.

    ``trusted=True`` is ``pickle.load``, as in the reference: the file may run any code while loading (results
    holding torch models need it). Only pass it for a file you made or trust.
    """
    if trusted:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    return safe_load(path)


class ObjectView:
    """A dict seen through attributes (``args.num_samples``); the dict is shared, as in the reference."""

    def __init__(self, d: dict) -> None:
        self.__dict__ = d

    def __repr__(self) -> str:
        return f"ObjectView({self.__dict__!r})"


def plot_signals(xs: Sequence[np.ndarray], t: np.ndarray, labels: Sequence[Any] | None = None, args: Any = None,
                 ratio: float = 2.6, do_transform: bool = False, dark_mode: bool = False, zoom: float = 1):
    """The first ten signals side by side, drawn as in the paper (``x`` horizontal, ``t`` downwards).

    As the reference: a new pyplot figure (so ``plt.savefig`` and a notebook's inline display see it), then
    ``plt.show()``; returns the figure. ``do_transform=True`` transforms each signal first (needs ``args``).
    """
    import matplotlib.pyplot as plt  # only for plots: the package itself never imports pyplot

    if do_transform and args is None:
        raise ValueError("plot_signals(do_transform=True) needs args: the transform's knobs")
    rows, cols = 1, 10
    fig = plt.figure(figsize=[cols * 1.5, rows * 1.5 * ratio], dpi=60)
    for ix in range(rows * cols):
        ax = plt.subplot(rows, cols, ix + 1)
        x = xs[ix]
        if do_transform:  # as the reference, each signal's transform takes the previous one's time axis
            x, t = transform(x, t, args)
        if dark_mode:
            ax.plot(x, t, "wo", linewidth=6)
            ax.set_facecolor("k")
        else:
            ax.plot(x, t, "k-", linewidth=2)
        if labels is not None:
            ax.set_title(f"label={labels[ix]}", fontsize=22)
        ax.set_xlim(-zoom, zoom)
        ax.set_ylim(-zoom, zoom)
        ax.invert_yaxis()
        ax.set_xticks([], [])
        ax.set_yticks([], [])
    plt.subplots_adjust(wspace=0, hspace=0)
    plt.tight_layout()
    plt.show()
    return fig
