"""Deep double descent (paper Fig. 4): test error against model size, with label noise, for two losses.

Four curves, each a sweep of one width over seeds: the MLP with 15% label noise and cross-entropy (the paper's
main curve), the MLP with clean labels, the CNN with 15% label noise, and the MLP with 15% noise trained on the
squared error against one-hot targets (the paper's text: that loss moves the interpolation threshold from about N
to about N*K parameters). Every point is ``configs/double_descent_{mlp,cnn}.yaml`` with one width and one seed.

    python -m experiments run double_descent            # the protocol (see Study's docstring), 2 seeds
    python -m experiments run double_descent --quick    # 3 widths per curve, 1,500 steps, seed 0
    python -m experiments report double_descent
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mnist1d_hf.atomic import save_figure

from .runner import Claim, Results, Study
from .runs import Run, fit_run, load_config, override
from .tasks import build

N_TRAIN, CLASSES = 4000, 10
STEPS = 20_000


@dataclass(frozen=True)
class Curve:
    """One sweep: a config, its width option, the widths, and what changes from the config."""

    name: str
    title: str
    config: str
    width_option: str
    widths: tuple[int, ...]
    overrides: tuple[tuple[str, Any], ...] = ()
    steps: int = STEPS

    def params(self, width: int) -> int:
        """The network's parameter count: n^2 + 52n + 10 (MLP) or 6c^2 + 58c + 10 (CNN)."""
        return mlp_params(width) if self.width_option == "hidden_size" else cnn_params(width)


def mlp_params(n: int) -> int:
    return n * n + 52 * n + 10


def cnn_params(c: int) -> int:
    return 6 * c * c + 58 * c + 10


# the paper's widths: unique(geomspace(2, 300, 20).astype(int)); CNN channels 2..28 step 2, then 30..100 step 5
PAPER_MLP_WIDTHS = (2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300)
PAPER_CNN_CHANNELS = tuple(range(2, 30, 2)) + tuple(range(30, 101, 5))

# The paper's printed test errors (%) and train errors (%), by width.
PAPER_TEST = {
    "mlp_noisy": {2: 69.6, 5: 57.5, 9: 49.0, 12: 50.3, 16: 47.2, 21: 50.8, 27: 50.7, 36: 52.8, 47: 54.05, 61: 54.0,
                  80: 52.1, 104: 50.2, 135: 48.4, 177: 47.9, 230: 46.5, 300: 45.5},
    "mlp_clean": {2: 68.5, 5: 61.4, 9: 49.3, 16: 44.6, 21: 42.6, 27: 41.0, 36: 41.7, 47: 41.0, 61: 41.2, 80: 39.6,
                  104: 38.6, 135: 38.6, 177: 38.1, 230: 37.1, 300: 37.3},
    "cnn_noisy": {2: 61.2, 4: 35.8, 6: 23.9, 8: 22.0, 10: 19.6, 12: 23.7, 14: 27.7, 16: 27.3, 18: 33.8, 20: 32.5,
                  22: 31.3, 24: 32.0, 26: 30.0, 28: 32.5, 30: 29.8, 100: 27.7},
    "mlp_mse": {},
}
PAPER_TRAIN = {"mlp_noisy": {36: 19.0, 47: 5.5}, "mlp_clean": {}, "cnn_noisy": {18: 10.9, 22: 5.5}, "mlp_mse": {}}
PAPER_TEST_LOSS = {"mlp_clean": {9: 1.31, 47: 4.42, 300: 2.34}}
PAPER_CNN_RANGE = ((35, 90), (28.1, 30.5))  # printed as a range only: test error 28.1-30.5% for c = 35..90
# first width with train error 0 in the paper (mlp_clean: "train error 0 from n=47")
PAPER_ZERO_TRAIN = {"mlp_noisy": 61, "mlp_clean": 47, "cnn_noisy": 24}

CLEAN = ("data.overrides", {"label_noise": 0})
MSE = ("model.init_args.loss", "mse")
MLP_CONFIG, CNN_CONFIG = "configs/double_descent_mlp.yaml", "configs/double_descent_cnn.yaml"

# The grid actually run (the study's docstring states every reduction of the paper's grid and why).
CLEAN_WIDTHS = (9, 27, 47, 104, 300)
CNN_CHANNELS = (4, 10, 18, 24)
MSE_WIDTHS = (16, 47, 104, 177, 300, 600)

