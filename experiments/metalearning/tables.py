"""The metalearning study's tables: measured per seed (seed 0 is the paper's) next to the paper's numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from . import paper
from .claims import converged, shape_features
from .protocol import EVALUATED, FITTED, INITS, LEARNED, REFERENCE
from .readers import History

NOT_RUN = "not run yet"


def rate_after(history: History, step: int) -> float:
    """The rate after the update of outer step ``step`` (0-based), as the reference prints it."""
    return history[step]["meta/lr_next"] if step < len(history) else math.nan


def per_seed(values: Mapping[int, float], seeds: Sequence[int], spec: str) -> str:
    """``v0 / v1 / v2`` over ``seeds``, a dash for a seed not run yet."""
    return " / ".join(format(values[s], spec) if s in values else "—" for s in seeds)


def lr_table(histories: Mapping[float, Mapping[int, History]], seeds: Sequence[int]) -> list[str]:
    shown = " / ".join(str(s) for s in seeds)
    lines = ["## Learning rate (Fig. 5)", "",
             ("The rate after the update of outer step k (0-based; k + 1 updates), as the reference prints it; "
              "theta0 seed 0 is the paper's."), "",
             f"| init | outer step | seeds {shown} | paper |", "|---|---|---|---|"]
    for init, printed in paper.LR.items():
        runs = histories.get(init, {})
        for step, value in printed.items():
            rates = {s: rate_after(h, step) for s, h in runs.items()}
            lines.append(f"| {init} | {step} | {per_seed(rates, seeds, '.4f')} | {value} |")
    lines += ["", "| init | seed | converged rate (after 50 updates) | mean inner loss | final inner loss |",
              "|---|---|---|---|---|"]
    for init in INITS:
        for seed, history in sorted(histories.get(init, {}).items()):
            last = history[-1]
            lines.append(f"| {init} | {seed} | {converged(history):.4f} | {last['meta/mean_inner_loss']:.4f} | "
                         f"{last['meta/final_inner_loss']:.4f} |")
    lines.append(f"| paper | 0 | 0.6243 / 0.6203 | {paper.LR_MEAN_LOSS} | ~{paper.LR_FINAL_LOSS} |")
    return lines


def trajectory_table(histories: Mapping[int, History], seeds: Sequence[int], outer_steps: int) -> list[str]:
    shown = " / ".join(str(s) for s in seeds)
    lines = ["## Activation function (Fig. 6)", "",
             f"The meta-loss and test accuracy at the paper's printed outer steps, per metatraining seed ({shown}).",
             "", f"| outer step | meta-loss, seeds {shown} | paper | test acc (%), seeds {shown} | paper |",
             "|---|---|---|---|---|"]
    for step, (loss, acc) in paper.ACTIVATION.items():
        rows = {s: h[step] for s, h in histories.items() if step < len(h)}
        lines.append(f"| {step} | {per_seed({s: r['meta/loss'] for s, r in rows.items()}, seeds, '.3f')} | {loss} | "
                     f"{per_seed({s: r['meta/test_acc'] for s, r in rows.items()}, seeds, '.1f')} | {acc} |")
    last = {s: [r["meta/test_acc"] for r in h[-50:]] for s, h in histories.items() if len(h) >= 50}
    ranges = ", ".join(f"seed {s} {min(v):.1f}-{max(v):.1f}" for s, v in sorted(last.items()))
    lines += ["", f"Test accuracy over the last 50 of {outer_steps} outer steps: {ranges or '—'} (paper "
                  f"{paper.LAST_50_ACC[0]}-{paper.LAST_50_ACC[1]})."]
    return lines


def evaluation_table(evaluations: Mapping[int, Mapping[str, Mapping[str, Any]]], seeds: Sequence[int]) -> list[str]:
    shown = " / ".join(str(s) for s in seeds)
    lines = ["", (f"One inner run (301 RMSprop steps) per activation and seed ({shown}: the inner network's seed and "
                  "that seed's learned function): mean inner training loss and test accuracy (first 500 test rows) "
                  "after the run."), "",
             f"| activation | mean inner loss, seeds {shown} | paper | test acc (%), seeds {shown} | paper |",
             "|---|---|---|---|---|"]
    paper_acc = {**paper.BASELINE_ACC, REFERENCE: paper.REFERENCE_PIECEWISE_ACC, LEARNED: paper.ACTIVATION[300][1]}
    for name in EVALUATED:
        runs = {s: e[name] for s, e in evaluations.items() if name in e}
        loss = per_seed({s: r["mean_inner_loss"] for s, r in runs.items()}, seeds, ".3f") if runs else NOT_RUN
        acc = per_seed({s: r["test_acc"] for s, r in runs.items()}, seeds, ".1f") if runs else "—"
        lines.append(f"| {name} | {loss} | {paper.BASELINE_LOSS.get(name, '—')} | {acc} | "
                     f"{paper_acc.get(name, '—')} |")
    lines += ["", ("The paper's accuracies for the baselines are read from its plot (approximate), for seed 0; the "
                   "learned function's is the trajectory's last printed value (outer step 300). Ours is one inner "
                   f"run with the weights after all updates, with the hidden noise of metatraining; the {FITTED} "
                   "function is least squares on [-5, 5] at the reference's breakpoints.")]
    return lines


def shape_table(evaluations: Mapping[int, Mapping[str, Mapping[str, Any]]], seeds: Sequence[int]) -> list[str]:
    learned = {s: e[LEARNED]["curve"] for s, e in evaluations.items() if LEARNED in e}
    features = {s: shape_features(c["x"], c["y"]) for s, c in learned.items()}
    shown = " / ".join(str(s) for s in seeds)
    lines = ["", "The learned function's shape (without noise), per seed:", "",
             f"| feature | measured as | seeds {shown} | paper |", "|---|---|---|---|"]
    for name, (value, _, where) in paper.SHAPE.items():
        lines.append(f"| {name} | {where} | {per_seed({s: f[name] for s, f in features.items()}, seeds, '+.2f')} | "
                     f"{value:+g} |")
    return lines
