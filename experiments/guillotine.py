"""Guillotine regularization on MNIST-1D (the ICML 2024 paper): SimCLR, then a linear probe at every layer.

Trains SimCLR with the default projector, without a projector and with a 3-hidden-layer projector (Adam lr
1e-2, batch 100, 200 epochs, the paper's augmentation), then fits logistic regression on the standardized frozen
features of each layer (train split) and reports test accuracy, next to the paper's numbers. Every run goes
through the same ``SimCLR`` + ``MNIST1DDataModule`` + ``Trainer`` as ``configs/simclr*.yaml``. The deep
projector at lr 1e-2 is sensitive to the seed, so every variant runs several seeds and the table reports the
median and the range. Finished runs are kept in ``results.json`` and skipped when the command runs again, so an
interrupted sweep resumes.

    python -m experiments.guillotine        # 3 variants x seeds 0, 1, 2 -> experiments/results/guillotine/
    #                                         (results.json, table.md, guillotine.png)
    python -m experiments.guillotine --epochs 5 --seeds 0 --out /tmp/guillotine-quick
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import lightning as L
import torch

from lightning_modules.data import MNIST1DDataModule
from lightning_modules.ssl import SimCLR
from mnist1d_hf.atomic import save_figure, write_text

PROJECTORS = {"default": [125, 16], "no_projector": [], "deep_projector": [125, 125, 125, 16]}
# Linear-probe test accuracy (%) by layer in the paper (ICML 2024), layer 0 = raw input.
PAPER = {"default": [32.8, 75.1, 80.9, 82.1, 76.1, 75.0],
         "no_projector": [32.8, 82.2, 79.5, 53.4],
         "deep_projector": [32.8, 75.9, 82.4, 79.5, 77.3, 72.8, 65.0, 61.1]}
PAPER_KNN = 74.0  # kNN (k = 10, cosine) on the default projector output


def train_and_probe(projector: list[int], epochs: int, seed: int) -> dict:
    """One SimCLR run and its layer-wise offline evaluation (accuracies in percent)."""
    L.seed_everything(seed, verbose=False)
    data = MNIST1DDataModule(batch_size=100, ordered=False, seed=seed)
    model = SimCLR(projector_dims=projector, evaluate_at_fit_end=False)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        check_val_every_n_epoch=max(epochs // 4, 1))
    start = time.perf_counter()
    trainer.fit(model, data)
    train_seconds = time.perf_counter() - start
    model.eval()
    results = model.evaluate_layers(*data.splits["train"], *data.splits["test"])
    online = {k.rsplit("/", 1)[-1]: 100 * v.item() for k, v in trainer.callback_metrics.items()
              if k.startswith("val/probe_acc/")}
    return {"projector": projector, "epochs": epochs, "seed": seed, "layers": list(results),
            "linear": [100 * r["linear"] for r in results.values()],
            "knn": 100 * results[model.layer_names[-1]]["knn"], "online_probe": online,
            "train_seconds": train_seconds, "total_seconds": time.perf_counter() - start}


def by_variant(runs: dict) -> dict[str, list[dict]]:
    """The finished runs grouped by projector variant, in seed order."""
    grouped = {name: sorted((r for r in runs.values() if r["variant"] == name), key=lambda r: r["seed"])
               for name in PROJECTORS}
    return {name: rs for name, rs in grouped.items() if rs}


def median_curve(variant_runs: list[dict]) -> list[float]:
    return [statistics.median(column) for column in zip(*(r["linear"] for r in variant_runs))]


def peak(curve: list[float]) -> int:
    """The best layer above the input."""
    return max(range(1, len(curve)), key=curve.__getitem__)


def table(runs: dict) -> str:
    """Measured (median over seeds, with the range) vs paper, one row per layer, one column pair per variant."""
    grouped = by_variant(runs)
    lines = ["| layer | " + " | ".join(f"{v}: measured median [min, max] | paper" for v in grouped) + " |",
             "|---|" + "---|---|" * len(grouped)]
    for i in range(max(len(rs[0]["linear"]) for rs in grouped.values())):
        cells = []
        for name, rs in grouped.items():
            if i < len(rs[0]["linear"]):
                column = [r["linear"][i] for r in rs]
                cells += [f"{statistics.median(column):.1f} [{min(column):.1f}, {max(column):.1f}] "
                          f"({rs[0]['layers'][i]})", f"{PAPER[name][i]:.1f}"]
            else:
                cells += ["", ""]
        lines.append(f"| {i} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Seeds: " + "; ".join(f"{name} {', '.join(str(r['seed']) for r in rs)}"
                                       for name, rs in grouped.items()) + ".")
    if "default" in grouped:
        knn = [r["knn"] for r in grouped["default"]]
        lines.append(f"kNN (k = 10, cosine) on the default projector output: median {statistics.median(knn):.1f}% "
                     f"[{min(knn):.1f}, {max(knn):.1f}] (paper about {PAPER_KNN:.0f}%).")
    lines.append("Training time per run on this shared CPU (1 thread, median): " + ", ".join(
        f"{name} {statistics.median(r['train_seconds'] for r in rs) / 60:.1f} min for {rs[0]['epochs']} epochs"
        for name, rs in grouped.items()) + ".")
    lines.append("")
    lines.append("Every run, linear probe accuracy by layer (%):")
    lines.append("")
    for name, rs in grouped.items():
        for r in rs:
            lines.append(f"- {name}, seed {r['seed']}: " + ", ".join(f"{a:.1f}" for a in r["linear"]))
    return "\n".join(lines) + "\n"


def verdict(runs: dict) -> list[str]:
    """The issue's claims, checked on the measured numbers (median curves and every seed)."""
    grouped, lines = by_variant(runs), []
    if "default" in grouped:
        rs = grouped["default"]
        curve = median_curve(rs)
        meets = sum(peak(a) == 3 and a[3] >= 80 and a[3] - a[-1] >= 4 for a in (r["linear"] for r in rs))
        lines.append(f"default (median): peak at layer {peak(curve)} with {curve[peak(curve)]:.1f}% (claim: layer 3, "
                     f">= 80); projector output {curve[-1]:.1f}%, {curve[3] - curve[-1]:.1f} points below layer 3 "
                     f"(claim: >= 4). Seeds meeting both claims: {meets} of {len(rs)}.")
    for name in ("no_projector", "deep_projector"):
        if name in grouped:
            rs, paper = grouped[name], PAPER[name]
            curve = median_curve(rs)
            lines.append(f"{name} (median): peak at layer {peak(curve)} with {curve[peak(curve)]:.1f}%, loss layer "
                         f"{len(curve) - 1} {curve[-1]:.1f}% (paper: peak at layer {peak(paper)} with "
                         f"{paper[peak(paper)]:.1f}%, loss layer {paper[-1]:.1f}%). Peak layer per seed: "
                         f"{', '.join(str(peak(r['linear'])) for r in rs)}.")
    return lines


