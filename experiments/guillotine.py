"""Guillotine regularization on MNIST-1D (REFERENCE.md section 3): SimCLR, then a linear probe at every layer.

Trains SimCLR with the default projector, without a projector and with a 3-hidden-layer projector (Adam lr
1e-2, batch 100, 200 epochs, the paper's augmentation), then fits logistic regression on the standardized frozen
features of each layer (train split) and reports test accuracy, next to the paper's numbers. Every run goes
through the same ``SimCLR`` + ``MNIST1DDataModule`` + ``Trainer`` as ``configs/simclr*.yaml``. Finished variants
are kept in ``results.json`` and skipped when the command runs again, so an interrupted sweep resumes.

    python -m experiments.guillotine                        # writes results/guillotine/{results.json,table.md,guillotine.png}
    python -m experiments.guillotine --epochs 5 --out /tmp/guillotine-quick
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import lightning as L
import torch

from lightning_modules.data import MNIST1DDataModule
from lightning_modules.ssl import SimCLR

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


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def table(runs: dict) -> str:
    """Measured vs paper, one row per layer, one column pair per variant."""
    names = [v for v in PROJECTORS if v in runs]
    depth = max(len(runs[v]["linear"]) for v in names)
    header = "| layer | " + " | ".join(f"{v} measured | {v} paper" for v in names) + " |"
    lines = [header, "|---|" + "---|---|" * len(names)]
    for i in range(depth):
        cells = []
        for v in names:
            run, paper = runs[v], PAPER[v]
            cells.append(f"{run['linear'][i]:.1f} ({run['layers'][i]})" if i < len(run["linear"]) else "")
            cells.append(f"{paper[i]:.1f}" if i < len(paper) else "")
        lines.append(f"| {i} | " + " | ".join(cells) + " |")
    if "default" in runs:
        lines.append(f"\nkNN (k = 10, cosine) on the default projector output: {runs['default']['knn']:.1f}% "
                     f"(paper about {PAPER_KNN:.0f}%).")
    lines.append("\nTraining time on this CPU (1 thread): " + ", ".join(
        f"{v} {runs[v]['train_seconds'] / 60:.1f} min for {runs[v]['epochs']} epochs" for v in names) + ".")
    return "\n".join(lines) + "\n"


def verdict(runs: dict) -> list[str]:
    """The issue's claims, checked on the measured numbers."""
    lines = []
    if "default" in runs:
        acc = runs["default"]["linear"]
        peak = max(range(len(acc)), key=acc.__getitem__)
        lines.append(f"default: peak at layer {peak} ({acc[peak]:.1f}%), layer 3 {acc[3]:.1f}% (claim: peak at 3, "
                     f">= 80), projector output {acc[-1]:.1f}% = {acc[3] - acc[-1]:.1f} points below layer 3 "
                     f"(claim: >= 4)")
    for name in ("no_projector", "deep_projector"):
        if name in runs:
            acc = runs[name]["linear"]
            peak = max(range(1, len(acc)), key=acc.__getitem__)
            lines.append(f"{name}: peak at layer {peak} ({acc[peak]:.1f}%), loss layer {len(acc) - 1} "
                         f"{acc[-1]:.1f}% (paper: peak at {max(range(1, len(PAPER[name])), key=PAPER[name].__getitem__)}, "
                         f"loss layer {PAPER[name][-1]:.1f}%)")
    return lines


def figure(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for color, name in zip(("C0", "C1", "C2"), PROJECTORS):
        if name in runs:
            acc = runs[name]["linear"]
            ax.plot(range(len(acc)), acc, "o-", color=color, label=f"{name} (measured)")
            ax.plot(range(len(PAPER[name])), PAPER[name], "x--", color=color, alpha=0.6, label=f"{name} (paper)")
    ax.axvline(3, color="0.6", lw=0.8)
    ax.text(3.05, 35, "backbone output", color="0.4", fontsize=8)
    ax.set_xlabel("layer (0 = input, 1-3 conv, then projector)")
    ax.set_ylabel("linear probe test accuracy (%)")
    ax.set_title("Guillotine regularization: SimCLR on MNIST-1D")
    ax.legend(fontsize=7)
    fig.tight_layout()
    temporary = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(temporary, dpi=150)
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", choices=list(PROJECTORS), default=list(PROJECTORS))
    parser.add_argument("--out", type=Path, default=Path("results/guillotine"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for this small net)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "results.json"
    runs = json.loads(store.read_text()) if store.exists() else {}
    for name in args.variants:
        if name in runs and runs[name]["epochs"] == args.epochs and runs[name]["seed"] == args.seed:
            print(f"{name}: kept from {store}")
            continue
        runs[name] = train_and_probe(PROJECTORS[name], args.epochs, args.seed)
        print(f"{name}: " + ", ".join(f"{a:.1f}" for a in runs[name]["linear"])
              + f" (paper {', '.join(map(str, PAPER[name]))}); {runs[name]['train_seconds']:.0f} s", flush=True)
        write_atomically(store, json.dumps(runs, indent=2))
    write_atomically(args.out / "table.md", table(runs) + "\n" + "\n".join(f"- {v}" for v in verdict(runs)) + "\n")
    figure(runs, args.out / "guillotine.png")
    print(table(runs))
    print("\n".join(verdict(runs)))


if __name__ == "__main__":
    main()
