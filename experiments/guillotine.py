"""Guillotine regularization on MNIST-1D (the ICML 2024 paper): SimCLR, then a linear probe at every layer.

Each run trains ``configs/simclr.yaml`` (default projector), with ``simclr_no_projector.yaml`` or
``simclr_deep_projector.yaml`` on top, for one seed (``seed_everything`` and the data module's shuffle seed),
through the project's LightningCLI; then ``lightning_modules.ssl.probes.evaluate_layers`` measures, on the full
train and test splits, each layer's linear-probe test accuracy and dead-unit fraction, and kNN on the last layer.
A run whose loss layer learned almost nothing (``collapsed``) is shown and left out of the shape claims.

    python -m experiments run guillotine            # 3 variants x seeds 0-7, seed-major
    python -m experiments run guillotine --quick    # 2 epochs on 1000 training examples, seed 0, short probes
    python -m experiments report guillotine
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import save_figure

from .runner import Claim, Results, Study
from .verdicts import against_paper, compare
from .runs import Run, fit_run, load_config, override

VARIANTS = {"default": ["configs/simclr.yaml"],
            "no_projector": ["configs/simclr.yaml", "configs/simclr_no_projector.yaml"],
            "deep_projector": ["configs/simclr.yaml", "configs/simclr_deep_projector.yaml"]}
# Linear-probe test accuracy (%) by layer in the paper (ICML 2024), layer 0 = raw input.
PAPER = {"default": [32.8, 75.1, 80.9, 82.1, 76.1, 75.0],
         "no_projector": [32.8, 82.2, 79.5, 53.4],
         "deep_projector": [32.8, 75.9, 82.4, 79.5, 77.3, 72.8, 65.0, 61.1]}
PAPER_KNN = 74  # kNN (k = 10, cosine) on the default projector output, "about 74%"
BACKBONE_OUTPUT = 3  # layer index of conv3
PROJECTOR_DROP = 4.0  # the projector output at least this many points below the backbone output
# A run collapsed when SSL taught the layer its loss is applied to almost nothing: that layer's linear probe less
# than this many points above the raw input's. Collapsed runs are shown, and left out of the shape claims only.
COLLAPSE_GAIN = 10.0
TASK = "experiments.guillotine:train_and_evaluate"
QUICK = {"trainer.max_epochs": 2, "trainer.check_val_every_n_epoch": 1, "data.train_subset": 1000,
         "model.init_args.probe_max_iter": 50}


def train_and_evaluate(config: dict[str, Any]) -> dict[str, Any]:
    """The runner's task: fit the SimCLR config, then evaluate every layer once on the full splits.

    Returns the layer names, per layer the linear-probe test accuracy and dead-unit fraction (fractions), kNN on
    the last layer, the online probes' last test accuracies, the metric history (dead units every validation)
    and the seconds spent training and evaluating.
    """
    from .tasks import MetricHistory, build

    cli = build(config)
    model, data = cli.model, cli.datamodule
    if model.hparams.evaluate_at_fit_end:
        raise ValueError("model.init_args.evaluate_at_fit_end=True would evaluate every layer twice: the study's "
                         "runs set it to False and evaluate once after fit")
    history = MetricHistory()
    cli.trainer.callbacks.append(history)
    start = time.perf_counter()
    cli.trainer.fit(model, data)
    trained = time.perf_counter()
    layers = model.evaluate_layers(*data.split("train"), *data.split("test"))
    names = list(layers)
    final = history.rows[-1]
    return {"layers": names,
            "linear": [layers[n]["linear"] for n in names],
            "dead": [layers[n]["dead"] for n in names],
            "knn": layers[names[-1]]["knn"],
            "online_probe": [final.get(f"val/probe_acc/{n}", math.nan) for n in names],
            "history": [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
                        for row in history.rows],
            "train_seconds": trained - start, "eval_seconds": time.perf_counter() - trained}


# reading the stored results -----------------------------------------------------------------------------------
def linear(result: dict[str, Any]) -> list[float]:
    """Linear-probe test accuracy (%) by layer."""
    return [100 * a for a in result["linear"]]


def peak(curve: Sequence[float]) -> int:
    """The best layer above the input (the first one on a tie)."""
    return max(range(1, len(curve)), key=lambda i: (curve[i], -i))


def columns(records: list[dict[str, Any]], read) -> list[list[float]]:
    """``read(result)`` per layer across the records: one list of seed values per layer."""
    return [list(c) for c in zip(*(read(r["result"]) for r in records))]


def spread(values: Sequence[float], digits: int = 1) -> str:
    """``median [min, max]``."""
    return (f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"
            if values else "—")


def embedding_gain(result: dict[str, Any]) -> float:
    """Points of linear-probe accuracy the loss layer has over the raw input."""
    accuracy = linear(result)
    return accuracy[-1] - accuracy[0]


def collapsed(result: dict[str, Any]) -> bool:
    """The stated collapse rule: the loss layer less than ``COLLAPSE_GAIN`` points above the raw input."""
    return embedding_gain(result) < COLLAPSE_GAIN


def _seeds(records: Sequence[dict[str, Any]]) -> str:
    return ", ".join(str(r["tags"]["seed"]) for r in records) or "none"


def first_dead(result: dict[str, Any], layers: Sequence[str]) -> float:
    """Mean dead fraction of ``layers`` at the first validation pass that logged it (nan if none did)."""
    for row in result.get("history", []):
        values = [row.get(f"val/dead_fraction/{name}") for name in layers]
        if all(v is not None for v in values):
            return statistics.fmean(values)
    return math.nan


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson correlation (nan when either side is constant or fewer than 3 points)."""
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return math.nan
    return statistics.correlation(a, b)


