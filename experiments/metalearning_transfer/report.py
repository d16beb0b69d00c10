"""The transfer study's table and figure: per model and activation, test loss and the early training loss per
seed (the two judged), test accuracy and final training loss, Table 1's relu numbers for orientation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnist1d_hf.atomic import save_figure

from ..runner import Results, fmt
from .claims import early_train_loss, final
from .protocol import ACTIVATIONS, LEARNED, MODELS

# Table 1 (paper) for the relu networks, for orientation only: the paper printed no transfer numbers on MNIST-1D.
PAPER_RELU = {"mlp": 68, "cnn": 94}
COLORS = {"relu": "tab:gray", "elu": "tab:green", "swish": "tab:olive", "tanh": "tab:cyan", "softplus": "tab:blue",
          "sigmoid": "tab:purple", LEARNED: "tab:red"}


def per_seed(values: Sequence[float], spec: str) -> str:
    return " / ".join(format(v, spec) for v in values) or "—"


def table(results: Results, seeds: Sequence[int], early: int) -> str:
    shown = " / ".join(str(s) for s in seeds)
    lines = [f"| model | activation | test loss, seeds {shown} | train loss at step {early}, seeds {shown} | "
             "test acc (%) | final train loss | Table 1 (paper, relu) |", "|---|---|---|---|---|---|---|"]
    for model in MODELS:
        for activation in ACTIVATIONS:
            if not results.select(model=model, activation=activation):
                lines.append(f"| {model} | {activation} | not run yet | — | — | — | — |")
                continue
            loss = results.values(lambda r: final(r, "val/loss"), model=model, activation=activation)
            early_loss = results.values(lambda r: early_train_loss(r, early), model=model, activation=activation)
            acc = [100 * v for v in results.values(lambda r: final(r, "val/acc"), model=model,
                                                     activation=activation)]
            train = results.values(lambda r: final(r, "train_eval/loss"), model=model, activation=activation)
            paper = PAPER_RELU[model] if activation == "relu" else "—"
            lines.append(f"| {model} | {activation} | {per_seed(loss, '.3f')} | {per_seed(early_loss, '.3f')} | "
                         f"{fmt(acc)} | {fmt(train, 1, 'e')} | {paper} |")
    return "\n".join(lines)


def figure(results: Results, out: Path) -> str:
    """Per model: test loss and training loss over steps, mean over seeds, for every activation."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7))
    axes = fig.subplots(2, 2)
    for row, model in zip(axes, MODELS):
        for activation in ACTIVATIONS:
            records = results.select(model=model, activation=activation)
            if not records:
                continue
            for ax, metric in zip(row, ("val/loss", "train_eval/loss")):
                rows = [[r for r in rec["result"]["history"] if metric in r] for rec in records]
                length = min(len(r) for r in rows)
                steps = [r["step"] for r in rows[0][:length]]
                mean = [sum(r[i][metric] for r in rows) / len(rows) for i in range(length)]
                ax.plot(steps, mean, color=COLORS[activation], lw=2 if activation == LEARNED else 1,
                        label=f"{activation} (n={len(records)})")
        row[0].set(xlabel="training step", ylabel="test loss", title=f"{model}: test loss")
        row[1].set(xlabel="training step", ylabel="training-set loss", yscale="log", title=f"{model}: training loss")
        for ax in row:
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "transfer.png", dpi=120)
    return "transfer.png"
