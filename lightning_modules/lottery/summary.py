"""A search's rounds as data, a Markdown table and a figure, from ``LotteryTicket.history`` (nothing is written here).

The history is a list of round records (``round``, ``target_sparsity``, ``sparsity``, ``layer_sparsity``,
``final``, ``best``, ``final_step``, ``scores``), kept in the callback's state and checkpoints; a study turns it
into its report with these functions and writes the files itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure


def summarize(history: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rounds column by column: ``round``, ``target_sparsity``, ``sparsity``, ``final``, ``best``,
    ``final_step`` (lists, one entry per round) and ``layer_sparsity`` ({layer: list})."""
    columns = ("round", "target_sparsity", "sparsity", "final", "best", "final_step")
    summary: dict[str, Any] = {key: [record[key] for record in history] for key in columns}
    layers = list(history[0]["layer_sparsity"]) if history else []
    summary["layer_sparsity"] = {layer: [record["layer_sparsity"][layer] for record in history] for layer in layers}
    return summary


def markdown_table(history: Sequence[dict[str, Any]], monitor: str = "val/acc") -> str:
    """One row per round: target and measured sparsity (%), final and best ``monitor``."""
    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    lines = [f"| round | target sparsity % | sparsity % | final {monitor} | best {monitor} |",
             "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['round']} | {100 * r['target_sparsity']:.2f} | {100 * r['sparsity']:.2f} | "
              f"{number(r['final'])} | {number(r['best'])} |" for r in history]
    return "\n".join(lines) + "\n"


def accuracy_figure(history: Sequence[dict[str, Any]], monitor: str = "val/acc") -> Figure:
    """Final and best ``monitor`` against sparsity, one point per scored round (no pyplot: any backend)."""
    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    scored = [r for r in history if r["final"] is not None]
    for key, style in (("final", "o-"), ("best", "s--")):
        ax.plot([100 * r["sparsity"] for r in scored], [r[key] for r in scored], style, label=f"{key} {monitor}")
    ax.set_xlabel("sparsity (% of pruned weights)")
    ax.set_ylabel(monitor)
    ax.set_title("lottery ticket rounds")
    ax.legend()
    fig.tight_layout()
    return fig
