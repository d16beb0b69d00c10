"""The end-of-run report of ``LotteryTicket``: the rounds as JSON, a Markdown table and an accuracy-vs-sparsity plot."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from mnist1d_hf.atomic import save_figure, write_text


def markdown_table(history: Sequence[dict[str, Any]], monitor: str) -> str:
    """One row per round: target and measured sparsity (%), final and best ``monitor``."""
    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    lines = [f"| round | target sparsity % | sparsity % | final {monitor} | best {monitor} |",
             "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['round']} | {100 * r['target_sparsity']:.2f} | {100 * r['sparsity']:.2f} | "
              f"{number(r['final'])} | {number(r['best'])} |" for r in history]
    return "\n".join(lines) + "\n"


def write_summary(history: Sequence[dict[str, Any]], directory: str, monitor: str) -> None:
    """Write ``lottery.json``, ``lottery.md`` and ``lottery.png`` (final and best ``monitor`` vs sparsity)."""
    write_text(os.path.join(directory, "lottery.json"), json.dumps(list(history), indent=1))
    write_text(os.path.join(directory, "lottery.md"), markdown_table(history, monitor))

    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

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
    save_figure(fig, os.path.join(directory, "lottery.png"), dpi=120)
