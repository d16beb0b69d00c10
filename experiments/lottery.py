"""Lottery tickets on MNIST-1D, as in the paper: tickets vs random masks, and with shuffled inputs.

Every search is ``python cli.py fit`` on ``configs/lottery.yaml``, with only the callback's mask kind, the seeds,
the input permutation and the output paths edited, so the experiment is exactly what a user gets from the
config. Per seed: ``ticket`` (magnitude pruning, rewinding to the initialization), ``random`` (random masks at
the same layerwise sparsities) and ``shuffled`` (the same search on inputs whose positions are permuted). The
dense network is round 0 of each search. ``transfer`` then retrains the tickets found on ordered inputs (their
masks and initialization) on the shuffled inputs: an MLP is symmetric under a fixed permutation of its inputs,
so a search on shuffled inputs finds tickets as good as on ordered ones; what shuffling can take away is the
match between a ticket and the input's spatial order. The adjacency statistic is the probability that 3
adjacent input weights of a first-layer unit all survive. Finished runs are reused when the command runs again.

    python -m experiments.lottery            # 2 seeds, 14 rounds of 1500 steps: experiments/results/lottery/
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

import lightning as L
import numpy as np
import torch
import yaml

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.data import position_permutation
from lightning_modules.lottery import LotteryTicket
from lightning_modules.nets import MLP
from mnist1d_hf.atomic import save_figure, write_text

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "lottery.yaml"
CONDITIONS = ("ticket", "random", "transfer", "shuffled")
SEARCHES = ("ticket", "random", "shuffled")  # the IMP runs; "transfer" retrains the ticket runs' rounds
LABELS = {"ticket": "ticket", "random": "random mask", "transfer": "ticket on shuffled inputs",
          "shuffled": "search on shuffled inputs"}
BAND = (0.85, 0.95)  # the sparsities the paper's claims are about
FIRST_LAYER = "net.input.weight"
# the paper's numbers (test accuracy %, at 92% sparsity)
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


def retrain_on_shuffled(config: dict, ticket_dir: Path, round_index: int, seed: int, run_dir: Path) -> dict:
    """Retrain round ``round_index`` of a ticket found on ordered inputs (its masks, its initialization) on
    shuffled inputs, with the config's optimizer, batches and round length; returns the round's record."""
    record_path = run_dir / f"round_{round_index:03d}.json"
    if record_path.exists():
        return json.loads(record_path.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = torch.load(ticket_dir / "checkpoints" / "last.ckpt", weights_only=True)
    init = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("LotteryTicket"))["rewind_state"]
    masks = torch.load(ticket_dir / "lottery" / "masks" / f"round_{round_index:03d}.pt")

    L.seed_everything(seed, verbose=False)
    model_args = config["model"]["init_args"]
    lr = model_args["optimizer"]["init_args"]["lr"]
    model = Classifier(MLP(**model_args["net"]["init_args"]),
                       optimizer=lambda params: torch.optim.Adam(params, lr=lr))
    for name, mask in masks.items():  # LotteryTicket keeps and enforces masks the module already carries
        module_name, _, attr = name.rpartition(".")
        model.get_submodule(module_name).register_buffer(attr + "_mask", mask.float())
    model.load_state_dict(init, strict=False)
    ticket_args = config["trainer"]["callbacks"][0]["init_args"]
    steps = ticket_args["steps_per_round"]
    keeper = LotteryTicket(steps_per_round=steps, schedule="explicit", sparsities=[0.0],
                           prune_biases=ticket_args["prune_biases"], save_masks=False,
                           output_dir=str(run_dir / f"round_{round_index:03d}"))
    data_args = {k: v for k, v in config["data"].items() if k not in ("permutation", "permutation_seed")}
    data = MNIST1DDataModule(**data_args, permutation="shuffle", permutation_seed=seed)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1, callbacks=[keeper],
                        val_check_interval=config["trainer"]["val_check_interval"], check_val_every_n_epoch=None,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)
    start = time.perf_counter()
    trainer.fit(model, data)
    record = dict(keeper.history[0], seconds=time.perf_counter() - start)
    write_text(record_path, json.dumps(record))
    return record


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


def curve(records: list[list[dict | None]], key: str) -> np.ndarray:
    """Accuracy ``key`` in percent, (seeds, rounds), NaN where a round was not run."""
    return np.array([[np.nan if r is None else 100 * r[key] for r in seed] for seed in records])


def nanmean(curves: np.ndarray) -> np.ndarray:
    """Mean over seeds, NaN for rounds no seed ran."""
    runs = (~np.isnan(curves)).sum(0)
    return np.where(runs > 0, np.nansum(curves, 0) / np.maximum(runs, 1), np.nan)


def listed(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def summarize(histories: dict[str, list[list[dict | None]]], run_dirs: dict[str, list[Path]],
              seeds: list[int]) -> dict:
    """Mean-over-seeds accuracies (%) per round, the gains over dense in the band and the adjacency statistic."""
    sparsities = [r["sparsity"] for r in histories["ticket"][0]]
    band = [i for i, s in enumerate(sparsities) if BAND[0] <= s <= BAND[1]]
    headline = min(range(len(sparsities)), key=lambda i: abs(sparsities[i] - 0.92))
    summary = {"sparsity": sparsities, "band_rounds": band, "headline_round": headline, "seeds": seeds}
    for key in ("final", "best"):
        curves = {c: curve(histories[c], key) for c in CONDITIONS}
        dense = {c: float(curves[c][:, 0].mean()) for c in CONDITIONS}
        # tickets and random masks against the dense net on ordered inputs; each shuffled-input
        # condition against the dense net on the same shuffled inputs
        baseline = {"ticket": dense["ticket"], "random": dense["ticket"], "shuffled": dense["shuffled"],
                    "transfer": dense["transfer"]}
        gains = {c: curves[c][:, band].mean(0) - baseline[c] for c in CONDITIONS}
        summary[key] = {
            "mean": {c: listed(nanmean(curves[c])) for c in CONDITIONS},
            "min": {c: listed(curves[c].min(0)) for c in CONDITIONS},
            "max": {c: listed(curves[c].max(0)) for c in CONDITIONS},
            "dense": dense,
            "band_gain": {c: listed(g) for c, g in gains.items()},
            "band_mean_gain": {c: float(g.mean()) if len(g) else None for c, g in gains.items()},
        }
    stats = {}
    for condition in ("ticket", "random", "shuffled"):
        masks = [first_layer_mask(d, headline) for d in run_dirs[condition]]
        stats[condition] = {"p_adjacent3": float(np.mean([adjacency(m) for m in masks])),
                            "density": float(np.mean([m.mean() for m in masks]))}
    unshuffled = []  # the shuffled search's masks with their columns put back in the original input order
    for seed, run_dir in zip(seeds, run_dirs["shuffled"]):
        mask = first_layer_mask(run_dir, headline)
        original = np.empty_like(mask)
        original[:, position_permutation("shuffle", mask.shape[1], seed)] = mask
        unshuffled.append(original)
    stats["shuffled, original order"] = {"p_adjacent3": float(np.mean([adjacency(m) for m in unshuffled])),
                                         "density": stats["shuffled"]["density"]}
    summary["adjacency"] = stats
    summary["adjacency_ratio"] = stats["ticket"]["p_adjacent3"] / max(stats["random"]["p_adjacent3"], 1e-12)
    by_round = {}
    for i in band:
        row = {}
        for condition in ("ticket", "random"):
            masks = [first_layer_mask(d, i) for d in run_dirs[condition]]
            row[condition] = {"p_adjacent3": float(np.mean([adjacency(m) for m in masks])),
                              "density": float(np.mean([m.mean() for m in masks]))}
        by_round[i] = row
    summary["adjacency_by_round"] = by_round
    return summary


def claims(summary: dict, key: str) -> list[dict]:
    """The three accuracy claims for ``key`` (final or best): the paper, the measured gains over dense (points)
    at each sparsity of the 85-95% band and their mean, and whether each holds on the mean and at every sparsity.
    """
    s = summary[key]
    if not summary["band_rounds"]:
        return []
    h = summary["headline_round"]
    at = f"{100 * summary['sparsity'][h]:.1f}%"
    gains, mean = s["band_gain"], s["band_mean_gain"]
    rows = [
        ("ticket beats dense by >= 4 points", f"{PAPER['ticket'] - PAPER['dense']:+.1f} at 92% "
         f"({PAPER['ticket']} vs {PAPER['dense']})", "ticket", "ticket", lambda g: g >= 4),
        ("random mask does not beat dense", f"{PAPER['random'] - PAPER['dense']:+.1f} at 92% "
         f"({PAPER['random']} vs {PAPER['dense']})", "random", "ticket", lambda g: g <= 0),
        ("shuffled inputs: the ticket's gain vanishes (<= +0.5)", "vanishes", "transfer", "transfer",
         lambda g: g <= 0.5),
    ]
    return [{"claim": claim, "paper": paper,
             "at_headline": f"{s['mean'][condition][h]:.1f} vs {s['dense'][dense]:.1f} at {at}",
             "band_gain": gains[condition], "band_mean_gain": mean[condition],
             "holds_on_mean": bool(test(mean[condition])), "holds_everywhere": all(test(g) for g in gains[condition])}
            for claim, paper, condition, dense, test in rows]


def write_table(summary: dict, seconds: dict[str, list[float]], out: Path, quick: bool) -> str:
    a, h = summary["adjacency"], summary["headline_round"]
    band = ", ".join(f"{100 * summary['sparsity'][i]:.1f}" for i in summary["band_rounds"])
    lines = [f"# Lottery tickets on MNIST-1D: measured vs the paper{' (quick mode)' if quick else ''}", "",
             f"Mean of {len(summary['seeds'])} seed(s); residual MLP 40-500-500-10, Adam 2e-2, batch 100, layerwise "
             "magnitude pruning of weights and biases, rewinding to the initialization; test accuracy (%). "
             "`ticket`: the search on ordered inputs; `random`: random masks at the same sparsities; `transfer`: "
             "the tickets of `ticket` (masks and initialization) retrained on shuffled inputs, against the dense "
             "net on the same shuffled inputs; `shuffled`: a new search on shuffled inputs.", ""]
    for key in ("final", "best"):
        lines += [f"## Claims at 85-95% sparsity, {key} accuracy of each round", "",
                  f"Gain over the dense network in points at each sparsity of the band ({band}%), its mean, and "
                  "whether the claim holds on the mean and at every one of them.", "",
                  "| claim | paper | measured | gain at each sparsity | mean gain | holds (mean) | holds (each) |",
                  "|---|---|---|---|---:|---|---|"]
        for c in claims(summary, key):
            each = ", ".join(f"{g:+.1f}" for g in c["band_gain"])
            lines.append(f"| {c['claim']} | {c['paper']} | {c['at_headline']} | {each} | "
                         f"{c['band_mean_gain']:+.1f} | {'yes' if c['holds_on_mean'] else 'NO'} | "
                         f"{'yes' if c['holds_everywhere'] else 'NO'} |")
        shuffled = summary[key]["band_gain"]["shuffled"]
        if shuffled:
            lines += ["", "For reference, a new search on shuffled inputs gains "
                      f"{', '.join(f'{g:+.1f}' for g in shuffled)} over its dense net (mean "
                      f"{summary[key]['band_mean_gain']['shuffled']:+.1f}), as the MLP's symmetry under input "
                      "permutations predicts."]
        lines.append("")
    lines += ["## First-layer adjacency", "",
              f"P(3 adjacent input weights of a unit all survive) at {100 * summary['sparsity'][h]:.1f}% sparsity "
              "(paper: many times higher for the ticket than for a random mask). Independent survival would give "
              "density^3.", "",
              "| mask | p(3 adjacent) | first-layer weight density | p / density^3 |", "|---|---:|---:|---:|"]
    for name, stat in a.items():
        lines.append(f"| {name} | {stat['p_adjacent3']:.5f} | {stat['density']:.4f} | "
                     f"{stat['p_adjacent3'] / max(stat['density'], 1e-12) ** 3:.1f} |")
    ratio = summary["adjacency_ratio"]
    lines += ["", f"Ticket / random: **{ratio:.1f}x** (claim: >= 5x: {'yes' if ratio >= 5 else 'NO'}).", "",
              "Across the band (mean over seeds): the raw ratio, and the ratio of p / density^3, which corrects for "
              "the ticket keeping fewer first-layer weights than the random mask (biases are ranked with the "
              "weights of their layer).", "",
              "| sparsity % | ticket p | random p | ticket / random | ticket p/d^3 | random p/d^3 | ratio of p/d^3 |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for i, row in summary["adjacency_by_round"].items():
        t, r = row["ticket"], row["random"]
        t_rel, r_rel = (x["p_adjacent3"] / max(x["density"], 1e-12) ** 3 for x in (t, r))
        lines.append(f"| {100 * summary['sparsity'][int(i)]:.1f} | {t['p_adjacent3']:.5f} | {r['p_adjacent3']:.5f} | "
                     f"{t['p_adjacent3'] / max(r['p_adjacent3'], 1e-12):.1f}x | {t_rel:.1f} | {r_rel:.1f} | "
                     f"{t_rel / max(r_rel, 1e-12):.1f}x |")
    lines += ["",
              "## Every round (mean over seeds)", "",
              "| round | sparsity % | " + " | ".join(f"{c} {k}" for k in ("final", "best") for c in CONDITIONS) + " |",
              "|---:|---:|" + "---:|" * (2 * len(CONDITIONS))]
    for i, s in enumerate(summary["sparsity"]):
        cells = [summary[k]["mean"][c][i] for k in ("final", "best") for c in CONDITIONS]
        lines.append(f"| {i} | {100 * s:.1f} | " + " | ".join("" if v is None else f"{v:.1f}" for v in cells) + " |")
    total = sum(sum(v) for v in seconds.values())
    per_run = ", ".join(f"{c} {np.mean(v):.0f} s" for c, v in seconds.items())
    lines += ["", f"Runtime: {total / 60:.1f} min on one CPU thread of a shared 2-core machine (mean per seed: "
              f"{per_run}).", ""]
    text = "\n".join(lines)
    write_text(out / "results.md", text)
    return text


def plot_accuracy(summary: dict, out: Path) -> None:
    from matplotlib.figure import Figure

    x = 100 * np.array(summary["sparsity"])
    fig = Figure(figsize=(11, 4))
    for ax, key in zip(fig.subplots(1, 2, sharey=True), ("final", "best")):
        s = summary[key]
        for condition, color in zip(CONDITIONS, ("C0", "C1", "C2", "C3")):
            mean, low, high = (np.array(s[k][condition], dtype=float) for k in ("mean", "min", "max"))
            shown = ~np.isnan(mean)
            ax.plot(x[shown], mean[shown], "o-", color=color, ms=3, label=LABELS[condition])
            ax.fill_between(x[shown], low[shown], high[shown], color=color, alpha=0.2)
        ax.axhline(s["dense"]["ticket"], color="C0", ls=":", lw=1, label="dense")
        ax.axhline(s["dense"]["transfer"], color="0.4", ls=":", lw=1, label="dense, shuffled inputs")
        ax.axvspan(100 * BAND[0], 100 * BAND[1], color="0.9", zorder=0)
        ax.set_xlabel("sparsity (% of weights pruned)")
        ax.set_title(f"{key} test accuracy of each round (mean, min-max of {len(summary['seeds'])} seeds)",
                     fontsize=9)
    fig.axes[0].set_ylabel("test accuracy (%)")
    fig.axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "accuracy_vs_sparsity.png")


def plot_masks(run_dirs: dict[str, list[Path]], summary: dict, out: Path, units: int = 60) -> None:
    """First-layer masks of seed 0 at the headline round: the units with most survivors, inputs left to right."""
    from matplotlib.figure import Figure

    h = summary["headline_round"]
    fig = Figure(figsize=(10, 4.2))
    for ax, condition in zip(fig.subplots(1, 3), ("ticket", "random", "shuffled")):
        mask = first_layer_mask(run_dirs[condition][0], h)
        rows = np.argsort(-mask.sum(1), kind="stable")[:units]
        ax.imshow(mask[rows], cmap="Greys", aspect="auto", interpolation="nearest")
        ax.set_title(f"{LABELS[condition]}: p(3 adjacent) = {adjacency(mask):.4f}", fontsize=8)
        ax.set_xlabel("input position (as the network sees it)")
    fig.axes[0].set_ylabel(f"{units} first-layer units with most survivors")
    fig.suptitle(f"first-layer masks at {100 * summary['sparsity'][h]:.1f}% sparsity (black = kept)")
    fig.tight_layout()
    save_figure(fig, out / "masks.png")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1 (quick: 0)")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 20 steps: checks the whole pipeline")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "lottery")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: lightning_logs/lottery_experiment")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1])
    work_dir = args.work_dir or ROOT / "lightning_logs" / ("lottery_quick" if args.quick else "lottery_experiment")
    base = yaml.safe_load(CONFIG.read_text())
    torch.set_num_threads(1)  # the retraining runs here; one thread is fastest for this small MLP

    histories = {c: [] for c in CONDITIONS}
    run_dirs, seconds = {c: [] for c in SEARCHES}, {c: [] for c in CONDITIONS}
    for seed in seeds:
        for condition in SEARCHES:
            run_dir = work_dir / f"{condition}_seed{seed}"
            config = run_config(base, condition, seed, run_dir, args.quick)
            history, took = train(config, run_dir)
            print(f"{condition} seed {seed}: {took:.0f} s, final accuracy by round "
                  f"{[round(100 * r['final'], 1) for r in history]}", flush=True)
            histories[condition].append(history)
            run_dirs[condition].append(run_dir)
            seconds[condition].append(took)
        ticket_config = run_config(base, "ticket", seed, run_dirs["ticket"][-1], args.quick)
        rounds = [0] + [i for i, r in enumerate(histories["ticket"][-1]) if BAND[0] <= r["sparsity"] <= BAND[1]]
        transfer: list[dict | None] = [None] * len(histories["ticket"][-1])
        for i in rounds:
            transfer[i] = retrain_on_shuffled(ticket_config, run_dirs["ticket"][-1], i, seed,
                                              work_dir / f"transfer_seed{seed}")
        histories["transfer"].append(transfer)
        seconds["transfer"].append(sum(transfer[i]["seconds"] for i in rounds))
        print(f"transfer seed {seed}: rounds {rounds}, final accuracy "
              f"{[round(100 * transfer[i]['final'], 1) for i in rounds]}", flush=True)

    summary = summarize(histories, run_dirs, seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "results.json", json.dumps({"summary": summary, "seconds": seconds,
                                                            "histories": histories}, indent=1))
    print(write_table(summary, seconds, args.out, args.quick))
    plot_accuracy(summary, args.out)
    plot_masks(run_dirs, summary, args.out)
    return summary


if __name__ == "__main__":
    main()
