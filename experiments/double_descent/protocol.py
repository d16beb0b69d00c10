"""The double-descent protocol: the curves (a config, a width axis, the widths, the seeds) and their runs.

Every point is ``configs/double_descent_{mlp,cnn}.yaml`` with one width and one seed S (``seed_everything`` S,
``data.shuffle_seed`` S), trained by ``experiments.tasks:fit`` and evaluated once, after the last step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..runs import FIT, Run, fit_run, load_config, override

N_TRAIN, CLASSES = 4000, 10
STEPS = 20_000
LONG_STEPS = 4 * STEPS  # the MSE curve again at 4x the budget: does the budget explain where it interpolates?
QUICK_STEPS = 200
MLP_CONFIG, CNN_CONFIG = "configs/double_descent_mlp.yaml", "configs/double_descent_cnn.yaml"


def mlp_params(n: int) -> int:
    """Parameters of the 2-hidden-layer MLP of width n: 40n + n^2 + 10n + 3n + 10."""
    return n * n + 52 * n + 10


def cnn_params(c: int) -> int:
    """Parameters of the 3-conv CNN with c channels."""
    return 6 * c * c + 58 * c + 10


@dataclass(frozen=True)
class Curve:
    """One sweep: a config, its width option, the widths, what changes from the config, the budget, and how
    many of the study's seeds it runs (the first ``seed_count``)."""

    name: str
    title: str
    config: str
    width_option: str
    widths: tuple[int, ...]
    overrides: tuple[tuple[str, Any], ...] = ()
    steps: int = STEPS
    seed_count: int = 2

    @property
    def symbol(self) -> str:
        """How a width is written: n (MLP hidden units) or c (CNN channels)."""
        return "n" if self.width_option == "hidden_size" else "c"

    def params(self, width: int) -> int:
        """The network's parameter count at ``width``."""
        return mlp_params(width) if self.width_option == "hidden_size" else cnn_params(width)

    def seeds(self, seeds: Sequence[int]) -> list[int]:
        return list(seeds)[:self.seed_count]


# the paper's widths: unique(geomspace(2, 300, 20).astype(int)); CNN channels 2..28 step 2, then 30..100 step 5
PAPER_MLP_WIDTHS = (2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300)
PAPER_CNN_CHANNELS = tuple(range(2, 30, 2)) + tuple(range(30, 101, 5))
# past c = 30 the paper's curve is a slow decline: a coarser grid keeps its shape at a third of the cost
CNN_CHANNELS = tuple(range(2, 30, 2)) + (30, 35, 50, 70, 100)
MSE_WIDTHS = (16, 47, 104, 177, 300, 600)  # around N (n ~ 40) and N*K (n ~ 176), and past both
MSE_LONG_WIDTHS = (47, 104, 177, 300, 600)

CLEAN = ("data.overrides", {"label_noise": 0})
MSE = ("model.init_args.loss", "mse")

CURVES = (
    Curve("mlp_noisy", "MLP, 15% label noise, cross-entropy", MLP_CONFIG, "hidden_size", PAPER_MLP_WIDTHS,
          seed_count=3),
    Curve("mlp_clean", "MLP, clean labels, cross-entropy", MLP_CONFIG, "hidden_size", PAPER_MLP_WIDTHS, (CLEAN,),
          seed_count=3),
    Curve("cnn_noisy", "CNN, 15% label noise, cross-entropy", CNN_CONFIG, "channels", CNN_CHANNELS, seed_count=3),
    Curve("mlp_mse", "MLP, 15% label noise, MSE loss", MLP_CONFIG, "hidden_size", MSE_WIDTHS, (MSE,)),
    Curve("mlp_mse_long", "MLP, 15% label noise, MSE loss, 80,000 steps", MLP_CONFIG, "hidden_size",
          MSE_LONG_WIDTHS, (MSE,), steps=LONG_STEPS),
)
CURVE = {curve.name: curve for curve in CURVES}
# one point per config the protocol uses (the long MSE curve is the MSE config with more steps): checks the
# pipeline end to end in seconds, judges nothing
QUICK_WIDTHS = {"mlp_noisy": (47,), "mlp_clean": (47,), "cnn_noisy": (4,), "mlp_mse": (47,), "mlp_mse_long": ()}

# Seconds per training step on one thread, fitted to the stored runs' times (20,000 steps): a fixed cost plus a
# cost per parameter (MLP) or per squared channel (CNN). Only the order of a sweep depends on it.
STEP_SECONDS = {"n": (1.7e-3, 2.3e-8), "c": (5.0e-3, 3.0e-6)}


def estimated_seconds(curve: Curve, width: int, steps: int) -> float:
    """A point's expected run time, to run the cheapest points first (a sweep cut short loses the dearest)."""
    fixed, slope = STEP_SECONDS[curve.symbol]
    size = curve.params(width) if curve.symbol == "n" else width * width
    return steps * (fixed + slope * size)


def point_config(curve: Curve, width: int, seed: int, steps: int) -> dict[str, Any]:
    """The LightningCLI config of one point: the curve's config with its width, seed and step count; evaluated
    once, after the last step (only the final numbers are the result)."""
    config = override(load_config(curve.config), **dict(curve.overrides), **{
        f"model.init_args.net.init_args.{curve.width_option}": width, "seed_everything": seed,
        "data.shuffle_seed": seed,
        "trainer.max_steps": steps, "trainer.val_check_interval": steps})
    return fit_run({}, config).config


def points(quick: bool) -> list[tuple[Curve, int, int]]:
    """(curve, width, steps) of every point: the MLP points cheapest first, then the CNN's (whose wide points
    cost the most, and whose time per step the fit, made on c <= 24 only, may underrate)."""
    chosen = [(curve, width, QUICK_STEPS if quick else curve.steps)
              for curve in CURVES for width in (QUICK_WIDTHS[curve.name] if quick else curve.widths)]
    return sorted(chosen, key=lambda point: (point[0].symbol == "c", estimated_seconds(*point)))


def declared_runs(quick: bool, seeds: Sequence[int]) -> list[Run]:
    """Every point's runs, one per seed of its curve, cheapest point first."""
    return [Run({"curve": curve.name, "width": width, "params": curve.params(width), "seed": seed},
                point_config(curve, width, seed, steps), FIT)
            for curve, width, steps in points(quick) for seed in curve.seeds(seeds)]