class Guillotine(Study):
    """SimCLR on MNIST-1D with the paper's settings (augmentation, InfoNCE at temperature 0.5, Adam lr 1e-2, batch
    100, 200 epochs, no labels), with the default projector 125 -> 16, without a projector and with a deep
    projector 125 -> 125 -> 125 -> 16; then logistic regression on the standardized frozen features of every
    layer (train split, C = 1) scored on the test split, kNN (k = 10, cosine) on the last layer and the share of
    dead units (0 on every training example) per layer. Median and [min, max] over seeds next to the paper; the
    claims by the one rule over seeds, the shape claims on the runs the collapse rule keeps (a run collapsed when
    its loss layer's probe is less than 10 points above the raw input's)."""

    name = "guillotine"
    title = "Guillotine regularization: SimCLR on MNIST-1D, linear probes by layer"
    seeds = tuple(range(8))

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        runs = []
        for seed in seeds:  # seed-major: a sweep cut short holds every variant for the same seeds
            for variant, paths in VARIANTS.items():
                config = override(load_config(*paths), seed_everything=seed, **{
                    "data.shuffle_seed": seed, "model.init_args.evaluate_at_fit_end": False,
                    **(QUICK if quick else {})})
                tags = {"variant": variant, "seed": seed}
                runs.append(Run(tags, fit_run(tags, config).config, task=TASK))
        return runs

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        return text + (" Quick protocol: 2 epochs on the first 1000 training examples, probes of at most 50 LBFGS "
                       "iterations." if quick else "")

    def table(self, results: Results, quick: bool) -> str:
        lines = []
        variants = [v for v in VARIANTS if results.select(variant=v)]
        header = "| layer | " + " | ".join(f"{v} (measured) | paper" for v in variants) + " |"
        lines += ["Linear-probe test accuracy (%) by layer, median [min, max] over seeds:", "",
                  header, "|---|" + "---|---|" * len(variants)]
        depth = max((len(PAPER[v]) for v in variants), default=0)
        for i in range(depth):
            cells = []
            for v in variants:
                records = results.select(variant=v)
                if i < len(PAPER[v]):
                    name = records[0]["result"]["layers"][i]
                    cells += [f"{spread(columns(records, linear)[i])} ({name})", f"{PAPER[v][i]:.1f}"]
                else:
                    cells += ["", ""]
            lines.append(f"| {i} | " + " | ".join(cells) + " |")
        lines += ["", "Dead units (% of the layer's units at 0 on every training example), median over seeds:", "",
                  "| layer | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
        for i in range(1, depth):
            cells = []
            for v in variants:
                records = results.select(variant=v)
                if i < len(PAPER[v]):
                    dead = columns(records, lambda r: [100 * d for d in r["dead"]])[i]
                    cells.append(f"{statistics.median(dead):.1f} [{min(dead):.1f}, {max(dead):.1f}]")
                else:
                    cells.append("")
            lines.append(f"| {i} | " + " | ".join(cells) + " |")
        lines += ["", "Per seed: the peak layer (best linear probe above the input); kNN on the last layer (%); the "
                  f"loss layer's linear probe minus the input's (points), **collapsed** below {COLLAPSE_GAIN:g}:", "",
                  "| variant | " + " | ".join(f"seed {s}" for s in results.tag_values("seed")) + " |",
                  "|---|" + "---|" * len(results.tag_values("seed"))]
        for v in variants:
            by_seed = {r["tags"]["seed"]: r["result"] for r in results.select(variant=v)}
            lines.append(f"| {v} | " + " | ".join(
                f"{peak(linear(by_seed[s]))}; {100 * by_seed[s]['knn']:.1f}; {embedding_gain(by_seed[s]):+.1f}"
                + (" **collapsed**" if collapsed(by_seed[s]) else "") if s in by_seed else "—"
                for s in results.tag_values("seed")) + " |")
        if "deep_projector" in variants:
            lines += ["", self.dead_units_note(results)]
        lines += ["", "Every run, linear probe accuracy by layer (%):", ""]
        for v in variants:
            for r in results.select(variant=v):
                lines.append(f"- {v}, seed {r['tags']['seed']}: " + ", ".join(f"{a:.1f}" for a in linear(r["result"]))
                             + f" (train {r['result']['train_seconds'] / 60:.1f} min)")
        return "\n".join(lines)

    def dead_units_note(self, results: Results) -> str:
        """The deep projector's seed dependence against its dead units: conv2 and conv3, across seeds, and when
        the units died (the first validation, after 10 epochs, against the end)."""
        records = results.select(variant="deep_projector")
        dead = [100 * (r["result"]["dead"][2] + r["result"]["dead"][3]) / 2 for r in records]
        early = [100 * first_dead(r["result"], ("conv2", "conv3")) for r in records]
        accuracy = [(linear(r["result"])[2] + linear(r["result"])[3]) / 2 for r in records]
        rho = pearson(dead, accuracy)
        pairs = ", ".join(f"seed {r['tags']['seed']}: {d:.0f}% dead ({e:.0f}% at the first validation), {a:.1f}%"
                          for r, d, e, a in zip(records, dead, early, accuracy))
        return (f"Deep projector, conv2 and conv3 (mean of the two layers) across {len(records)} seeds: dead units "
                f"at the end vs linear-probe accuracy, Pearson r = {rho:.2f} ({pairs}). The projector output is "
                f"linear (no ReLU), so it has no dead units by construction.")

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        """Every claim by the one rule over seeds; the shape claims (where the curve peaks, how far the loss layer
        falls, whether the best layer is in the backbone) on the runs the collapse rule keeps."""
        claims = []
        default = results.select(variant="default")
        if default:
            knn = [100 * r["result"]["knn"] for r in default]
            claims.append(Claim.judged(f"default projector: kNN (k = 10, cosine) on the projector output about "
                                       f"{PAPER_KNN}%", against_paper(knn, PAPER_KNN), f"about {PAPER_KNN}%",
                                       not quick))
        for variant in VARIANTS:
            records = results.select(variant=variant)
            if records:
                claims += self.shape_claims(variant, records, not quick)
        return claims

    @staticmethod
    def shape_claims(variant: str, records: list[dict[str, Any]], applicable: bool) -> list[Claim]:
        """The paper's shape of ``variant``'s curve, per kept seed: its peak layer above every other layer, the
        loss layer below the peak (by ``PROJECTOR_DROP`` for the default projector, by half the paper's drop
        otherwise), and with a projector the best backbone layer above the best projector layer."""
        paper, name = PAPER[variant], variant.replace("_", " ")
        top, paper_drop = peak(paper), paper[peak(paper)] - paper[-1]
        kept = [r for r in records if not collapsed(r["result"])]
        curves = [linear(r["result"]) for r in kept]
        which = f"; seeds {_seeds(kept)} (collapsed, left out: {_seeds([r for r in records if r not in kept])})"
        drop = PROJECTOR_DROP if variant == "default" else round(paper_drop / 2, 1)
        others = [[c[i] for i in range(1, len(c)) if i != top] for c in curves]
        claims = [
            Claim.judged(f"{name}: linear accuracy peaks at layer {top} ({records[0]['result']['layers'][top]}): "
                         f"per seed, layer {top} minus the best other layer{which}",
                         compare([c[top] for c in curves], [max(o) for o in others]),
                         f"layer {top} ({paper[top]}%), next {max(p for i, p in enumerate(paper[1:], 1) if i != top)}%",
                         applicable),
            Claim.judged(f"{name}: the loss layer lies ≥ {drop:g} points below layer {top}: per seed, layer {top} "
                         f"minus the loss layer{which}", compare([c[top] for c in curves], [c[-1] for c in curves],
                                                                 margin=drop),
                         f"{paper_drop:.1f} points ({paper[top]} -> {paper[-1]})", applicable)]
        if len(paper) > BACKBONE_OUTPUT + 1:
            claims.append(Claim.judged(
                f"guillotine, {name}: the best layer is in the backbone (conv1-conv3), not in the projector: per "
                f"seed, the best backbone layer minus the best projector layer{which}",
                compare([max(c[1:BACKBONE_OUTPUT + 1]) for c in curves], [max(c[BACKBONE_OUTPUT + 1:]) for c in curves]),
                f"{max(paper[1:BACKBONE_OUTPUT + 1]) - max(paper[BACKBONE_OUTPUT + 1:]):+.1f}", applicable))
        return claims

    def figures(self, results: Results, out: Path) -> list[str]:
        """Left: median linear-probe curve with the seed range per variant, paper dashed. Right: dead units."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 4.2))
        accuracy_ax, dead_ax = fig.subplots(1, 2)
        for color, variant in zip(("C0", "C1", "C2"), VARIANTS):
            records = results.select(variant=variant)
            if not records:
                continue
            acc = columns(records, linear)
            layers = range(len(acc))
            accuracy_ax.fill_between(layers, [min(c) for c in acc], [max(c) for c in acc], color=color, alpha=0.15,
                                     lw=0)
            accuracy_ax.plot(layers, [statistics.median(c) for c in acc], "o-", color=color,
                             label=f"{variant} (median, {len(records)} seeds)")
            accuracy_ax.plot(range(len(PAPER[variant])), PAPER[variant], "x--", color=color, alpha=0.6,
                             label=f"{variant} (paper)")
            dead = columns(records, lambda r: [100 * d for d in r["dead"]])
            dead_ax.fill_between(layers[1:], [min(c) for c in dead[1:]], [max(c) for c in dead[1:]], color=color,
                                 alpha=0.15, lw=0)
            dead_ax.plot(layers[1:], [statistics.median(c) for c in dead[1:]], "o-", color=color,
                         label=f"{variant} (median, range)")
        for ax in (accuracy_ax, dead_ax):
            ax.axvline(BACKBONE_OUTPUT, color="0.6", lw=0.8)
            ax.set_xlabel("layer (0 = input, 1-3 conv, then projector)")
            ax.grid(alpha=0.3)
        accuracy_ax.set(ylabel="linear probe test accuracy (%)", title="Linear probes by layer", ylim=(0, 100))
        dead_ax.set(ylabel="dead units (%)", title="Dead units by layer (0 on every training example)",
                    ylim=(-2, 100))
        accuracy_ax.legend(fontsize=7, loc="lower center")
        dead_ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        save_figure(fig, out / "guillotine.png", dpi=130)
        return ["guillotine.png"]