def figure(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for color, (name, rs) in zip(("C0", "C1", "C2"), by_variant(runs).items()):
        layers = range(len(rs[0]["linear"]))
        ax.fill_between(layers, [min(c) for c in zip(*(r["linear"] for r in rs))],
                        [max(c) for c in zip(*(r["linear"] for r in rs))], color=color, alpha=0.15, lw=0)
        ax.plot(layers, median_curve(rs), "o-", color=color, label=f"{name} (measured, {len(rs)} seeds)")
        ax.plot(range(len(PAPER[name])), PAPER[name], "x--", color=color, alpha=0.6, label=f"{name} (paper)")
    ax.axvline(3, color="0.6", lw=0.8)
    ax.set_ylim(30, 90)
    ax.text(3.05, 87, "backbone output", color="0.4", fontsize=8)
    ax.set_xlabel("layer (0 = input, 1-3 conv, then projector)")
    ax.set_ylabel("linear probe test accuracy (%)")
    ax.set_title("Guillotine regularization: SimCLR on MNIST-1D")
    ax.legend(fontsize=7, loc="lower center")
    fig.tight_layout()
    save_figure(fig, path, dpi=150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(PROJECTORS), default=list(PROJECTORS))
    parser.add_argument("--out", type=Path, default=Path("experiments/results/guillotine"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for this small net)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "results.json"
    runs = json.loads(store.read_text()) if store.exists() else {}
    runs = {k: r for k, r in runs.items() if r["epochs"] == args.epochs}
    for seed in args.seeds:
        for name in args.variants:
            key = f"{name}/seed{seed}"
            if key in runs:
                print(f"{key}: kept from {store}")
                continue
            runs[key] = {"variant": name, **train_and_probe(PROJECTORS[name], args.epochs, seed)}
            print(f"{key}: " + ", ".join(f"{a:.1f}" for a in runs[key]["linear"])
                  + f" (paper {', '.join(map(str, PAPER[name]))}); {runs[key]['train_seconds']:.0f} s", flush=True)
            write_text(store, json.dumps(runs, indent=2))
    report = table(runs) + "\n" + "\n".join(f"- {line}" for line in verdict(runs)) + "\n"
    write_text(args.out / "table.md", report)
    figure(runs, args.out / "guillotine.png")
    print(report)


if __name__ == "__main__":
    main()
