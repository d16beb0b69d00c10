"""Table 1 of the paper: four classifiers on MNIST-1D and on its column-shuffled variant, over seeds.

Every run is ``configs/<model>.yaml`` (plus ``configs/shuffled.yaml`` for the shuffled row) with its seed: the
reference protocol, Adam lr 1e-2, batch 100, the reference loop's ordered cycling batches, 6000 steps, accuracy on
the full test and train sets every 250 steps. Each cell is read twice from the same runs: at the last step, and
at the best of the 24 evaluations (the paper's early stopping); each reading is judged against the paper's number.

    python -m experiments run table1            # 4 models x 2 variants x seeds 0 1 2
    python -m experiments run table1 --quick    # 300 steps, seed 0: checks the pipeline
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import save_figure

from .classifiers import NOTEBOOK_SPREAD, TABLE1_PAPER, best_test_acc, best_test_step, curve, final_test_acc
from .runner import Claim, Results, Study
from .runs import Run, fit_run, load_config, override
from .verdicts import HOLDS, against_paper, compare, interval

MODELS = ("logistic", "mlp", "cnn", "gru")
VARIANTS = ("standard", "shuffled")
PAPER = TABLE1_PAPER
READINGS: dict[str, Callable[[dict[str, Any]], float]] = {"last step": final_test_acc,
                                                          "best over the run": best_test_acc}
NO_SPATIAL_PRIOR = ("logistic", "mlp")  # a permutation of the columns is a permutation of their first weights
SHUFFLED_TOLERANCE = 2.0  # points: what shuffling may cost a model without a spatial prior, and must cost one with
QUICK = {"trainer.max_steps": 300, "trainer.val_check_interval": 100}


def paired(results: Results, read: Callable[[dict[str, Any]], float], model: str) -> tuple[list[float], list[float]]:
    """``read`` of the standard and the shuffled runs of ``model``, on the seeds both have, in seed order: the
    same seed gives both the same initialization and batch order, only the column order differs."""
    by_seed = {variant: {r["tags"]["seed"]: read(r["result"]) for r in results.select(model=model, variant=variant)}
               for variant in VARIANTS}
    seeds = sorted(set(by_seed["standard"]) & set(by_seed["shuffled"]))
    return [by_seed["standard"][s] for s in seeds], [by_seed["shuffled"][s] for s in seeds]


def mean_interval(values: Sequence[float]) -> str:
    """``mean [low, high]`` (the 95% t-interval), the single value for one seed, a dash for none."""
    bounds = interval(values)
    if bounds is None:
        return f"{values[0]:.1f} (n=1)" if values else "—"
    mean, low, high = bounds
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


class Table1(Study):
    """Table 1: Adam lr 1e-2, batch 100, the reference loop's ordered batches, 6000 steps, test accuracy (%) every
    250 steps. Each cell is read at the last step and at the best evaluation over the run; the paper's numbers are
    the second reading (the paper selected models by early stopping), and each reading is judged against them by
    the one rule (our seeds' 95% interval against the paper's number ± 0.5). The shuffling claims compare each
    seed's shuffled run with its standard run."""

    name = "table1"
    title = "Table 1: classifiers on MNIST-1D and on shuffled MNIST-1D"

    def __init__(self, max_steps: int | None = None) -> None:
        """``max_steps``: train every run this many steps instead of the protocol's (benches that time the whole
        sweep at a smaller scale); its runs are new runs (their configs differ)."""
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps={max_steps} is invalid: allowed an integer >= 1 or None")
        self.max_steps = max_steps

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        steps = {} if self.max_steps is None else {"trainer.max_steps": self.max_steps}
        runs = []
        for model in MODELS:  # the cheap models first, so a sweep cut short still fills most of the table
            for variant in VARIANTS:
                paths = [f"configs/{model}.yaml"] + (["configs/shuffled.yaml"] if variant == "shuffled" else [])
                base = load_config(*paths)
                for seed in seeds:
                    config = override(base, seed_everything=seed, **{**(QUICK if quick else {}), **steps})
                    runs.append(fit_run({"model": model, "variant": variant, "seed": seed}, config))
        return runs

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        return text + (" Quick protocol: 300 steps, evaluation every 100." if quick else "")

    def table(self, results: Results, quick: bool) -> str:
        lines = ["Test accuracy (%): per seed, and the mean with its 95% interval; the best reading gives the step "
                 "of each seed's best evaluation. The reference notebooks' runs are shown for context only.", "",
                 "| data | model | paper (early stopping) | last step: per seed | last step: mean [95%] | "
                 "best over the run: per seed (step) | best: mean [95%] | reference notebooks' runs |",
                 "|---|---|---|---|---|---|---|---|"]
        for variant in VARIANTS:
            for model in MODELS:
                records = results.select(model=model, variant=variant)
                last = [final_test_acc(r["result"]) for r in records]
                best = [best_test_acc(r["result"]) for r in records]
                steps = [best_test_step(r["result"]) for r in records]
                spread = NOTEBOOK_SPREAD[variant].get(model)
                notebooks = "—" if spread is None else (f"{spread[0]}" if spread[0] == spread[1]
                                                        else f"{spread[0]}-{spread[1]}")
                lines.append(f"| {variant} | {model} | {PAPER[variant][model]} | "
                             f"{' '.join(f'{v:.1f}' for v in last) or '—'} | {mean_interval(last)} | "
                             f"{' '.join(f'{v:.1f} ({s})' for v, s in zip(best, steps)) or '—'} | "
                             f"{mean_interval(best)} | {notebooks} |")
        agree = {reading: [against_paper(results.values(read, model=m, variant=v), PAPER[v][m]).verdict
                           for v in VARIANTS for m in MODELS if results.select(model=m, variant=v)]
                 for reading, read in READINGS.items()}
        if agree["last step"]:
            lines += ["", "Cells whose interval meets the paper's number: " + "; ".join(
                f"{reading} {verdicts.count(HOLDS)} of {len(verdicts)}" for reading, verdicts in agree.items()) + "."]
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        claims = []
        for variant in VARIANTS:
            for model in MODELS:
                paper = PAPER[variant][model]
                for reading, read in READINGS.items():
                    values = results.values(read, model=model, variant=variant)
                    if values:
                        claims.append(Claim.judged(f"{model}, {variant}: test accuracy {paper}% ({reading})",
                                                   against_paper(values, paper), f"{paper} (Table 1)", not quick))
        for model in MODELS:
            paper = f"{PAPER['standard'][model]} -> {PAPER['shuffled'][model]}"
            for reading, read in READINGS.items():
                standard, shuffled = paired(results, read, model)
                if not standard:
                    continue
                if model in NO_SPATIAL_PRIOR:
                    claim = (f"{model}: no spatial prior, so shuffling the columns costs less than "
                             f"{SHUFFLED_TOLERANCE:g} points (shuffled - standard per seed; {reading})")
                    verdict = compare(shuffled, standard, margin=-SHUFFLED_TOLERANCE)
                else:
                    claim = (f"{model}: a spatial prior, so shuffling the columns costs more than "
                             f"{SHUFFLED_TOLERANCE:g} points (standard - shuffled per seed; {reading})")
                    verdict = compare(standard, shuffled, margin=SHUFFLED_TOLERANCE)
                claims.append(Claim.judged(claim, verdict, paper, not quick))
        return claims

    def figures(self, results: Results, out: Path) -> list[str]:
        """Test (solid) and train (dashed) accuracy against steps, one panel per variant, mean over seeds."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 4))
        axes = fig.subplots(1, len(VARIANTS), sharey=True)
        for ax, variant in zip(axes, VARIANTS):
            for color, model in zip(("tab:gray", "tab:orange", "tab:blue", "tab:green"), MODELS):
                records = results.select(model=model, variant=variant)
                if not records:
                    continue
                for metric, style in (("val/acc", "-"), ("train_eval/acc", "--")):
                    curves = [curve(r["result"], metric) for r in records]
                    steps = curves[0][0]
                    mean = [sum(c[1][i] for c in curves) / len(curves) for i in range(len(steps))]
                    ax.plot(steps, mean, style, color=color, alpha=1 if style == "-" else 0.6,
                            label=f"{model} test" if style == "-" else None)
            ax.set(title=f"MNIST-1D, {variant}", xlabel="training step", ylim=(0, 100))
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("accuracy (%)  — solid: test, dashed: train")
        axes[0].legend(loc="lower right")
        fig.tight_layout()
        save_figure(fig, out / "curves.png", dpi=120)
        return ["curves.png"]
