"""Tasks: how one run's config becomes a result. ``fit`` serves every study that trains through LightningCLI.

A task is a plain function ``config -> JSON-able dict``, named ``"module:function"`` in a ``Run`` so that any
worker process (or cluster node) can import and call it. Runs execute in-process, never through ``cli.py``.
"""

from __future__ import annotations

import copy
import importlib
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch


class MetricHistory(L.Callback):
    """Every scalar metric after each validation pass and at the end of fit, by global step."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def record(self, trainer: L.Trainer) -> None:
        row = {"step": trainer.global_step}
        for name, value in trainer.callback_metrics.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                row[name] = value.item()
        if self.rows and self.rows[-1]["step"] == row["step"]:
            self.rows[-1] = row  # the end of fit right after a validation pass: one row per step
        else:
            self.rows.append(row)

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.record(trainer)

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.record(trainer)


def resolve(task: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The function a ``"module:function"`` name refers to."""
    module, _, name = task.partition(":")
    if not name:
        raise ValueError(f"task {task!r} is not of the form 'module:function'")
    return getattr(importlib.import_module(module), name)


def build(config: dict[str, Any]):
    """The project's LightningCLI instantiated from a config dict, without running anything and without the
    ``config.yaml`` that LightningCLI would save into the working directory (the store keeps the config). The
    dict is left as given (the parser would turn its callbacks into namespaces in place, and a run's key hashes
    it)."""
    from lightning.pytorch.cli import SaveConfigCallback

    from lightning_modules.cli import build_cli

    for name in ("lightning.pytorch", "lightning.fabric"):  # one line per run is plenty: the progress bar's
        logging.getLogger(name).setLevel(logging.WARNING)
    argv, sys.argv = sys.argv, sys.argv[:1]  # the config is the whole command line: not the driver's options
    try:
        cli = build_cli(copy.deepcopy(config), run=False)
    finally:
        sys.argv = argv
    cli.trainer.callbacks = [c for c in cli.trainer.callbacks if not isinstance(c, SaveConfigCallback)]
    return cli


def train(config: dict[str, Any], callbacks: Sequence[L.Callback] = (), checkpoints: str | Path | None = None):
    """Fit the config's model on its data and return the LightningCLI (its ``model`` trained): the one training
    path of the studies. With ``checkpoints`` (a folder) a checkpoint is kept there after every training step and
    a fit interrupted earlier resumes from it, so a run of hours survives a stopped sweep."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    cli = build(config)
    cli.trainer.callbacks.extend(callbacks)
    resume = None
    if checkpoints is not None:
        cli.trainer.callbacks.append(ModelCheckpoint(dirpath=checkpoints, save_top_k=0, save_last=True,
                                                     every_n_train_steps=1))
        last = Path(checkpoints) / "last.ckpt"
        resume = str(last) if last.is_file() else None
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=resume)
    return cli


def fit(config: dict[str, Any]) -> dict[str, Any]:
    """Train the config's model on its data; the metrics history and the last value of every metric."""
    history = MetricHistory()
    train(config, [history])
    final = {k: v for k, v in history.rows[-1].items() if not (isinstance(v, float) and math.isnan(v))}
    return {"history": history.rows, "final": final}


def fit_population(config: dict[str, Any]) -> dict[str, Any]:
    """``fit`` of a population config (``population_config``): ``{"members": [...]}``, member k's result under a
    single run's names, as ``fit`` of its own config returns it."""
    from lightning_modules.population import member_results

    seeds = config["model"]["init_args"]["seeds"]
    per_seed = member_results(fit(config), seeds)
    return {"members": [per_seed[int(seed)] for seed in seeds]}


# A task whose runs can train as one population names its population form here: a task of the population
# config (``population_config`` of the first member's config, the members' seeds) that returns
# ``{"members": [...]}``, one result per member in seed order.
fit.population = "experiments.tasks:fit_population"  # type: ignore[attr-defined]


def population_task(task: str) -> str | None:
    """The population form of ``task`` (the ``population`` attribute of its function), or None if it has none."""
    return getattr(resolve(task), "population", None)
