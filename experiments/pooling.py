"""Pooling vs sample efficiency (paper Fig. 7): five variants of one small conv net at six training-set sizes.

Every run is ``configs/pooling.yaml`` with its ``pooling``, its training-set size and its seed. A size T is its own
generated MNIST-1D dataset (``num_samples`` T + 1000, ``train_split`` T: T training and 1000 test examples), the
`large` variant with those two knobs changed; T = 50,000 is the `large` variant itself.

    python -m experiments run pooling            # 5 variants x 6 sizes x seeds 0 1 2
    python -m experiments run pooling --quick    # 5 variants x 2 sizes, 100 steps, seed 0
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from mnist1d_hf.atomic import save_figure

from .classifiers import curve, final_test_acc
from .runner import Claim, Results, Study, fmt
from .runs import Run, fit_run, load_config, override
from .verdicts import against_paper, compare

POOLINGS = ("no_pool", "stride_2", "max_pool", "avg_pool", "l2_pool")
POOLED = ("max_pool", "avg_pool", "l2_pool")
UNPOOLED = ("no_pool", "stride_2")
SIZES = (1000, 2000, 5000, 10000, 20000, 50000)
TEST_SIZE = 1000
CURVE_SIZES = (1000, 5000, 50000)
# Paper Fig. 7 (notebook benchmark-pooling): test accuracy (%) at step 6000, one run per cell.
PAPER = {1000: {"no_pool": 59.2, "stride_2": 57.4, "max_pool": 78.2, "avg_pool": 78.0, "l2_pool": 77.2},
         2000: {"no_pool": 82.0, "stride_2": 81.7, "max_pool": 89.2, "avg_pool": 90.0, "l2_pool": 89.9},
         5000: {"no_pool": 91.9, "stride_2": 89.9, "max_pool": 94.5, "avg_pool": 94.0, "l2_pool": 95.3},
         10000: {"no_pool": 94.3, "stride_2": 91.3, "max_pool": 97.0, "avg_pool": 96.0, "l2_pool": 96.6},
         20000: {"no_pool": 94.4, "stride_2": 92.2, "max_pool": 96.8, "avg_pool": 96.2, "l2_pool": 97.8},
         50000: {"no_pool": 96.3, "stride_2": 95.4, "max_pool": 98.1, "avg_pool": 97.3, "l2_pool": 97.1}}
# Section D's bands and thresholds (points of test accuracy).
POOLED_BAND = {1000: (78.0, 3.0), 50000: (97.5, 1.5)}
UNPOOLED_BAND = {1000: (58.0, 4.0)}
GAP_AT_SMALLEST = 12.0  # best pooled - best unpooled at 1000 is at least this
GAP_AT_LARGEST = 4.0  # ... and at most this at 50000
QUICK_SIZES = (1000, 5000)
QUICK = {"trainer.max_steps": 100, "trainer.val_check_interval": 50}


def dataset_overrides(train_size: int) -> dict[str, int]:
    """The generator knobs of the dataset with ``train_size`` training and 1000 test examples."""
    if not isinstance(train_size, int) or train_size < 1:
        raise ValueError(f"train_size={train_size!r} is invalid: allowed an integer >= 1")
    return {"num_samples": train_size + TEST_SIZE, "train_split": train_size}


Accuracies = dict[int, dict[str, dict[int, float]]]  # size -> pooling -> seed -> final test accuracy (%)


def accuracies(results: Results) -> Accuracies:
    """The measured final test accuracies (%), by size, pooling and seed; cells with no run are left out."""
    table: Accuracies = {}
    for size in SIZES:
        for pooling in POOLINGS:
            runs = {r["tags"]["seed"]: final_test_acc(r["result"]) for r in results.select(size=size, pooling=pooling)}
            if runs:
                table.setdefault(size, {})[pooling] = runs
    return table


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _complete(acc: Accuracies) -> list[int]:
    """Sizes at which every variant was measured."""
    return [size for size in SIZES if all(v in acc.get(size, {}) for v in POOLINGS)]


def paired_seeds(acc: Accuracies, sizes: Sequence[int]) -> list[int]:
    """The seeds every variant has at every one of ``sizes``: a seed's runs share their initialization seed and
    batch order at a size, so the variants pair by seed."""
    common = [set(acc[size][v]) for size in sizes for v in POOLINGS]
    return sorted(set.intersection(*common)) if common else []


def column(acc: Accuracies, size: int, pooling: str, seeds: Sequence[int]) -> list[float]:
    return [acc[size][pooling][s] for s in seeds]


def worst_margin(acc: Accuracies, size: int, seeds: Sequence[int]) -> list[float]:
    """Per seed, the worst pooled variant minus the best unpooled one at ``size``."""
    return [min(acc[size][v][s] for v in POOLED) - max(acc[size][v][s] for v in UNPOOLED) for s in seeds]


def gap(acc: Accuracies, size: int, seeds: Sequence[int]) -> list[float]:
    """Per seed, the best pooled variant minus the best unpooled one at ``size``."""
    return [max(acc[size][v][s] for v in POOLED) - max(acc[size][v][s] for v in UNPOOLED) for s in seeds]


PAPER_RUNS: Accuracies = {size: {v: {0: a} for v, a in row.items()} for size, row in PAPER.items()}


def pooling_claims(acc: Accuracies, applicable: bool = True) -> list[Claim]:
    """Section D's claims, each judged by the one rule on the seeds every variant has at the sizes it needs
    (paired by seed); a claim over all sizes is judged on the measured ones (and says so) or, with none, left
    out. The paper's column is its single run."""
    sizes = _complete(acc)
    seeds = paired_seeds(acc, sizes)
    if not sizes or not seeds:
        return []

    def judged(claim: str, verdict, paper: str) -> Claim:
        return Claim.judged(claim, verdict, paper, applicable)

    note = "" if sizes == list(SIZES) else f" (measured sizes: {', '.join(map(str, sizes))})"
    paper_sizes = list(SIZES)
    worst = [min(worst_margin(acc, size, [s])[0] for size in sizes) for s in seeds]
    paper_worst = {size: worst_margin(PAPER_RUNS, size, [0])[0] for size in paper_sizes}
    claims = [judged("every pooled variant (max, avg, L2) beats both no pooling and stride 2 at every size: per "
                     "seed, the smallest over sizes of the worst pooled minus the best unpooled" + note,
                     compare(worst, 0.0), f"{min(paper_worst.values()):+.1f} (at "
                                          f"{min(paper_worst, key=paper_worst.get)})")]
    if 1000 in sizes:
        claims.append(judged(f"the pooling advantage is large at 1000 examples: best pooled - best unpooled per "
                             f"seed ≥ {GAP_AT_SMALLEST:g} points", compare(gap(acc, 1000, seeds), 0.0,
                                                                       margin=GAP_AT_SMALLEST),
                             f"{gap(PAPER_RUNS, 1000, [0])[0]:+.1f}"))
    if 50000 in sizes:
        claims.append(judged(f"and small at 50000: best pooled - best unpooled per seed ≤ {GAP_AT_LARGEST:g} points",
                             compare(gap(acc, 50000, seeds), 0.0, margin=-GAP_AT_LARGEST, greater=False),
                             f"{gap(PAPER_RUNS, 50000, [0])[0]:+.1f}"))
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        claims.append(judged(f"the advantage shrinks with more data: per seed, the gap at {last} minus the gap at "
                             f"{first}", compare(gap(acc, last, seeds), gap(acc, first, seeds), greater=False),
                             f"{gap(PAPER_RUNS, last, [0])[0] - gap(PAPER_RUNS, first, [0])[0]:+.1f}"))
    for label, group, bands in (("pooled", POOLED, POOLED_BAND), ("unpooled", UNPOOLED, UNPOOLED_BAND)):
        for size, (centre, half) in bands.items():
            if size in sizes:
                claims += [judged(f"{label} variants reach {centre:g} ± {half:g} at {size} examples: {pooling}",
                                  against_paper(column(acc, size, pooling, seeds), centre, precision=half),
                                  f"{PAPER[size][pooling]}") for pooling in group]
    not_worse = [sum(acc[size]["stride_2"][s] <= acc[size]["no_pool"][s] for size in sizes) for s in seeds]
    paper_not_worse = sum(PAPER[s]["stride_2"] <= PAPER[s]["no_pool"] for s in SIZES)
    claims.append(judged(f"stride 2 is no better than no pooling at most sizes: per seed, the sizes where stride_2 ≤ "
                         f"no_pool, more than {len(sizes) / 2:g} of {len(sizes)}" + note,
                         compare(not_worse, 0.0, margin=len(sizes) / 2, digits=0),
                         f"{paper_not_worse} of {len(SIZES)}"))
    largest = SIZES[-1]
    if largest in sizes:
        claims.append(judged(f"at high data max pooling beats L2 pooling: per seed, max_pool - l2_pool at {largest}",
                             compare(column(acc, largest, "max_pool", seeds), column(acc, largest, "l2_pool", seeds)),
                             f"{PAPER[largest]['max_pool'] - PAPER[largest]['l2_pool']:+.1f} "
                             f"({PAPER[largest]['max_pool']} vs {PAPER[largest]['l2_pool']})"))
    return claims


