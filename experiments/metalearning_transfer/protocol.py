"""What the transfer study runs: the Table 1 MLP and CNN (``configs/<model>.yaml``, its seeds) with each baseline
activation and with the learned function of the metalearning study's activation run (seed 0, the paper's), frozen
and without the hidden noise of metatraining. The learned runs need that run: it is the metalearning study's,
declared through ``experiments.learned_activation`` and run into that study's store if it is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..learned_activation import activation_run, learned_activation_args
from ..runs import Run, fit_run, load_config, override

MODELS = ("mlp", "cnn")
BASELINES = ("relu", "elu", "swish", "tanh", "softplus", "sigmoid")  # the paper's, named as lightning_modules.nets
LEARNED = "learned"
ACTIVATIONS = (*BASELINES, LEARNED)
ACTIVATION_PATH = "model.init_args.net.init_args.activation"
QUICK = {"trainer.max_steps": 10, "trainer.val_check_interval": 10}
TASK = "experiments.metalearning_transfer.tasks:transfer_fit"


def learned_activation_config(quick: bool) -> dict[str, Any]:
    """The nets' ``activation`` argument for the learned function, frozen; its weights come from the run it needs."""
    return {"class_path": "lightning_modules.meta.LearnedActivation",
            "init_args": {**learned_activation_args(quick), "trainable": False}}


def transfer_run(model: str, activation: str, seed: int, quick: bool) -> Run:
    """The Table 1 protocol (``configs/<model>.yaml`` with ``seed_everything: seed``) with ``activation``."""
    base = override(load_config(f"configs/{model}.yaml"), seed_everything=seed, **(QUICK if quick else {}))
    tags = {"model": model, "activation": activation, "seed": seed}
    if activation in BASELINES:
        return fit_run(tags, override(base, **{ACTIVATION_PATH: activation}))
    if activation != LEARNED:
        raise ValueError(f"activation={activation!r} is invalid: allowed one of {list(ACTIVATIONS)}")
    config = fit_run({}, override(base, **{ACTIVATION_PATH: learned_activation_config(quick)})).config
    return Run(tags, config, TASK, needs=(activation_run(quick, seed=0),))


def runs(quick: bool, seeds: Sequence[int]) -> list[Run]:
    """Every activation in both models, the cheaper model first."""
    return [transfer_run(model, activation, seed, quick) for model in MODELS for activation in ACTIVATIONS
            for seed in seeds]
