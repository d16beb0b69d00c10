"""The metalearning study's figures: Fig. 5 (the rate over outer steps), Fig. 6 (the activation's trajectory, the
learned functions, the inner-task accuracies), every seed drawn, the paper's printed points beside them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import save_figure

from . import paper
from .claims import converged
from .protocol import EVALUATED, FITTED, INITS, LEARNED, REFERENCE
from .readers import History

SEED_COLORS = ("tab:red", "tab:purple", "tab:brown", "tab:pink")


def lr_figure(histories: Mapping[float, Mapping[int, History]], out: Path) -> str:
    """Fig. 5 style: the rate over outer steps from both inits, every seed, the paper's printed points."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for init, color in zip(INITS, ("tab:blue", "tab:orange")):
        for seed, history in sorted(histories.get(init, {}).items()):
            rates = [r["meta/lr"] for r in history] + [converged(history)]
            ax.plot(range(len(rates)), rates, color=color, lw=2 if seed == 0 else 1, alpha=1 if seed == 0 else 0.5,
                    label=f"from {init}, theta0 seed {seed}")
        ax.plot([k + 1 for k in paper.LR[init]], list(paper.LR[init].values()), "k.", ms=8,
                label="paper (printed)" if init == INITS[0] else None)
    ax.set(xlabel="outer updates", ylabel="inner learning rate", title="Metalearning the learning rate (Fig. 5)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "learning_rate.png", dpi=120)
    return "learning_rate.png"


def trajectory_figure(histories: Mapping[int, History], outer_steps: int, out: Path) -> str:
    """Fig. 6 style: meta-loss, test accuracy and meta-gradient norm over outer steps, per seed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 3)
    for (seed, history), color in zip(sorted(histories.items()), SEED_COLORS):
        steps = [r["step"] for r in history]
        axes[0].plot(steps, [r["meta/loss"] for r in history], color=color, lw=1, label=f"seed {seed}")
        axes[1].plot(steps, [r["meta/test_acc"] for r in history], color=color, lw=1, label=f"seed {seed}")
        axes[2].semilogy(steps, [r["meta/grad_norm_raw"] for r in history], color=color, lw=1, alpha=0.4)
        axes[2].semilogy(steps, [r["meta/grad_norm"] for r in history], color=color, lw=1, label=f"seed {seed}")
    for ax, index, label in ((axes[0], 0, "meta-loss"), (axes[1], 1, "test accuracy (%)")):
        ax.plot(list(paper.ACTIVATION), [v[index] for v in paper.ACTIVATION.values()], "k.", ms=8, label="paper")
        ax.set(xlabel="outer step", ylabel=label, xlim=(0, outer_steps))
    axes[2].set(xlabel="outer step", ylabel="meta-gradient norm (faint: before clipping)", xlim=(0, outer_steps))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Metalearning an activation function (Fig. 6)")
    fig.tight_layout()
    save_figure(fig, out / "activation_trajectory.png", dpi=120)
    return "activation_trajectory.png"


def functions_figure(evaluations: Mapping[int, Mapping[str, Mapping[str, Any]]], out: Path) -> str:
    """The learned function of every seed beside elu and relu, its piecewise fit and the reference's."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    first = evaluations[min(evaluations)]
    for name, color, style in (("relu", "tab:gray", "--"), ("elu", "tab:green", "-"), (REFERENCE, "k", ":")):
        if name in first:
            ax.plot(first[name]["curve"]["x"], first[name]["curve"]["y"], style, color=color, lw=1.2, label=name)
    for (seed, runs), color in zip(sorted(evaluations.items()), SEED_COLORS):
        for name, style, width in ((LEARNED, "-", 2), (FITTED, "--", 1)):
            if name in runs:
                curve = runs[name]["curve"]
                ax.plot(curve["x"], curve["y"], style, color=color, lw=width, label=f"{name}, seed {seed}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="x", ylabel="f(x)", xlim=(-5, 5), ylim=(-1.5, 4), title="Learned activation (Fig. 6)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "activation_functions.png", dpi=120)
    return "activation_functions.png"


def baselines_figure(evaluations: Mapping[int, Mapping[str, Mapping[str, Any]]], out: Path) -> str:
    """Test accuracy of one inner run per activation and seed (bars: the mean), beside the paper's."""
    from matplotlib.figure import Figure

    names = [n for n in EVALUATED if any(n in runs for runs in evaluations.values())]
    marks = {**paper.BASELINE_ACC, REFERENCE: paper.REFERENCE_PIECEWISE_ACC, LEARNED: paper.ACTIVATION[300][1]}
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    for i, name in enumerate(names):
        accs = [runs[name]["test_acc"] for _, runs in sorted(evaluations.items()) if name in runs]
        ax.bar(i, sum(accs) / len(accs), color="tab:blue", alpha=0.6, label="measured (mean)" if i == 0 else None)
        ax.plot([i] * len(accs), accs, "o", color="tab:blue", ms=3, label="per seed" if i == 0 else None)
    shown = [(i, marks[n]) for i, n in enumerate(names) if n in marks]
    ax.plot([i for i, _ in shown], [v for _, v in shown], "k_", ms=20, mew=2, label="paper")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set(ylabel="test accuracy (%) after one inner run", title="Activations on the inner task (Fig. 6)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "baselines.png", dpi=120)
    return "baselines.png"
