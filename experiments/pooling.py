"""Pooling vs sample efficiency (paper Fig. 7): five variants of one small conv net at six training-set sizes.

Every run is ``configs/pooling.yaml`` with its variant, its training-set size and its seed. A size T is its own
generated MNIST-1D dataset (``num_samples`` T + 1000, ``train_split`` T: T training and 1000 test examples), the
`large` variant with those two knobs changed; T = 50,000 is the `large` variant itself.

    python -m experiments run pooling            # 5 variants x 6 sizes x seeds 0 1 2
    python -m experiments run pooling --quick    # 5 variants x 2 sizes, 100 steps, seed 0
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import save_figure

from .runner import Claim, Results, Study, fmt
from .runs import Run, fit_run, load_config, override
from .table1 import curve

VARIANTS = ("no_pool", "stride_2", "max_pool", "avg_pool", "l2_pool")
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
PAPER_RUNS = {size: {variant: [acc] for variant, acc in row.items()} for size, row in PAPER.items()}
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


def final_test_acc(result: dict[str, Any]) -> float:
    return 100 * result["final"]["val/acc"]


Accuracies = dict[int, dict[str, list[float]]]  # size -> variant -> one accuracy per seed


def accuracies(results: Results) -> Accuracies:
    """The measured final test accuracies (%), by size and variant; cells with no run are left out."""
    table: Accuracies = {}
    for size in SIZES:
        for variant in VARIANTS:
            values = results.values(final_test_acc, size=size, variant=variant)
            if values:
                table.setdefault(size, {})[variant] = values
    return table


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _complete(acc: Accuracies) -> list[int]:
    """Sizes at which every variant was measured."""
    return [size for size in SIZES if all(v in acc.get(size, {}) for v in VARIANTS)]


def best(acc: Accuracies, size: int, variants: Sequence[str]) -> tuple[str, float]:
    """The variant of ``variants`` with the highest seed-mean accuracy at ``size``, and that mean."""
    name = max(variants, key=lambda v: _mean(acc[size][v]))
    return name, _mean(acc[size][name])


def pooling_wins(acc: Accuracies, sizes: Sequence[int]) -> tuple[bool | None, str]:
    """Whether every pooled variant beats every unpooled one at every size (None: only the best pooled beats
    the best unpooled everywhere), and the sizes where it does not."""
    losing = [s for s in sizes if min(_mean(acc[s][v]) for v in POOLED) <= max(_mean(acc[s][v]) for v in UNPOOLED)]
    best_losing = [s for s in sizes if best(acc, s, POOLED)[1] <= best(acc, s, UNPOOLED)[1]]
    holds = True if not losing else None if not best_losing else False
    measured = ("every pooled variant beats both unpooled ones at every size" if not losing else
                f"some pooled variant ≤ best unpooled at {', '.join(map(str, losing))}; best pooled ≤ best "
                f"unpooled at {', '.join(map(str, best_losing)) or 'no size'}")
    return holds, measured


def pooling_claims(acc: Accuracies, applicable: bool = True) -> list[Claim]:
    """Section D's claims on seed-mean accuracies; a claim whose sizes were not all measured is judged on the
    measured ones (and says so) or, with none measured, left out."""
    sizes = _complete(acc)
    if not sizes:
        return []
    claims = []
    note = "" if sizes == list(SIZES) else f" (measured sizes: {', '.join(map(str, sizes))})"

    holds, measured = pooling_wins(acc, sizes)
    claims.append(Claim.check("pooling (max, avg or L2) beats both no pooling and stride 2 at every size "
                              "(partly: only the best pooled beats the best unpooled everywhere)",
                              measured + note, pooling_wins(PAPER_RUNS, list(SIZES))[1], holds, applicable))

    gaps = {s: best(acc, s, POOLED)[1] - best(acc, s, UNPOOLED)[1] for s in sizes}
    paper_gaps = {s: max(PAPER[s][v] for v in POOLED) - max(PAPER[s][v] for v in UNPOOLED) for s in SIZES}
    if 1000 in gaps:
        claims.append(Claim.check(f"the pooling advantage is large at 1000 examples: best pooled - best unpooled "
                                  f"≥ {GAP_AT_SMALLEST:g} points", f"{gaps[1000]:+.1f}", f"{paper_gaps[1000]:+.1f}",
                                  gaps[1000] >= GAP_AT_SMALLEST, applicable))
    if 50000 in gaps:
        claims.append(Claim.check(f"and small at 50000: best pooled - best unpooled ≤ {GAP_AT_LARGEST:g} points",
                                  f"{gaps[50000]:+.1f}", f"{paper_gaps[50000]:+.1f}",
                                  gaps[50000] <= GAP_AT_LARGEST, applicable))
    if len(gaps) > 1:
        first, last = sizes[0], sizes[-1]
        claims.append(Claim.check(f"the advantage shrinks with more data (gap at {last} < gap at {first})",
                                  ", ".join(f"{s}: {g:+.1f}" for s, g in gaps.items()),
                                  ", ".join(f"{s}: {paper_gaps[s]:+.1f}" for s in sizes),
                                  gaps[last] < gaps[first], applicable))
    for label, group, bands in (("pooled", POOLED, POOLED_BAND), ("unpooled", UNPOOLED, UNPOOLED_BAND)):
        for size, (centre, half) in bands.items():
            if size not in acc or not all(v in acc[size] for v in group):
                continue
            means = {v: _mean(acc[size][v]) for v in group}
            inside = [abs(m - centre) <= half for m in means.values()]
            group_mean = _mean(list(means.values()))
            holds = True if all(inside) else None if abs(group_mean - centre) <= half else False
            claims.append(Claim.check(f"{label} variants reach {centre:g} ± {half:g} at {size} examples "
                                      "(each variant; partly: only their mean)",
                                      ", ".join(f"{v} {m:.1f}" for v, m in means.items()),
                                      ", ".join(f"{v} {PAPER[size][v]}" for v in group), holds, applicable))
    not_worse = [s for s in sizes if _mean(acc[s]["stride_2"]) <= _mean(acc[s]["no_pool"])]
    paper_not_worse = sum(PAPER[s]["stride_2"] <= PAPER[s]["no_pool"] for s in SIZES)
    claims.append(Claim.check("stride 2 is no better than no pooling at most sizes",
                              f"stride_2 ≤ no_pool at {len(not_worse)} of {len(sizes)} sizes" + note,
                              f"at {paper_not_worse} of {len(SIZES)}", 2 * len(not_worse) > len(sizes), applicable))
    return claims


class Pooling(Study):
    """Pooling vs sample efficiency (paper Fig. 7): configs/pooling.yaml, a two-layer conv net (20 channels, k3)
    with no pooling, stride 2, or max / average / L2 pooling after each layer; Adam lr 1e-2, batch 100, the
    reference loop's ordered batches, 6000 steps, test accuracy every 100 steps; the result is the test accuracy
    (%) at step 6000, mean ± sample std over seeds. Each training-set size T is its own generated dataset (seed
    42, num_samples T + 1000, train_split T, so 1000 test examples, as the paper's train_split 1 - 1000/N): the
    `large` variant (51,000 examples, 50,000 / 1,000) with num_samples and train_split changed, T = 50,000 being
    `large` itself. The network's init follows the run's seed (init_seed unset); the paper seeded every
    constructor with torch.manual_seed(0) and ran one run per cell."""

    name = "pooling"
    title = "Pooling vs sample efficiency (paper Fig. 7)"

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        base = load_config("configs/pooling.yaml")
        runs = []
        # seed-major: a sweep cut short still has every cell of the table with its first seeds
        for seed in seeds:
            for size in QUICK_SIZES if quick else SIZES:
                for variant in VARIANTS:
                    config = override(base, seed_everything=seed, **{
                        "model.init_args.net.init_args.variant": variant,
                        "data.overrides": dataset_overrides(size), **(QUICK if quick else {})})
                    runs.append(fit_run({"variant": variant, "size": size, "seed": seed}, config))
        return runs

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        return text + (f" Quick protocol: sizes {', '.join(map(str, QUICK_SIZES))}, 100 steps, evaluation every "
                       "50." if quick else "")

    def table(self, results: Results, quick: bool) -> str:
        acc = accuracies(results)
        lines = [("Test accuracy (%) at the last step: measured mean ± std (n seeds), the paper's single run in "
                  "brackets."), "", "| train size | " + " | ".join(VARIANTS) + " | best pooled - best unpooled |",
                 "|---|" + "---|" * (len(VARIANTS) + 1)]
        for size in SIZES:
            cells = []
            for variant in VARIANTS:
                cells.append(f"{fmt(acc.get(size, {}).get(variant, []))} ({PAPER[size][variant]})")
            if size in _complete(acc):
                gap = f"{best(acc, size, POOLED)[1] - best(acc, size, UNPOOLED)[1]:+.1f}"
            else:
                gap = "—"
            paper_gap = max(PAPER[size][v] for v in POOLED) - max(PAPER[size][v] for v in UNPOOLED)
            lines.append(f"| {size} | " + " | ".join(cells) + f" | {gap} ({paper_gap:+.1f}) |")
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        return pooling_claims(accuracies(results), not quick)

    def figures(self, results: Results, out: Path) -> list[str]:
        """Final test accuracy against training-set size (mean and seed range per variant), and the test accuracy
        curves over steps at 1000, 5000 and 50000 examples (seed mean, shaded range)."""
        from matplotlib.figure import Figure

        colors = dict(zip(VARIANTS, ("tab:gray", "tab:brown", "tab:blue", "tab:orange", "tab:green")))
        acc = accuracies(results)
        fig = Figure(figsize=(6.5, 4.5))
        ax = fig.subplots()
        for variant in VARIANTS:
            sizes = [s for s in SIZES if variant in acc.get(s, {})]
            if not sizes:
                continue
            means = [_mean(acc[s][variant]) for s in sizes]
            ax.plot(sizes, means, "o-", color=colors[variant], label=variant)
            ax.fill_between(sizes, [min(acc[s][variant]) for s in sizes], [max(acc[s][variant]) for s in sizes],
                            color=colors[variant], alpha=0.2)
            ax.plot(SIZES, [PAPER[s][variant] for s in SIZES], ":", color=colors[variant], alpha=0.7)
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
                for variant in VARIANTS:
                    curves = [curve(r["result"], "val/acc") for r in results.select(size=size, variant=variant)]
                    if not curves:
                        continue
                    steps = curves[0][0]
                    columns = list(zip(*(c[1] for c in curves)))
                    ax.plot(steps, [_mean(c) for c in columns], color=colors[variant],
                            label=f"{variant} (n={len(curves)})")
                    ax.fill_between(steps, [min(c) for c in columns], [max(c) for c in columns],
                                    color=colors[variant], alpha=0.2)
                ax.set(title=f"{size} training examples", xlabel="training step", ylim=(0, 100))
                ax.grid(alpha=0.3)
                ax.legend(loc="lower right", fontsize=8)
            axes[0].set_ylabel("test accuracy (%)")
            fig.tight_layout()
            save_figure(fig, out / "curves.png", dpi=120)
            names.append("curves.png")
        return names

