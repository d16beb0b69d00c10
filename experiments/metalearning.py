"""Metalearning through unrolled training (paper Figs. 5 and 6): a learning rate and an activation function.

Runs: the inner learning rate metalearned from 1.5 and from 0.15 over theta0 seeds; the activation function
metalearned for 301 outer steps; the six baseline activations, the reference's hand-fitted piecewise-linear
function, the learned function and a least-squares piecewise-linear fit of it, each in one inner run of the same
task. The transfer of the learned function to the Table 1 networks is the study ``metalearning_transfer``.

The learned function's evaluations need the activation run's weights, so they are declared once it is stored:

    python -m experiments run metalearning     # learning rates, the activation run (hours), baselines
    python -m experiments run metalearning     # again: the learned function and its piecewise fit evaluated
    python -m experiments run metalearning --quick   # a few outer steps of short unrolls: checks the pipeline

The activation run checkpoints every outer step under ``artifacts/<run key>/checkpoints`` and resumes from there
when the study is run again; its learned weights end in ``artifacts/<run key>/activation.pt``.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import save_figure, write_file

from .runner import Claim, Results, Study, output_dir
from .runs import ROOT, Run, fit_run, load_config, override
from .store import RunStore

MODULE = "experiments.metalearning"
ARTIFACTS = "experiments/results/metalearning/artifacts"  # relative to the checkout
INITS = (1.5, 0.15)
BASELINE_NAMES = ("relu", "swish", "elu", "softplus", "tanh", "sigmoid")

# Section B, printed: the rate after the given outer step, from each init; the converged losses.
PAPER_LR = {1.5: {3: 1.259, 6: 1.044, 9: 0.911, 12: 0.821, 18: 0.721, 27: 0.659, 36: 0.635, 48: 0.6243},
            0.15: {3: 0.491, 6: 0.541, 12: 0.586, 21: 0.609, 30: 0.617, 48: 0.6203}}
PAPER_LR_MEAN_LOSS, PAPER_LR_FINAL_LOSS = 1.716, 1.505
# Section C, printed: meta-loss and test accuracy at outer steps; baselines' mean inner loss and final accuracy.
PAPER_ACTIVATION = {0: (1.352, 48.6), 8: (1.058, 61.8), 12: (0.999, 63.8), 28: (0.980, 65.0), 250: (0.894, 67.6),
                    300: (0.884, 68.4)}
PAPER_BASELINE_LOSS = {"relu": 1.337, "swish": 1.368, "elu": 1.474, "softplus": 1.647, "tanh": 1.524,
                       "sigmoid": 1.753}
PAPER_BASELINE_ACC = {"relu": 59, "swish": 58, "elu": 51, "tanh": 50.5, "softplus": 44, "sigmoid": 35}
PAPER_REFERENCE_PIECEWISE_ACC = 66.4

# Quick protocol: a few outer steps of short unrolls, one seed.
QUICK_LR = {"trainer.max_steps": 3, "model.init_args.inner_steps": 20}
QUICK_ACTIVATION = {"trainer.max_steps": 3, "model.init_args.inner_steps": 20, "model.init_args.meta_window": 10}


# ----------------------------------------------------------------------------------------------------- tasks
def _quiet(config: dict[str, Any]) -> dict[str, Any]:
    """A meta config with no logger, progress bar, summary or checkpoint callbacks (not part of the protocol)."""
    run = fit_run({}, config)
    return run.config


def _fit_meta(config: dict[str, Any], checkpoint_dir: Path | None = None):
    """Build the LightningCLI of a meta config and fit it (resuming from ``checkpoint_dir/last.ckpt`` if there)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from .tasks import build

    cli = build(config)
    ckpt_path = None
    if checkpoint_dir is not None:
        cli.trainer.callbacks.append(ModelCheckpoint(dirpath=checkpoint_dir, save_top_k=0, save_last=True,
                                                     every_n_train_steps=1))
        last = checkpoint_dir / "last.ckpt"
        ckpt_path = str(last) if last.is_file() else None
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=ckpt_path)
    return cli.model


