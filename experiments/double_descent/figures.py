"""The study's figures: test and train error, and test loss, against parameters, one panel per curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnist1d_hf.atomic import save_figure

from ..runner import Results
from . import paper
from .curves import Point, measured_points
from .protocol import CLASSES, CURVES, N_TRAIN

ERRORS = (("test", "test", "-", "tab:blue"), ("train", "train", "--", "tab:orange"))
LOSS = (("test loss", "loss", "-", "tab:blue"),)


def draw(results: Results, out: Path) -> list[str]:
    """Error (test solid, train dashed) and test loss against parameters; the seeds' range shaded."""
    return [panels(results, out / "errors.png", ERRORS, "error (%)", paper.TEST),
            panels(results, out / "test_loss.png", LOSS, "test loss", paper.TEST_LOSS)]


def panels(results: Results, path: Path, series: Sequence[tuple[str, str, str, str]], ylabel: str,
           paper_values: dict[str, dict[int, float]]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 8.4))
    axes = fig.subplots(2, 3).ravel()
    for ax, curve in zip(axes, CURVES):
        points = measured_points(results, curve)
        for label, metric, style, color in series:
            if points:
                _series(ax, points, metric, style, color, f"{label} (measured)")
        if not points:
            ax.text(0.5, 0.5, "not run yet", transform=ax.transAxes, ha="center", color="gray")
        printed = paper_values.get(curve.name, {})
        if printed:
            ax.plot([curve.params(w) for w in printed], list(printed.values()), "x", color="black", label="paper")
        for x, name in ((N_TRAIN, "N"), (N_TRAIN * CLASSES, "N·K")):
            ax.axvline(x, color="gray", ls=":", lw=1)
            ax.text(x, 1.0, f" {name}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="gray")
        ax.set(xscale="log", xlim=(80, 6e5), title=curve.title, xlabel="parameters", ylabel=ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    for ax in axes[len(CURVES):]:
        ax.set_visible(False)
    fig.suptitle("MNIST-1D double descent: mean over seeds, shaded: the seeds' range")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path.name


def _series(ax, points: Sequence[Point], metric: str, style: str, color: str, label: str) -> None:
    params = [p.params for p in points]
    values = [getattr(p, metric) for p in points]
    ax.plot(params, [sum(v) / len(v) for v in values], style, marker="o", ms=3, color=color, label=label)
    ax.fill_between(params, [min(v) for v in values], [max(v) for v in values], alpha=0.25, color=color)
