"""``mnist1d.utils`` of the reference package: seeding, pickles, ``ObjectView`` and ``plot_signals``.

Differences from the reference, each on purpose: ``set_seed`` also seeds torch when the caller has imported it;
``to_pickle`` writes atomically; ``from_pickle`` only rebuilds numpy arrays and plain containers (a pickle can
otherwise run code); ``plot_signals`` returns a matplotlib ``Figure`` instead of calling ``pyplot.show``.
"""

from __future__ import annotations

import pickle
import random
import sys
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
    """Seed ``random``, numpy's global generator and, if the caller has already imported it, torch.

    The reference seeds only ``random`` and numpy, which left its notebooks' torch initializations unseeded.
    torch is never imported here: this package must not pull it in.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def to_pickle(thing: Any, path: str | Path) -> None:
    """Pickle ``thing`` to ``path`` (protocol 3, as the reference), atomically: never a half-written file."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            pickle.dump(thing, handle, protocol=PICKLE_PROTOCOL)

    write_file(path, write)


def from_pickle(path: str | Path) -> Any:
    """Load a pickle of numpy arrays and plain containers; anything that would run code is refused."""
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

    Returns the ``matplotlib.figure.Figure`` (a notebook displays it; ``fig.savefig(path)`` writes it).
    """
    from matplotlib.figure import Figure

    if do_transform and args is None:
        raise ValueError("plot_signals(do_transform=True) needs args: the transform's knobs")
    rows, cols = 1, 10
    fig = Figure(figsize=[cols * 1.5, rows * 1.5 * ratio], dpi=60)
    for ix in range(rows * cols):
        ax = fig.add_subplot(rows, cols, ix + 1)
        x, ti = xs[ix], t
        if do_transform:
            x, ti = transform(x, ti, args)
        if dark_mode:
            ax.plot(x, ti, "wo", linewidth=6)
            ax.set_facecolor("k")
        else:
            ax.plot(x, ti, "k-", linewidth=2)
        if labels is not None:
            ax.set_title(f"label={labels[ix]}", fontsize=22)
        ax.set_xlim(-zoom, zoom)
        ax.set_ylim(-zoom, zoom)
        ax.invert_yaxis()
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(wspace=0, hspace=0)
    fig.tight_layout()
    return fig
