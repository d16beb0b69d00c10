"""Lottery tickets on MNIST-1D (REFERENCE.md section 4): tickets vs random masks, and with shuffled inputs.

Every run is ``python cli.py fit`` on ``configs/lottery.yaml``, with only the callback's mask kind, the seeds,
the input permutation and the output paths edited, so the experiment is exactly what a user gets from the
config. Three conditions per seed: ``ticket`` (magnitude pruning, rewinding to the initialization), ``random``
(random masks at the same layerwise sparsities) and ``shuffled`` (the ticket on inputs whose positions are
permuted). The dense network is round 0 of each ticket run. The adjacency statistic is the probability that 3
adjacent input weights of a first-layer unit all survive. Finished runs are reused when the command runs again.

    python -m experiments.lottery            # 2 seeds, 14 rounds of 1500 steps: results/lottery/
    python -m experiments.lottery --quick --out /tmp/lottery-quick   # 3 rounds of 20 steps, 1 seed

Writes ``results.md`` (measured next to the paper), ``results.json``, ``accuracy_vs_sparsity.png`` and
``masks.png`` to ``--out``; the runs' logs, checkpoints and per-round masks go to ``--work-dir``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "lottery.yaml"
CONDITIONS = ("ticket", "random", "shuffled")
BAND = (0.85, 0.95)  # the sparsities the paper's claims are about
FIRST_LAYER = "net.input.weight"
# REFERENCE.md section 4 (test accuracy %, at 92% sparsity)
PAPER = {"dense": 65.6, "ticket": 75.0, "random": 61.0}
QUICK = {"steps_per_round": 20, "rounds": 3, "prune_fraction": 0.7, "val_check_interval": 10}


def run_config(base: dict, condition: str, seed: int, run_dir: Path, quick: bool) -> dict:
    """``configs/lottery.yaml`` edited for one run: the condition's masks and inputs, the seed, the paths."""
    config = copy.deepcopy(base)
    config["seed_everything"] = seed
    trainer = config["trainer"]
    trainer["logger"]["init_args"].update(save_dir=str(run_dir), name="logs")
    ticket, checkpoint = trainer["callbacks"]
    ticket["init_args"].update(masks="random" if condition == "random" else "magnitude", seed=seed,
                               output_dir=str(run_dir / "lottery"))
    checkpoint["init_args"]["dirpath"] = str(run_dir / "checkpoints")
    if condition == "shuffled":
        config["data"].update(permutation="shuffle", permutation_seed=seed)
    if quick:
        ticket["init_args"].update(steps_per_round=QUICK["steps_per_round"], rounds=QUICK["rounds"],
                                   prune_fraction=QUICK["prune_fraction"])
        trainer.update(val_check_interval=QUICK["val_check_interval"])
    args = ticket["init_args"]
    trainer["max_steps"] = args["steps_per_round"] * args["rounds"]
    return config