def meta_learning_rate(config: dict[str, Any]) -> dict[str, Any]:
    """One ``MetaLearningRate`` fit: the per-outer-step history (rate used, rate after, losses, gradient)."""
    model = _fit_meta(config)
    return {"history": model.history, "final_lr": model.inner_lr.item()}


def meta_activation(config: dict[str, Any]) -> dict[str, Any]:
    """One ``MetaActivation`` fit (``config["cli"]``): the outer trajectory and the learned weights.

    With ``config["artifacts"]`` (a folder relative to the checkout) the fit checkpoints every outer step to
    ``<artifacts>/<run key>/checkpoints`` and resumes from there, and the learned weights are saved to
    ``<artifacts>/<run key>/activation.pt`` for ``LearnedActivation(weights=...)``.
    """
    import torch

    folder = ROOT / config["artifacts"] / Run({}, config, f"{MODULE}:meta_activation").key \
        if config.get("artifacts") else None
    model = _fit_meta(config["cli"], folder / "checkpoints" if folder is not None else None)
    state = {name: value.detach().clone() for name, value in model.activation.state_dict().items()}
    if folder is not None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_file(folder / "activation.pt", lambda tmp: tmp.write_bytes(buffer.getvalue()))
    return {"history": model.history, "weights": {name: value.tolist() for name, value in state.items()}}


def _activation_from_spec(spec: dict[str, Any]):
    """A baseline name, a piecewise-linear function or a learned activation (weights given as lists)."""
    import torch

    from lightning_modules.meta import LearnedActivation, PiecewiseLinear

    kind = spec["kind"]
    if kind == "baseline":
        return spec["name"]
    if kind == "piecewise":
        return PiecewiseLinear(spec["breakpoints"], spec["slopes"], spec["intercepts"])
    if kind == "learned":
        module = LearnedActivation(**spec.get("init_args", {}))
        module.load_state_dict({k: torch.tensor(v) for k, v in spec["weights"].items()})
        return module
    raise ValueError(f"activation kind={kind!r} is invalid: allowed 'baseline', 'piecewise' or 'learned'")


def inner_evaluation(config: dict[str, Any]) -> dict[str, Any]:
    """One inner run of the activation study's task with a given activation: losses, their mean, test accuracy."""
    import torch

    from lightning_modules.data import MNIST1DDataModule
    from lightning_modules.meta import activation_inner_run
    from lightning_modules.meta.inner import resolve_activation

    data = MNIST1DDataModule(**config["data"])
    data.setup("fit")
    activation = _activation_from_spec(config["activation"])
    run = activation_inner_run(activation, *data.split("train"), *data.split("test"), **config["inner"])
    losses = run.losses.detach()
    with torch.no_grad():
        grid = torch.linspace(-5, 5, 201)
        curve = resolve_activation(activation)(grid).tolist()
    return {"losses": losses.tolist(), "mean_inner_loss": losses.mean().item(),
            "final_inner_loss": losses[-1].item(), "test_acc": run.test_acc,
            "curve": {"x": grid.tolist(), "y": curve}}


# ------------------------------------------------------------------------------------------------------ runs
def learning_rate_run(init_lr: float, seed: int, quick: bool) -> Run:
    config = override(load_config("configs/metalearn_lr.yaml"),
                      **{"model.init_args.init_lr": init_lr, "model.init_args.theta_seed": seed},
                      **(QUICK_LR if quick else {}))
    return Run({"part": "learning_rate", "init_lr": init_lr, "seed": seed}, _quiet(config),
               f"{MODULE}:meta_learning_rate")


def activation_config(quick: bool) -> dict[str, Any]:
    return override(load_config("configs/metalearn_activation.yaml"), **(QUICK_ACTIVATION if quick else {}))