class Pooling(Study):
    """Pooling vs sample efficiency (paper Fig. 7): configs/pooling.yaml, a two-layer conv net (20 channels, k3)
    with no pooling, stride 2, or max / average / L2 pooling after each layer; Adam lr 1e-2, batch 100, the
    reference loop's ordered batches, 6000 steps, test accuracy every 100 steps; the result is the test accuracy
    (%) at step 6000, mean ± sample std over seeds. Each training-set size T is its own generated dataset (seed
    42, num_samples T + 1000, train_split T, so 1000 test examples, as the paper's train_split 1 - 1000/N): the
    `large` variant (51,000 examples, 50,000 / 1,000) with num_samples and train_split changed, T = 50,000 being
    `large` itself. The network's init follows the run's seed (init_seed unset); the paper seeded every
    constructor with torch.manual_seed(0) and ran one run per cell. Every claim is judged by the one rule on
    per-seed values, the variants paired by seed (a seed fixes the init seed and batch order at a size)."""

    name = "pooling"
    title = "Pooling vs sample efficiency (paper Fig. 7)"

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        base = load_config("configs/pooling.yaml")
        runs = []
        # seed-major: a sweep cut short still has every cell of the table with its first seeds
        for seed in seeds:
            for size in QUICK_SIZES if quick else SIZES:
                for pooling in POOLINGS:
                    config = override(base, seed_everything=seed, **{
                        "model.init_args.net.init_args.pooling": pooling,
                        "data.overrides": dataset_overrides(size), **(QUICK if quick else {})})
                    runs.append(fit_run({"pooling": pooling, "size": size, "seed": seed}, config))
        return runs

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        return text + (f" Quick protocol: sizes {', '.join(map(str, QUICK_SIZES))}, 100 steps, evaluation every "
                       "50." if quick else "")

    def table(self, results: Results, quick: bool) -> str:
        acc = accuracies(results)
        lines = [("Test accuracy (%) at the last step: measured mean ± std (n seeds), the paper's single run in "
                  "brackets; then per seed (the seeds every variant has at that size) the worst pooled variant "
                  "minus the best unpooled one, and the best pooled minus the best unpooled."), "",
                 "| train size | " + " | ".join(POOLINGS) + " | worst pooled - best unpooled, per seed | "
                 "best pooled - best unpooled, per seed |", "|---|" + "---|" * (len(POOLINGS) + 2)]
        for size in SIZES:
            cells = [f"{fmt(list(acc.get(size, {}).get(pooling, {}).values()))} ({PAPER[size][pooling]})"
                     for pooling in POOLINGS]
            seeds = paired_seeds(acc, [size]) if size in _complete(acc) else []
            for read in (worst_margin, gap):
                measured = " ".join(f"{v:+.1f}" for v in read(acc, size, seeds)) or "—"
                cells.append(f"{measured} ({read(PAPER_RUNS, size, [0])[0]:+.1f})")
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        return pooling_claims(accuracies(results), not quick)

    def figures(self, results: Results, out: Path) -> list[str]:
        """Final test accuracy against training-set size (mean and seed range per variant), and the test accuracy
        curves over steps at 1000, 5000 and 50000 examples (seed mean, shaded range)."""
        from matplotlib.figure import Figure

        colors = dict(zip(POOLINGS, ("tab:gray", "tab:brown", "tab:blue", "tab:orange", "tab:green")))
        acc = accuracies(results)
        fig = Figure(figsize=(6.5, 4.5))
        ax = fig.subplots()
        for pooling in POOLINGS:
            sizes = [s for s in SIZES if pooling in acc.get(s, {})]
            if not sizes:
                continue
            runs = [list(acc[s][pooling].values()) for s in sizes]
            ax.plot(sizes, [_mean(r) for r in runs], "o-", color=colors[pooling], label=pooling)
            ax.fill_between(sizes, [min(r) for r in runs], [max(r) for r in runs],
                            color=colors[pooling], alpha=0.2)
            ax.plot(SIZES, [PAPER[s][pooling] for s in SIZES], ":", color=colors[pooling], alpha=0.7)
        ax.set(xscale="log", xlabel="training examples", ylabel="test accuracy (%) at the last step",
               title="Pooling vs sample efficiency (solid: measured, band: seed range; dotted: paper)")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right")
        fig.tight_layout()
        save_figure(fig, out / "accuracy_vs_size.png", dpi=120)
        names = ["accuracy_vs_size.png"]

        sizes = [s for s in CURVE_SIZES if results.select(size=s)]
        if sizes:
            fig = Figure(figsize=(4.5 * len(sizes), 4))
            axes = fig.subplots(1, len(sizes), sharey=True, squeeze=False)[0]
            for ax, size in zip(axes, sizes):
                for pooling in POOLINGS:
                    curves = [curve(r["result"], "val/acc") for r in results.select(size=size, pooling=pooling)]
                    if not curves:
                        continue
                    steps = curves[0][0]
                    columns = list(zip(*(c[1] for c in curves)))
                    ax.plot(steps, [_mean(c) for c in columns], color=colors[pooling],
                            label=f"{pooling} (n={len(curves)})")
                    ax.fill_between(steps, [min(c) for c in columns], [max(c) for c in columns],
                                    color=colors[pooling], alpha=0.2)
                ax.set(title=f"{size} training examples", xlabel="training step", ylim=(0, 100))
                ax.grid(alpha=0.3)
                ax.legend(loc="lower right", fontsize=8)
            axes[0].set_ylabel("test accuracy (%)")
            fig.tight_layout()
            save_figure(fig, out / "curves.png", dpi=120)
            names.append("curves.png")
        return names

