"""The metalearned activation function: its run (stored by the ``metalearning`` study) and how a run that needs it
gets the learned function back. What the ``metalearning`` and ``metalearning_transfer`` studies share, so neither
imports the other.

The run's weights are an artifact, ``activation.pt`` (a state dict of ``LearnedActivation``), kept beside the run
in the store and committed with it: the runs that need the learned function receive it through the runner, and a
user loads it with ``LearnedActivation(weights="results/metalearning/runs/<key>/activation.pt")``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .runs import Output, Run, Upstream, fit_run, load_config, override

STUDY = "metalearning"
TASK = "experiments.learned_activation:meta_activation"
WEIGHTS = "activation.pt"
CONFIG = "configs/metalearn_activation.yaml"
# Quick protocol: a few outer steps of short unrolls.
QUICK = {"trainer.max_steps": 3, "model.init_args.inner_steps": 20, "model.init_args.meta_window": 10}


def activation_config(quick: bool, seed: int = 0) -> dict[str, Any]:
    """The metatraining config of ``seed``: it seeds the inner network's init and noise (``model.init_args.seed``),
    the learned function's init (``activation_init_seed``) and ``seed_everything``; seed 0 is the paper's run."""
    seeds = {"seed_everything": seed, "model.init_args.seed": seed, "model.init_args.activation_init_seed": seed}
    return override(load_config(CONFIG), **seeds, **(QUICK if quick else {}))


def activation_run(quick: bool, seed: int = 0) -> Run:
    """The run that metalearns the activation function with ``seed`` (301 outer steps, 20-30 min on one
    thread), declared as the ``metalearning`` study's wherever it is needed."""
    config = fit_run({}, activation_config(quick, seed)).config
    return Run({"part": "activation", "seed": seed}, config, TASK, study=STUDY)


def learned_activation_args(quick: bool) -> dict[str, Any]:
    """``LearnedActivation``'s shape arguments in the metatraining config (the weights come from the run)."""
    hp = activation_config(quick)["model"]["init_args"]
    return {"hidden_size": hp["activation_hidden"], "scale": hp["activation_scale"], "noise": hp["noise"]}


def meta_activation(config: dict[str, Any], scratch: str | None = None) -> Output:
    """Metalearn the activation (``MetaActivation`` fit through ``tasks.train``): the outer trajectory and the
    learned weights as the result, the weights also as the artifact ``activation.pt``. With ``scratch`` a
    checkpoint is kept there after every outer step, and a run stopped earlier resumes from it."""
    import torch

    from .tasks import train

    model = train(config, checkpoints=Path(scratch) / "checkpoints" if scratch else None).model
    state = {name: value.detach().clone() for name, value in model.activation.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return Output({"history": model.history, "weights": {name: value.tolist() for name, value in state.items()}},
                  {WEIGHTS: buffer.getvalue()})


def learned_weights(upstream: Upstream) -> dict[str, Any]:
    """The state dict of ``LearnedActivation`` that an activation run handed over (its artifact)."""
    import torch

    if WEIGHTS not in upstream.artifacts:
        raise ValueError(f"the activation run handed over {sorted(upstream.artifacts)}: expected {WEIGHTS!r}")
    return torch.load(io.BytesIO(upstream.artifacts[WEIGHTS]), map_location="cpu", weights_only=True)
