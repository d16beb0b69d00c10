"""What the metalearning study runs: the learning rate metalearned from two inits per theta0 seed; per seed, the
activation metalearned, then one inner run of its task with each baseline, the reference's hand fit, the learned
function and a least-squares piecewise fit of it (the last two need the activation run: a second stage)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning_modules.meta.reference import REFERENCE_BREAKPOINTS, REFERENCE_PIECES

from ..learned_activation import activation_config, activation_run, learned_activation_args
from ..runs import Run, fit_run, load_config, override

TASKS = "experiments.metalearning.tasks"
INITS = (1.5, 0.15)
BASELINE_NAMES = ("relu", "swish", "elu", "softplus", "tanh", "sigmoid")
LEARNED, FITTED, REFERENCE = "learned", "fitted piecewise", "reference piecewise"
EVALUATED = (*BASELINE_NAMES, REFERENCE, LEARNED, FITTED)
# Quick protocol: a few outer steps of short unrolls.
QUICK_LR = {"trainer.max_steps": 3, "model.init_args.inner_steps": 20}


def learning_rate_run(init_lr: float, seed: int, quick: bool) -> Run:
    """``MetaLearningRate`` from ``init_lr``, the inner network's theta0 from ``seed``."""
    config = override(load_config("configs/metalearn_lr.yaml"),
                      **{"model.init_args.init_lr": init_lr, "model.init_args.theta_seed": seed},
                      **(QUICK_LR if quick else {}))
    return Run({"part": "learning_rate", "init_lr": init_lr, "seed": seed}, fit_run({}, config).config,
               f"{TASKS}:meta_learning_rate")


def evaluation_run(name: str, spec: dict[str, Any], seed: int, quick: bool, needs: tuple[Run, ...] = ()) -> Run:
    """One inner run of the activation task with ``spec``'s activation and the inner hyperparameters (and seed)
    of the activation run of ``seed``."""
    config = activation_config(quick, seed)
    hp = config["model"]["init_args"]
    inner = {"steps": hp["inner_steps"], "batch_size": hp["inner_batch_size"], "hidden_size": hp["hidden_size"],
             "lr": hp["inner_lr"], "decay": hp["decay"], "eps": hp["eps"], "noise": hp["noise"],
             "seed": hp["seed"], "test_rows": hp["test_rows"]}
    return Run({"part": "evaluation", "activation": name, "seed": seed},
               {"data": config["data"], "inner": inner, "activation": spec}, f"{TASKS}:inner_evaluation", needs)


def reference_piecewise_spec() -> dict[str, Any]:
    """The reference's hand-fitted piecewise-linear function."""
    slopes, intercepts = zip(*REFERENCE_PIECES)
    return {"kind": "piecewise", "breakpoints": list(REFERENCE_BREAKPOINTS), "slopes": list(slopes),
            "intercepts": list(intercepts)}


def learned_spec(quick: bool) -> dict[str, Any]:
    """The learned function; its weights come from the activation run it needs."""
    return {"kind": "learned", "init_args": learned_activation_args(quick)}


def fitted_spec(quick: bool) -> dict[str, Any]:
    """A least-squares piecewise-linear fit of the learned function (without noise) over [-5, 5] at the
    reference's breakpoints, computed when the run runs from the weights it is handed."""
    return {"kind": "fitted piecewise", "init_args": learned_activation_args(quick),
            "breakpoints": list(REFERENCE_BREAKPOINTS), "low": -5.0, "high": 5.0, "points": 10_001}


def runs(quick: bool, seeds: Sequence[int]) -> list[Run]:
    """The cheap runs first (so a sweep on one worker stores them within minutes), then per seed the activation
    run (an hour) and the two runs that need it."""
    declared = [learning_rate_run(init, seed, quick) for seed in seeds for init in INITS]
    for seed in seeds:
        declared += [evaluation_run(name, {"kind": "baseline", "name": name}, seed, quick)
                     for name in BASELINE_NAMES]
        declared.append(evaluation_run(REFERENCE, reference_piecewise_spec(), seed, quick))
    for seed in seeds:
        metalearned = activation_run(quick, seed)
        declared += [metalearned, evaluation_run(LEARNED, learned_spec(quick), seed, quick, (metalearned,)),
                     evaluation_run(FITTED, fitted_spec(quick), seed, quick, (metalearned,))]
    return declared