def activation_run(quick: bool) -> Run:
    config = {"cli": _quiet(activation_config(quick)), "artifacts": None if quick else ARTIFACTS}
    return Run({"part": "activation", "seed": 0}, config, f"{MODULE}:meta_activation")


def evaluation_run(name: str, spec: dict[str, Any], quick: bool) -> Run:
    """One inner run of the activation task, with the inner hyperparameters of the activation run."""
    config = activation_config(quick)
    hp = config["model"]["init_args"]
    inner = {"steps": hp["inner_steps"], "batch_size": hp["inner_batch_size"], "hidden_size": hp["hidden_size"],
             "lr": hp["inner_lr"], "decay": hp["decay"], "eps": hp["eps"], "noise": hp["noise"],
             "seed": hp["seed"], "test_rows": hp["test_rows"]}
    return Run({"part": "evaluation", "activation": name},
               {"data": config["data"], "inner": inner, "activation": spec}, f"{MODULE}:inner_evaluation")


def learned_spec(weights: dict[str, Any], quick: bool) -> dict[str, Any]:
    hp = activation_config(quick)["model"]["init_args"]
    return {"kind": "learned", "weights": weights,
            "init_args": {"hidden_size": hp["activation_hidden"], "scale": hp["activation_scale"],
                          "noise": hp["noise"]}}


def reference_piecewise_spec() -> dict[str, Any]:
    from lightning_modules.meta.activations import (
        REFERENCE_BREAKPOINTS,
        REFERENCE_PIECES,
    )

    slopes, intercepts = zip(*REFERENCE_PIECES)
    return {"kind": "piecewise", "breakpoints": list(REFERENCE_BREAKPOINTS), "slopes": list(slopes),
            "intercepts": list(intercepts)}


