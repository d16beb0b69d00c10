"""The lottery study's figures: section F's test-accuracy curves, trial 0's first-layer masks, and Fig. 3 (the
search's final accuracy per round, with the random masks of the same layerwise sparsity)."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from mnist1d_hf.atomic import save_figure

from ..runner import Results
from .paper import PAPER_FIG3
from .protocol import ROWS
from .readers import random_curve, round_k, search_finals, values
from .tables import ROW_LABELS


def analysis_curves(results: Results, out: Path) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 3.6))
    axes = fig.subplots(1, len(ROWS), sharey=True)
    styles = {("dense", "fresh"): ("0.5", ":"), ("dense", "theta0"): ("k", "-"),
              ("ticket", "theta0"): ("C0", "-"), ("random", "theta0"): ("C3", "-")}
    for ax, row in zip(axes, ROWS):
        columns = "new" if row == "reinit" else row
        for (model, init), (color, style) in styles.items():
            if row == "reinit":
                if model == "dense" and init == "theta0":
                    continue
                init = "fresh"
            records = results.select(stage="analysis", model=model, init=init, columns=columns)
            if not records:
                continue
            steps = [h["step"] for h in records[0]["result"]["history"]]
            acc = np.array([[100 * h["acc"] for h in r["result"]["history"]] for r in records])
            ax.plot(steps, acc.mean(0), style, color=color, label=f"{model} ({init})")
        ax.set(title=ROW_LABELS[row], xlabel="step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%), mean over trials")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "analysis_curves.png", dpi=110)
    return "analysis_curves.png"


def masks(first: dict, out: Path) -> str:
    """Trial 0's first-layer masks at the analysis round, ticket and random."""
    from matplotlib.figure import Figure

    from lightning_modules.lottery import adjacency

    fig = Figure(figsize=(10, 4.2))
    for ax, kind in zip(fig.subplots(1, 2), ("ticket", "random")):
        mask = np.array([[c == "1" for c in row] for row in first["first_layer"][kind]])
        rows = np.argsort(-mask.sum(1), kind="stable")[:80]
        ax.imshow(mask[rows], cmap="Greys", aspect="auto", interpolation="nearest")
        ax.set_title(f"{kind}: p(3 adjacent) = {adjacency(mask, 3):.4f}", fontsize=9)
        ax.set_xlabel("input position")
    fig.axes[0].set_ylabel("80 first-layer units with most survivors")
    fig.suptitle(f"first-layer masks of trial 0 at {100 * first['sparsity']:.1f}% sparsity (black = kept)")
    fig.tight_layout()
    save_figure(fig, out / "masks.png", dpi=110)
    return "masks.png"


def fig3(results: Results, out: Path) -> str:
    """The search's final test accuracy of every round (each trial thin, the mean thick) and, where trained, the
    random masks of the same layerwise sparsity."""
    from matplotlib.figure import Figure

    searches = results.select(stage="search")
    first = searches[0]["result"]
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    sparsities = [100 * record["sparsity"] for record in first["history"]]
    for r in searches:
        finals = [np.nan if h["final"] is None else 100 * h["final"] for h in r["result"]["history"]]
        ax.plot(sparsities[:len(finals)], finals, color="C0", alpha=0.35, lw=0.8)
    means = [statistics.fmean(search_finals(searches, i) or [np.nan]) for i in range(len(sparsities))]
    ax.plot(sparsities, means, color="C0", lw=2, label=f"ticket search, mean of {len(searches)} trials")
    random = random_curve(results)
    if random:
        sparsity_of = {round_k(record): 100 * record["sparsity"] for record in first["history"]}
        plotted = sorted(random)
        x = [sparsity_of[k] for k in plotted]
        ax.plot(x, [np.mean(values(random[k])) for k in plotted], "o-", color="C3", lw=1.5, ms=4,
                label=f"random mask, mean of {max(len(random[k]) for k in plotted)} trials")
    ax.axhline(PAPER_FIG3["ticket"], color="0.5", ls=":", label=f"paper: 92% ticket ({PAPER_FIG3['ticket']})")
    ax.axhline(PAPER_FIG3["dense"], color="0.5", ls="--", label=f"paper: dense ({PAPER_FIG3['dense']})")
    ax.set(xlabel="sparsity (%)", ylabel="test accuracy (%) at the end of the round",
           title="Fig. 3: the search's tickets (every round of the k/99 schedule) and random masks")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "search.png", dpi=110)
    return "search.png"


def figures(results: Results, out: Path) -> list[str]:
    names = []
    if results.select(stage="analysis"):
        names.append(analysis_curves(results, out))
    if results.select(stage="search"):
        names += [masks(results.select(stage="search")[0]["result"], out), fig3(results, out)]
    return names