CURVES = (
    Curve("mlp_noisy", "MLP, 15% label noise, cross-entropy", MLP_CONFIG, "hidden_size", PAPER_MLP_WIDTHS),
    Curve("mlp_clean", "MLP, clean labels, cross-entropy", MLP_CONFIG, "hidden_size", CLEAN_WIDTHS, (CLEAN,)),
    Curve("cnn_noisy", "CNN, 15% label noise, cross-entropy", CNN_CONFIG, "channels", CNN_CHANNELS),
    Curve("mlp_mse", "MLP, 15% label noise, MSE loss", MLP_CONFIG, "hidden_size", MSE_WIDTHS, (MSE,)),
)
CURVE = {curve.name: curve for curve in CURVES}
# After the main curve (run first, in width order), the other curves' points by how much a claim rests on them,
# so a sweep cut short loses the least informative points.
PRIORITY = (("mlp_clean", 47), ("mlp_mse", 177), ("cnn_noisy", 18), ("mlp_clean", 9), ("mlp_clean", 300),
            ("mlp_mse", 600), ("cnn_noisy", 10), ("mlp_mse", 47), ("cnn_noisy", 24), ("mlp_mse", 300),
            ("mlp_mse", 104), ("mlp_clean", 27), ("mlp_clean", 104), ("cnn_noisy", 4), ("mlp_mse", 16))
QUICK_WIDTHS = {"mlp_noisy": (4, 16, 61), "mlp_clean": (4, 16, 61), "cnn_noisy": (4, 12), "mlp_mse": (4, 16, 61)}
QUICK_STEPS = 1500
TASK = "experiments.double_descent:train"
SPLITS = {"val": "val", "train_eval": "train"}  # logged name -> data split (validation is the test split)


def point_config(curve: Curve, width: int, seed: int, steps: int) -> dict[str, Any]:
    """The LightningCLI config of one point: the curve's config with its width, seed and step count; evaluated
    once, after the last step (only the final numbers are the result)."""
    config = override(load_config(curve.config), **dict(curve.overrides), **{
        f"model.init_args.net.init_args.{curve.width_option}": width, "seed_everything": seed, "data.seed": seed,
        "trainer.max_steps": steps, "trainer.val_check_interval": steps})
    return fit_run({}, config).config


# the task ----------------------------------------------------------------------------------------------------
def train(config: dict[str, Any]) -> dict[str, Any]:
    """``experiments.tasks.fit`` of the same config without the trainer's per-step hooks.

    The model, optimizer, data and batch order are the objects LightningCLI builds from the config (after its
    seeding); the loop is the trainer's automatic optimization (zero_grad, loss, backward, step) for
    ``trainer.max_steps`` steps, evaluated on the full test split (``val/*``) and the full, noisy training set
    (``train_eval/*``) every ``trainer.val_check_interval`` steps. For these small networks the trainer's hooks
    cost 1-3x the step itself; tests check that this reproduces ``fit`` exactly. Returns ``fit``'s shape:
    ``{"history": [{"step", "val/loss", "val/error", ...}], "final": <the last row>}``.
    """
    cli = build(config)
    model, data = cli.model, cli.datamodule
    trainer = config["trainer"]
    steps, every = int(trainer["max_steps"]), int(trainer["val_check_interval"])
    data.prepare_data()
    data.setup("fit")
    optimizer = model.configure_optimizers()
    batches = data.train_dataloader()
    iter(batches)  # the trainer's check that the loader is iterable draws (and drops) one epoch's order
    history: list[dict[str, float]] = []
    step = 0
    model.train()
    while step < steps:
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            _loss(model, x, y).backward()
            optimizer.step()
            step += 1
            if step % every == 0 or step == steps:
                history.append({"step": step, **evaluate(model, data)})
                model.train()
            if step == steps:
                break
    return {"history": history, "final": history[-1]}


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from lightning_modules.classifier import classification_loss

    return classification_loss(model(x), y, model.loss)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Any) -> dict[str, float]:
    """Loss, accuracy and error of the model on the whole test and training splits, under ``fit``'s names."""
    from lightning_modules.classifier import classification_loss

    model.eval()
    row = {}
    for logged, split in SPLITS.items():
        x, y = data.split(split)
        logits = model(x)
        error = (logits.argmax(-1) != y).float().mean().item()
        row |= {f"{logged}/loss": classification_loss(logits, y, model.loss).item(),
                f"{logged}/acc": 1 - error, f"{logged}/error": error}
    return row


def run_order(quick: bool) -> list[tuple[str, int]]:
    """(curve, width) in the order they run: the main curve first, then ``PRIORITY``."""
    if quick:
        return [(curve.name, w) for curve in CURVES for w in QUICK_WIDTHS[curve.name]]
    order = [("mlp_noisy", w) for w in CURVE["mlp_noisy"].widths] + list(PRIORITY)
    declared = {(curve.name, w) for curve in CURVES for w in curve.widths}
    if set(order) != declared or len(order) != len(declared):
        raise ValueError(f"PRIORITY does not list every declared point once: {sorted(declared ^ set(order))}")
    return order


class DoubleDescent(Study):
    """PROTOCOL"""

    name = "double_descent"
    title = "Deep double descent (paper Fig. 4): test error against parameter count"
    seeds = (0, 1)
    quick_seeds = (0,)

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        runs = []
        for name, width in run_order(quick):
            curve = CURVE[name]
            for seed in seeds:
                config = point_config(curve, width, seed, QUICK_STEPS if quick else curve.steps)
                runs.append(Run({"curve": name, "width": width, "params": curve.params(width), "seed": seed},
                                config, TASK))
        return runs