def train(config: dict, run_dir: Path) -> tuple[list[dict], float]:
    """Run the CLI on one thread (the small MLP is fastest so) and return the rounds' history and the seconds."""
    history_path = run_dir / "lottery" / "lottery.json"
    timing_path = run_dir / "seconds.txt"
    if history_path.exists() and timing_path.exists():
        return json.loads(history_path.read_text()), float(timing_path.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "cli.py", "fit", "--config", str(config_path)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    timing_path.write_text(f"{seconds:.1f}")
    return json.loads(history_path.read_text()), seconds


def adjacency(mask: np.ndarray, run: int = 3) -> float:
    """Probability that ``run`` adjacent input weights of a unit all survive: mask (units, inputs), 1 = kept."""
    kept = np.asarray(mask, dtype=bool)
    windows = np.ones((kept.shape[0], kept.shape[1] - run + 1), dtype=bool)
    for offset in range(run):
        windows &= kept[:, offset:offset + windows.shape[1]]
    return float(windows.mean())


def first_layer_mask(run_dir: Path, round_index: int) -> np.ndarray:
    masks = torch.load(run_dir / "lottery" / "masks" / f"round_{round_index:03d}.pt")
    return masks[FIRST_LAYER].numpy()


def summarize(histories: dict[str, list[list[dict]]], run_dirs: dict[str, list[Path]]) -> dict:
    """Mean-over-seeds accuracies (%) per round, the band comparisons and the adjacency statistic."""
    def curve(condition: str, key: str) -> np.ndarray:  # (seeds, rounds)
        return 100 * np.array([[r[key] for r in history] for history in histories[condition]])

    sparsities = [r["sparsity"] for r in histories["ticket"][0]]
    band = [i for i, s in enumerate(sparsities) if BAND[0] <= s <= BAND[1]]
    headline = min(range(len(sparsities)), key=lambda i: abs(sparsities[i] - 0.92))
    summary = {"sparsity": sparsities, "band_rounds": band, "headline_round": headline,
               "seeds": len(histories["ticket"])}
    for key in ("final", "best"):
        curves = {c: curve(c, key) for c in CONDITIONS}
        dense = {"standard": curves["ticket"][:, 0].mean(), "shuffled": curves["shuffled"][:, 0].mean()}
        gains = {"ticket": curves["ticket"][:, band].mean(0) - dense["standard"],
                 "random": curves["random"][:, band].mean(0) - dense["standard"],
                 "shuffled": curves["shuffled"][:, band].mean(0) - dense["shuffled"]}
        summary[key] = {
            "mean": {c: curves[c].mean(0).tolist() for c in CONDITIONS},
            "min": {c: curves[c].min(0).tolist() for c in CONDITIONS},
            "max": {c: curves[c].max(0).tolist() for c in CONDITIONS},
            "dense": dense,
            "band_gain": {c: g.tolist() for c, g in gains.items()},
            "band_mean_gain": {c: float(g.mean()) if len(g) else None for c, g in gains.items()},
        }
    stats = {}
    for condition in CONDITIONS:
        masks = [first_layer_mask(d, headline) for d in run_dirs[condition]]
        stats[condition] = {"p_adjacent3": float(np.mean([adjacency(m) for m in masks])),
                            "density": float(np.mean([m.mean() for m in masks]))}
    summary["adjacency"] = stats
    summary["adjacency_ratio"] = stats["ticket"]["p_adjacent3"] / max(stats["random"]["p_adjacent3"], 1e-12)
    return summary


def claims(summary: dict, key: str) -> list[tuple[str, str, str, bool]]:
    """(claim, paper, measured, holds) for the accuracy ``key`` (final or best)."""
    s = summary[key]
    gain = s["band_mean_gain"]
    if gain["ticket"] is None:
        return []
    h = summary["headline_round"]
    at = f"{100 * summary['sparsity'][h]:.1f}%"
    return [
        ("ticket beats dense by >= 4 points at 85-95% sparsity",
         f"{PAPER['ticket'] - PAPER['dense']:+.1f} at 92% ({PAPER['ticket']} vs {PAPER['dense']})",
         f"{gain['ticket']:+.1f} (band mean); {s['mean']['ticket'][h]:.1f} vs {s['dense']['standard']:.1f} at {at}",
         gain["ticket"] >= 4 and min(s["band_gain"]["ticket"]) >= 4),
        ("random mask does not beat dense at 85-95% sparsity",
         f"{PAPER['random'] - PAPER['dense']:+.1f} at 92% ({PAPER['random']} vs {PAPER['dense']})",
         f"{gain['random']:+.1f} (band mean); {s['mean']['random'][h]:.1f} at {at}",
         max(s["band_gain"]["random"]) <= 0),
        ("shuffled inputs: ticket's advantage vanishes (<= +0.5)", "vanishes",
         f"{gain['shuffled']:+.1f} (band mean); {s['mean']['shuffled'][h]:.1f} vs {s['dense']['shuffled']:.1f} "
         f"at {at}", gain["shuffled"] <= 0.5),
    ]


def write_table(summary: dict, seconds: dict[str, list[float]], out: Path, quick: bool) -> str:
    a, h = summary["adjacency"], summary["headline_round"]
    lines = [f"# Lottery tickets on MNIST-1D: measured vs the paper{' (quick mode)' if quick else ''}", "",
             f"Mean of {summary['seeds']} seed(s); residual MLP 40-500-500-10, Adam 2e-2, batch 100, layerwise "
             "magnitude pruning of weights and biases, rewinding to the initialization; test accuracy (%).", ""]
    for key in ("final", "best"):
        lines += [f"## Claims, {key} accuracy of each round", "", "| claim | paper | measured | holds |",
                  "|---|---|---|---|"]
        lines += [f"| {c} | {p} | {m} | {'yes' if ok else 'NO'} |" for c, p, m, ok in claims(summary, key)]
        lines.append("")
    lines += ["## First-layer adjacency", "",
              f"P(3 adjacent input weights of a unit all survive) at {100 * summary['sparsity'][h]:.1f}% sparsity "
              "(paper: many times higher for the ticket than for a random mask).", "",
              "| mask | p(3 adjacent) | first-layer weight density | p / density^3 |", "|---|---:|---:|---:|"]
    for c in CONDITIONS:
        lines.append(f"| {c} | {a[c]['p_adjacent3']:.5f} | {a[c]['density']:.4f} | "
                     f"{a[c]['p_adjacent3'] / max(a[c]['density'], 1e-12) ** 3:.1f} |")
    ratio = summary["adjacency_ratio"]
    lines += ["", f"Ticket / random: **{ratio:.1f}x** (claim: >= 5x: {'yes' if ratio >= 5 else 'NO'}). "
              "The shuffled ticket is measured in the network's (permuted) input order.", "",
              "## Every round (mean over seeds)", "",
              "| round | sparsity % | ticket final | random final | shuffled final | ticket best | random best "
              "| shuffled best |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    f, b = summary["final"]["mean"], summary["best"]["mean"]
    for i, s in enumerate(summary["sparsity"]):
        lines.append(f"| {i} | {100 * s:.1f} | {f['ticket'][i]:.1f} | {f['random'][i]:.1f} | {f['shuffled'][i]:.1f} "
                     f"| {b['ticket'][i]:.1f} | {b['random'][i]:.1f} | {b['shuffled'][i]:.1f} |")
    total = sum(sum(v) for v in seconds.values())
    per_run = ", ".join(f"{c} {np.mean(v):.0f} s" for c, v in seconds.items())
    lines += ["", f"Runtime: {total / 60:.1f} min for {sum(len(v) for v in seconds.values())} runs on one CPU "
              f"thread of a shared 2-core machine (mean per run: {per_run}).", ""]
    text = "\n".join(lines)
    write_atomically(out / "results.md", text)
    return text


def plot_accuracy(summary: dict, out: Path) -> None:
    from matplotlib.figure import Figure

    x = 100 * np.array(summary["sparsity"])
    fig = Figure(figsize=(10, 3.8))
    for ax, key in zip(fig.subplots(1, 2, sharey=True), ("final", "best")):
        s = summary[key]
        for condition, color in zip(CONDITIONS, ("C0", "C1", "C2")):
            mean, low, high = (np.array(s[k][condition]) for k in ("mean", "min", "max"))
            ax.plot(x, mean, "o-", color=color, ms=3, label=condition)
            ax.fill_between(x, low, high, color=color, alpha=0.2)
        ax.axhline(s["dense"]["standard"], color="C0", ls=":", lw=1, label="dense")
        ax.axhline(s["dense"]["shuffled"], color="C2", ls=":", lw=1, label="dense, shuffled")
        ax.axvspan(100 * BAND[0], 100 * BAND[1], color="0.9", zorder=0)
        ax.set_xlabel("sparsity (% of weights pruned)")
        ax.set_title(f"{key} test accuracy of each round")
    fig.axes[0].set_ylabel("test accuracy (%)")
    fig.axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "accuracy_vs_sparsity.png")


def plot_masks(run_dirs: dict[str, list[Path]], summary: dict, out: Path, units: int = 60) -> None:
    """First-layer masks of seed 0 at the headline round: the units with most survivors, inputs left to right."""
    from matplotlib.figure import Figure

    h = summary["headline_round"]
    fig = Figure(figsize=(10, 4.2))
    for ax, condition in zip(fig.subplots(1, 3), CONDITIONS):
        mask = first_layer_mask(run_dirs[condition][0], h)
        rows = np.argsort(-mask.sum(1), kind="stable")[:units]
        ax.imshow(mask[rows], cmap="Greys", aspect="auto", interpolation="nearest")
        ax.set_title(f"{condition}: p(3 adjacent) = {adjacency(mask):.4f}", fontsize=9)
        ax.set_xlabel("input position")
    fig.axes[0].set_ylabel(f"{units} first-layer units with most survivors")
    fig.suptitle(f"first-layer masks at {100 * summary['sparsity'][h]:.1f}% sparsity (black = kept)")
    fig.tight_layout()
    save_figure(fig, out / "masks.png")


def save_figure(fig, path: Path) -> None:
    temporary = path.with_suffix(".tmp.png")
    fig.savefig(temporary, dpi=120)
    os.replace(temporary, path)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1 (quick: 0)")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 20 steps: checks the whole pipeline")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "lottery")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: lightning_logs/lottery_experiment")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1])
    work_dir = args.work_dir or ROOT / "lightning_logs" / ("lottery_quick" if args.quick else "lottery_experiment")
    base = yaml.safe_load(CONFIG.read_text())

    histories, run_dirs, seconds = {c: [] for c in CONDITIONS}, {c: [] for c in CONDITIONS}, {c: [] for c in CONDITIONS}
    for seed in seeds:
        for condition in CONDITIONS:
            run_dir = work_dir / f"{condition}_seed{seed}"
            history, took = train(run_config(base, condition, seed, run_dir, args.quick), run_dir)
            print(f"{condition} seed {seed}: {took:.0f} s, final accuracy by round "
                  f"{[round(100 * r['final'], 1) for r in history]}", flush=True)
            histories[condition].append(history)
            run_dirs[condition].append(run_dir)
            seconds[condition].append(took)

    summary = summarize(histories, run_dirs)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out / "results.json", json.dumps({"summary": summary, "seconds": seconds,
                                                            "histories": histories}, indent=1))
    print(write_table(summary, seconds, args.out, args.quick))
    plot_accuracy(summary, args.out)
    plot_masks(run_dirs, summary, args.out)
    return summary


if __name__ == "__main__":
    main()
