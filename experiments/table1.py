"""Table 1 of the paper: four classifiers on MNIST-1D and on its column-shuffled variant, over seeds.

Every run is ``configs/<model>.yaml`` (plus ``configs/shuffled.yaml`` for the shuffled row) with its seed: the
reference protocol, Adam lr 1e-2, batch 100, the reference loop's ordered cycling batches, 6000 steps, accuracy on
the full test and train sets every 250 steps.

    python -m experiments run table1            # 4 models x 2 variants x seeds 0 1 2
    python -m experiments run table1 --quick    # 300 steps, seed 0: checks the pipeline
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnist1d_hf.atomic import save_figure

from .runner import Claim, Results, Study, fmt, mean_std
from .runs import Run, fit_run, load_config, override

MODELS = ("logistic", "mlp", "cnn", "gru")
VARIANTS = ("standard", "shuffled")
PAPER = {"standard": {"logistic": 32, "mlp": 68, "cnn": 94, "gru": 91},
         "shuffled": {"logistic": 32, "mlp": 68, "cnn": 56, "gru": 57}}
# Where a faithful reproduction should land: the spread of the reference notebooks' own runs (centre, half-width).
TARGETS = {"standard": {"logistic": (31.5, 1.5), "mlp": (65, 3), "cnn": (93, 2.5), "gru": (90.5, 3)},
           "shuffled": {"cnn": (57, 4), "gru": (53, 5)}}
SHUFFLED_TOLERANCE = 2.0  # logistic and MLP have no spatial prior: shuffling may cost them at most this much
QUICK = {"trainer.max_steps": 300, "trainer.val_check_interval": 100}


def final_test_acc(result: dict) -> float:
    return 100 * result["final"]["val/acc"]


def curve(result: dict, metric: str) -> tuple[list[int], list[float]]:
    rows = [r for r in result["history"] if metric in r]
    return [r["step"] for r in rows], [100 * r[metric] for r in rows]


class Table1(Study):
    """Table 1: Adam lr 1e-2, batch 100, the reference loop's ordered batches, 6000 steps; test accuracy (%) of
    the last step, mean ± sample std over seeds, next to the paper's Table 1."""

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
        lines = ["| data | model | measured | paper | target band |", "|---|---|---|---|---|"]
        for variant in VARIANTS:
            for model in MODELS:
                measured = results.values(final_test_acc, model=model, variant=variant)
                band = TARGETS[variant].get(model)
                target = f"{band[0]} ± {band[1]}" if band else f"standard - shuffled ≤ {SHUFFLED_TOLERANCE}"
                lines.append(f"| {variant} | {model} | {fmt(measured)} | {PAPER[variant][model]} | {target} |")
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        claims = []
        for variant in VARIANTS:
            for model in MODELS:
                measured = results.values(final_test_acc, model=model, variant=variant)
                if not measured:
                    continue
                mean = mean_std(measured)[0]
                paper = f"{PAPER[variant][model]}"
                if model in TARGETS[variant]:
                    centre, half = TARGETS[variant][model]
                    claims.append(Claim.check(f"{model}, {variant}: test accuracy in {centre} ± {half}",
                                              f"{mean:.1f}", paper, abs(mean - centre) <= half, not quick))
                else:
                    standard = results.values(final_test_acc, model=model, variant="standard")
                    if standard:
                        gap = mean_std(standard)[0] - mean
                        claims.append(Claim.check(f"{model}: no spatial prior, shuffling costs ≤ "
                                                  f"{SHUFFLED_TOLERANCE} points", f"{gap:+.1f} points", "0",
                                                  abs(gap) <= SHUFFLED_TOLERANCE, not quick))
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