def fitted_piecewise_spec(weights: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Least squares on the reference's breakpoints, over [-5, 5], of the learned function (without noise)."""
    from lightning_modules.meta import fit_piecewise_linear

    fitted = fit_piecewise_linear(_activation_from_spec(learned_spec(weights, quick)))
    return {"kind": "piecewise", "breakpoints": fitted.breakpoints.tolist(), "slopes": fitted.slopes.tolist(),
            "intercepts": fitted.intercepts.tolist()}


class MetaLearning(Study):
    """Section B: the inner SGD rate of a tanh MLP 40-50-10 (200 steps, batch 50) metalearned by gradient descent
    (rate 0.3, 50 outer steps) on the mean inner loss, from 1.5 and from 0.15, theta0 seeds 0 (the paper's), 1, 2.
    Section C: f(x) = elu(x) + 0.2 g(x) metalearned for 301 outer steps (seed 0) through 301 steps of RMSprop of an
    MLP 40-128-10 on 8000 examples; the six baselines, the reference's hand-fitted piecewise-linear f, the learned f
    and our least-squares piecewise fit of it (the reference's breakpoints), one inner run each (seed 0)."""

    name = "metalearning"
    title = "Metalearning a learning rate and an activation function (paper Figs. 5 and 6)"
    seeds = (0, 1, 2)

    def __init__(self, out: Path | None = None) -> None:
        self.out = out  # where the store is, to find the activation run the dependent runs need

    def learned_weights(self, quick: bool) -> dict[str, Any] | None:
        record = RunStore(output_dir(self, quick, self.out)).get(activation_run(quick))
        return record["result"]["weights"] if record is not None else None

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        runs = [activation_run(quick)]  # the long one first
        runs += [learning_rate_run(init, seed, quick) for seed in seeds for init in INITS]
        runs += [evaluation_run(name, {"kind": "baseline", "name": name}, quick) for name in BASELINE_NAMES]
        runs.append(evaluation_run("reference piecewise", reference_piecewise_spec(), quick))
        weights = self.learned_weights(quick)
        if weights is not None:
            runs.append(evaluation_run("learned", learned_spec(weights, quick), quick))
            runs.append(evaluation_run("fitted piecewise", fitted_piecewise_spec(weights, quick), quick))
        return runs

    # ------------------------------------------------------------------------------------------------ report
    def activation_history(self, results: Results, quick: bool) -> tuple[list[dict[str, float]], bool]:
        """The activation run's outer trajectory and whether it is the stored, finished run; while it runs, the
        trajectory so far from its checkpoint (shown as such, never judged)."""
        stored = results.select(part="activation")
        if stored:
            return stored[0]["result"]["history"], True
        return (checkpoint_history(activation_run(quick)) if not quick else []), False

    def table(self, results: Results, quick: bool) -> str:
        lines = ["## Learning rate (Fig. 5)", "",
                 ("The rate after the update of outer step k (0-based; k + 1 updates), as the reference prints it; seed 0 is "
                 "the paper's theta0."), ""]
        lines += lr_table(results)
        history, finished = self.activation_history(results, quick)
        lines += ["", "## Activation function (Fig. 6)", ""]
        if not history:
            lines.append("The activation run is not stored yet.")
        else:
            steps = 1 + max(int(r["step"]) for r in history)
            if not finished:
                lines += [(f"**In progress**: {steps} of 301 outer steps, read from the run's checkpoint (not a "
                          "stored run; no claim is judged on it)."), ""]
            lines += ["| outer step | meta-loss | paper | test acc (%) | paper |", "|---|---|---|---|---|"]
            by_step = {int(r["step"]): r for r in history}
            for step, (loss, acc) in PAPER_ACTIVATION.items():
                row = by_step.get(step)
                measured = (f"{row['meta/loss']:.3f} | {loss} | {row['meta/test_acc']:.1f} | {acc}" if row else
                            f"— | {loss} | — | {acc}")
                lines.append(f"| {step} | {measured} |")
            if finished and len(history) >= 50:
                last = [r["meta/test_acc"] for r in history[-50:]]
                lines += ["", (f"Test accuracy over the last 50 outer steps: {min(last):.1f}-{max(last):.1f} "
                              "(paper 64.8-69.4).")]
        lines += ["", ("One inner run (301 RMSprop steps, seed 0) per activation: mean inner training loss and "
                      "test accuracy (first 500 test rows) after the run."), "",
                  "| activation | mean inner loss | paper | test acc (%) | paper |", "|---|---|---|---|---|"]
        for name in EVALUATED:
            rows = results.select(part="evaluation", activation=name)
            paper_loss = PAPER_BASELINE_LOSS.get(name, "—")
            paper_acc = PAPER_BASELINE_ACC.get(name, PAPER_REFERENCE_PIECEWISE_ACC if name == "reference piecewise"
                                               else PAPER_ACTIVATION[300][1] if name == "learned" else "—")
            if rows:
                r = rows[0]["result"]
                lines.append(f"| {name} | {r['mean_inner_loss']:.3f} | {paper_loss} | {r['test_acc']:.1f} | "
                             f"{paper_acc} |")
            else:
                lines.append(f"| {name} | not run yet | {paper_loss} | — | {paper_acc} |")
        lines += ["", ("Paper's accuracies for the baselines are read from its plot (approximate); the learned "
                      "function's is the trajectory's last printed value (outer step 300). Ours is one inner run "
                      "with the weights after all 301 updates, with the hidden noise of metatraining; the fitted "
                      "piecewise function is least squares on [-5, 5] at the reference's breakpoints.")]
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        claims = lr_claims(lr_histories(results), quick)
        history, finished = self.activation_history(results, quick)
        evaluations = {name: rows[0]["result"] for name in EVALUATED
                       if (rows := results.select(part="evaluation", activation=name))}
        if finished:
            claims += activation_claims(history, evaluations, quick)
        if all(name in evaluations for name in BASELINE_NAMES):
            claims += baseline_claims(evaluations, quick)
        return claims

    def figures(self, results: Results, out: Path) -> list[str]:
        quick = self.is_quick(results)
        names = [lr_figure(lr_histories(results), out)]
        history, finished = self.activation_history(results, quick)
        if history:
            names.append(trajectory_figure(history, finished, out))
        evaluations = {name: rows[0]["result"] for name in EVALUATED
                       if (rows := results.select(part="evaluation", activation=name))}
        if history and not finished and not quick:  # the function so far, from the running run's checkpoint
            evaluations[f"learned so far (step {len(history)} of 301)"] = {"curve": checkpoint_curve()}
        if evaluations:
            names += [functions_figure(evaluations, out), baselines_figure(evaluations, out)]
        return names

    def is_quick(self, results: Results) -> bool:
        """Whether the records are of the quick protocol (figures are not told)."""
        quick_keys = {run.key for run in self.runs(True, self.quick_seeds)}
        return any(record["key"] in quick_keys for record in results.records)


EVALUATED = (*BASELINE_NAMES, "reference piecewise", "learned", "fitted piecewise")


def checkpoint_path(run: Run) -> Path:
    return ROOT / ARTIFACTS / run.key / "checkpoints" / "last.ckpt"


def checkpoint_curve() -> dict[str, list[float]]:
    """The learned function (without noise) on [-5, 5] with the weights the running activation run checkpointed."""
    import torch

    from lightning_modules.meta import LearnedActivation

    hp = activation_config(False)["model"]["init_args"]
    module = LearnedActivation(hp["activation_hidden"], hp["activation_scale"], hp["noise"],
                               weights=checkpoint_path(activation_run(False)))
    grid = torch.linspace(-5, 5, 201)
    with torch.no_grad():
        return {"x": grid.tolist(), "y": module(grid).tolist()}


def checkpoint_history(run: Run) -> list[dict[str, float]]:
    """The outer steps a still-running activation run has checkpointed (empty if none)."""
    import torch

    path = checkpoint_path(run)
    if not path.is_file():
        return []
    return list(torch.load(path, map_location="cpu", weights_only=False).get("meta_history", []))


# ------------------------------------------------------------------------------------------- learning rate
def lr_histories(results: Results) -> dict[float, dict[int, list[dict[str, float]]]]:
    """``{init_lr: {seed: history}}`` of the stored learning-rate runs."""
    out: dict[float, dict[int, list[dict[str, float]]]] = {}
    for record in results.select(part="learning_rate"):
        out.setdefault(record["tags"]["init_lr"], {})[record["tags"]["seed"]] = record["result"]["history"]
    return out


def rate_after(history: list[dict[str, float]], step: int) -> float:
    """The rate after the update of outer step ``step`` (0-based), as the reference prints it."""
    return history[step]["meta/lr_next"] if step < len(history) else math.nan


def converged(history: list[dict[str, float]]) -> float:
    """The rate after the last outer update."""
    return history[-1]["meta/lr_next"]


def lr_table(results: Results) -> list[str]:
    histories = lr_histories(results)
    lines = ["| init | outer step | seed 0 | paper | seeds 1.. |", "|---|---|---|---|---|"]
    for init, printed in PAPER_LR.items():
        runs = histories.get(init, {})
        for step, paper in printed.items():
            seed0 = f"{rate_after(runs[0], step):.4f}" if 0 in runs else "—"
            others = ", ".join(f"{rate_after(h, step):.4f}" for s, h in sorted(runs.items()) if s != 0) or "—"
            lines.append(f"| {init} | {step} | {seed0} | {paper} | {others} |")
    lines += ["", "| init | seed | converged rate (after 50 updates) | mean inner loss | final inner loss |",
              "|---|---|---|---|---|"]
    for init in INITS:
        for seed, history in sorted(histories.get(init, {}).items()):
            last = history[-1]
            lines.append(f"| {init} | {seed} | {converged(history):.4f} | {last['meta/mean_inner_loss']:.4f} | "
                         f"{last['meta/final_inner_loss']:.4f} |")
    lines.append(f"| paper | 0 | 0.6243 / 0.6203 | {PAPER_LR_MEAN_LOSS} | ~{PAPER_LR_FINAL_LOSS} |")
    return lines


def _verdict(oks: list[bool]) -> bool | None:
    """All seeds: holds; some: partly (None); none: does not hold."""
    return True if all(oks) else None if any(oks) else False


def lr_claims(histories: dict[float, dict[int, list[dict[str, float]]]], quick: bool) -> list[Claim]:
    """Section B's claims, judged on every theta0 seed that has both inits."""
    seeds = sorted(set(histories.get(INITS[0], {})) & set(histories.get(INITS[1], {})))
    if not seeds:
        return []
    high = {s: histories[INITS[0]][s] for s in seeds}
    low = {s: histories[INITS[1]][s] for s in seeds}
    rates = {s: (converged(high[s]), converged(low[s])) for s in seeds}
    same = [abs(a - 0.62) <= 0.05 and abs(b - 0.62) <= 0.05 and abs(a - b) <= 0.02 for a, b in rates.values()]
    losses = {s: (high[s][-1]["meta/mean_inner_loss"], low[s][-1]["meta/mean_inner_loss"]) for s in seeds}
    near = [all(abs(v - PAPER_LR_MEAN_LOSS) <= 0.02 for v in pair) for pair in losses.values()]
    monotone = [is_monotone([r["meta/lr"] for r in high[s]] + [converged(high[s])], decreasing=True) and
                is_monotone([r["meta/lr"] for r in low[s]] + [converged(low[s])], decreasing=False) for s in seeds]
    seed_list = ", ".join(map(str, seeds))
    return [
        Claim.check("both inits converge to the same rate, 0.62 ± 0.05, within 0.02 of each other",
                    "; ".join(f"seed {s}: {a:.4f} / {b:.4f}" for s, (a, b) in rates.items()),
                    "0.6243 / 0.6203", _verdict(same), not quick),
        Claim.check("mean inner loss at convergence 1.716 ± 0.02",
                    "; ".join(f"seed {s}: {a:.4f} / {b:.4f}" for s, (a, b) in losses.items()),
                    f"{PAPER_LR_MEAN_LOSS}", _verdict(near), not quick),
        Claim.check("monotone approach from above (1.5) and from below (0.15)",
                    f"seeds {seed_list}: " + ", ".join("yes" if ok else "no" for ok in monotone),
                    "monotone (Fig. 5)", _verdict(monotone), not quick),
    ]


def is_monotone(values: Sequence[float], decreasing: bool, tolerance: float = 1e-4) -> bool:
    """Non-increasing (or non-decreasing) up to ``tolerance`` per step."""
    sign = -1 if decreasing else 1
    return all(sign * (b - a) >= -tolerance for a, b in itertools.pairwise(values))


# --------------------------------------------------------------------------------------------- activation
def activation_claims(history: list[dict[str, float]], evaluations: dict[str, dict[str, Any]],
                      quick: bool) -> list[Claim]:
    """Section C's claims on the finished outer trajectory and the inner runs of the learned function."""
    first = history[0]["meta/loss"]
    tail = sorted(r["meta/loss"] for r in history[-50:])
    median = tail[len(tail) // 2]
    drop = 1 - median / first
    claims = [Claim.check("the meta-loss falls by ≥ 30% from its initial value (median of the last 50 outer "
                          "steps, the meta-loss spikes)",
                          f"{first:.3f} → {median:.3f} ({100 * drop:.1f}%)", "1.352 → 0.884 (34.6%)",
                          drop >= 0.30, not quick)]
    learned = evaluations.get("learned")
    relu = evaluations.get("relu")
    if learned and relu:
        gap = learned["test_acc"] - relu["test_acc"]
        claims.append(Claim.check("the learned activation beats relu on the inner task by ≥ 5 points",
                                  f"{learned['test_acc']:.1f} vs {relu['test_acc']:.1f} ({gap:+.1f})",
                                  "68.4 vs ~59", gap >= 5, not quick))
        checks = shape_checks(learned["curve"]["x"], learned["curve"]["y"])
        passed = [name for name, ok in checks.items() if ok]
        claims.append(Claim.check("its shape: a positive lobe near x = -2, a dip below zero over x = 0..0.6, a zero "
                                  "crossing near 1.1-1.2, slope about 1.2 beyond",
                                  f"{len(passed)} of {len(checks)} features: "
                                  + ", ".join(f"{n} {'yes' if ok else 'no'}" for n, ok in checks.items()),
                                  "lobe +0.6, min -0.85, crossing 1.1-1.2, slope 1.2",
                                  _verdict(list(checks.values())), not quick))
    return claims


def shape_checks(x: Sequence[float], y: Sequence[float]) -> dict[str, bool]:
    """The qualitative features of the paper's learned function, each with a generous band."""
    points = list(zip(x, y))
    lobe = max((v for u, v in points if -3 <= u <= -1), default=math.nan)
    dip = [(v, u) for u, v in points if -0.5 <= u <= 1.0]
    dip_value, dip_at = min(dip) if dip else (math.nan, math.nan)
    crossing = next((u for (u, v), (_, w) in itertools.pairwise(points) if 0 <= u <= 3 and v < 0 <= w), math.nan)
    right = [(u, v) for u, v in points if 1.5 <= u <= 3.0]
    slope = (right[-1][1] - right[0][1]) / (right[-1][0] - right[0][0]) if len(right) > 1 else math.nan
    return {"lobe ≥ 0.3 on [-3, -1]": lobe >= 0.3,
            "dip ≤ -0.4 with its minimum in [-0.25, 0.8]": dip_value <= -0.4 and -0.25 <= dip_at <= 0.8,
            "zero crossing in [0.8, 1.5]": 0.8 <= crossing <= 1.5,
            "slope in [0.9, 1.5] on [1.5, 3]": 0.9 <= slope <= 1.5}


TIERS = (("relu", "swish"), ("elu", "tanh"), ("softplus",), ("sigmoid",))


def tier_order_holds(score: dict[str, float], higher_is_better: bool) -> bool:
    """Every member of a tier is better than every member of the next (``~`` within a tier is not judged)."""
    sign = 1 if higher_is_better else -1
    return all(min(sign * score[a] for a in upper) > max(sign * score[b] for b in lower)
               for upper, lower in itertools.pairwise(TIERS))


def baseline_claims(evaluations: dict[str, dict[str, Any]], quick: bool) -> list[Claim]:
    loss = {name: evaluations[name]["mean_inner_loss"] for name in BASELINE_NAMES}
    acc = {name: evaluations[name]["test_acc"] for name in BASELINE_NAMES}
    order = " relu ~ swish > elu ~ tanh > softplus > sigmoid"
    return [
        Claim.check("baseline ordering by mean inner loss:" + order,
                    ", ".join(f"{n} {v:.3f}" for n, v in sorted(loss.items(), key=lambda kv: kv[1])),
                    ", ".join(f"{n} {v}" for n, v in PAPER_BASELINE_LOSS.items()),
                    tier_order_holds(loss, higher_is_better=False), not quick),
        Claim.check("baseline ordering by final test accuracy:" + order,
                    ", ".join(f"{n} {v:.1f}" for n, v in sorted(acc.items(), key=lambda kv: -kv[1])),
                    ", ".join(f"{n} ~{v}" for n, v in PAPER_BASELINE_ACC.items()),
                    tier_order_holds(acc, higher_is_better=True), not quick),
    ]


# ------------------------------------------------------------------------------------------------ figures
def lr_figure(histories: dict[float, dict[int, list[dict[str, float]]]], out: Path) -> str:
    """Fig. 5 style: the rate over outer steps from both inits, every seed, the paper's printed points."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for init, color in zip(INITS, ("tab:blue", "tab:orange")):
        for seed, history in sorted(histories.get(init, {}).items()):
            rates = [r["meta/lr"] for r in history] + [converged(history)]
            ax.plot(range(len(rates)), rates, color=color, lw=2 if seed == 0 else 1, alpha=1 if seed == 0 else 0.5,
                    label=f"from {init}, theta0 seed {seed}")
        ax.plot([k + 1 for k in PAPER_LR[init]], list(PAPER_LR[init].values()), "k.", ms=8,
                label="paper (printed)" if init == INITS[0] else None)
    ax.set(xlabel="outer updates", ylabel="inner learning rate", title="Metalearning the learning rate (Fig. 5)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "learning_rate.png", dpi=120)
    return "learning_rate.png"


def trajectory_figure(history: list[dict[str, float]], finished: bool, out: Path) -> str:
    """Fig. 6 style: meta-loss and test accuracy over outer steps, the paper's printed points."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 3)
    steps = [r["step"] for r in history]
    for ax, key, index, label in ((axes[0], "meta/loss", 0, "meta-loss"), (axes[1], "meta/test_acc", 1,
                                                                          "test accuracy (%)")):
        ax.plot(steps, [r[key] for r in history], color="tab:blue", lw=1, label="measured")
        ax.plot(list(PAPER_ACTIVATION), [v[index] for v in PAPER_ACTIVATION.values()], "k.", ms=8, label="paper")
        ax.set(xlabel="outer step", ylabel=label, xlim=(0, 301))
        ax.grid(alpha=0.3)
        ax.legend()
    axes[2].semilogy(steps, [r["meta/grad_norm_raw"] for r in history], lw=1, label="before clipping")
    axes[2].semilogy(steps, [r["meta/grad_norm"] for r in history], lw=1, label="clipped (applied)")
    axes[2].set(xlabel="outer step", ylabel="meta-gradient norm", xlim=(0, 301))
    axes[2].grid(alpha=0.3)
    axes[2].legend()
    state = "" if finished else f" (in progress: {len(history)} of 301 steps)"
    fig.suptitle("Metalearning an activation function (Fig. 6)" + state)
    fig.tight_layout()
    save_figure(fig, out / "activation_trajectory.png", dpi=120)
    return "activation_trajectory.png"


def functions_figure(evaluations: dict[str, dict[str, Any]], out: Path) -> str:
    """The learned function beside elu and relu, and the two piecewise-linear fits."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    styles = {"relu": ("tab:gray", "--"), "elu": ("tab:green", "-"), "learned": ("tab:red", "-"),
              "reference piecewise": ("k", ":"), "fitted piecewise": ("tab:purple", "--")}
    styles |= {name: ("tab:red", "-.") for name in evaluations if name.startswith("learned so far")}
    for name, (color, style) in styles.items():
        if name in evaluations:
            curve = evaluations[name]["curve"]
            ax.plot(curve["x"], curve["y"], style, color=color, lw=2 if "learned" in name else 1.2, label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="x", ylabel="f(x)", xlim=(-5, 5), ylim=(-1.5, 4), title="Learned activation (Fig. 6)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "activation_functions.png", dpi=120)
    return "activation_functions.png"


def baselines_figure(evaluations: dict[str, dict[str, Any]], out: Path) -> str:
    """Test accuracy of one inner run per activation, measured beside the paper's."""
    from matplotlib.figure import Figure

    names = [n for n in EVALUATED if n in evaluations and "test_acc" in evaluations[n]]
    paper = {**PAPER_BASELINE_ACC, "reference piecewise": PAPER_REFERENCE_PIECEWISE_ACC,
             "learned": PAPER_ACTIVATION[300][1]}
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.bar(range(len(names)), [evaluations[n]["test_acc"] for n in names], color="tab:blue", label="measured")
    ax.plot([i for i, n in enumerate(names) if n in paper], [paper[n] for n in names if n in paper], "k_", ms=20,
            mew=2, label="paper")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set(ylabel="test accuracy (%) after one inner run", title="Activations on the inner task (Fig. 6)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "baselines.png", dpi=120)
    return "baselines.png"
