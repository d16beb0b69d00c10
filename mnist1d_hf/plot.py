"""The paper's Figure 1 for any config: each class's template and a few of its transformed examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import save_figure
from .generate import MNIST1DData
from .templates import template_t

EXAMPLES_PER_CLASS = 4


def plot_examples(data: MNIST1DData, out: str | Path, examples_per_class: int = EXAMPLES_PER_CLASS) -> Path:
    """Write a PNG: one column per class, the template on top and examples below, drawn as in the paper."""
    from matplotlib.figure import Figure  # a Figure without pyplot: no global backend switch, nothing to close

    out = Path(out)
    rows = 1 + examples_per_class
    fig = Figure(figsize=(12, 1.4 * rows + 0.4))
    axes = fig.subplots(rows, 10, sharex=False, squeeze=False)
    for label in range(10):
        ax = axes[0, label]
        ax.plot(data.templates[label], template_t(), "k-", lw=2)
        ax.set_title(str(label), fontsize=14)
        picks = np.flatnonzero(data.y_train == label)[:examples_per_class]
        for row, i in enumerate(picks, start=1):
            axes[row, label].plot(data.x_train[i], data.t, color="tab:blue", lw=1.5)
    for ax in axes.flat:
        ax.invert_yaxis()
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("template", fontsize=10)
    for row in range(1, rows):
        axes[row, 0].set_ylabel("example", fontsize=10)
    fig.suptitle(f"MNIST-1D: {data.config.final_seq_length}-point signals "
                 f"(shuffle_seq={data.config.shuffle_seq}, seed={data.config.seed})", fontsize=11)
    fig.tight_layout()
    save_figure(fig, out, dpi=100)
    return out
