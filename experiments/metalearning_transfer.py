"""The metalearned activation function transferred to the Table 1 MLP and CNN, against relu (paper Sec. 5, Fig. 6).

The paper transferred its learned function to convnets on MNIST and CIFAR-10, which cannot be downloaded here; the
transfer is to MNIST-1D's own Table 1 models instead. The function is the one stored by the ``metalearning``
study's activation run, used frozen (a fixed function, as the paper used it) and deterministic (without the
hidden noise of metatraining); its runs are declared once that run is stored.

    python -m experiments run metalearning_transfer            # relu now; the learned function once it exists
    python -m experiments run metalearning_transfer --quick    # 10 steps (needs `run metalearning --quick`)
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import save_figure

from .metalearning import MetaLearning, learned_spec
from .runner import Claim, Results, Study, fmt, mean_std
from .runs import Run, fit_run, load_config, override

MODELS = ("mlp", "cnn")
ACTIVATIONS = ("relu", "learned")
ACTIVATION_PATH = "model.init_args.net.init_args.activation"
QUICK = {"trainer.max_steps": 10, "trainer.val_check_interval": 10}
# Table 1 (paper) for the relu networks, for orientation only: the paper printed no transfer numbers on MNIST-1D.
PAPER_RELU = {"mlp": 68, "cnn": 94}


def transfer_fit(config: dict[str, Any]) -> dict[str, Any]:
    """A Table 1 fit whose network uses the learned activation: ``config["weights"]`` are written to a temporary
    file that ``LearnedActivation(weights=...)`` loads, so a run's identity is the weights themselves."""
    import torch

    from .tasks import fit

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "activation.pt"
        torch.save({name: torch.tensor(value) for name, value in config["weights"].items()}, path)
        return fit(override(config["cli"], **{f"{ACTIVATION_PATH}.init_args.weights": str(path)}))


def learned_activation_config(weights_spec: dict[str, Any]) -> dict[str, Any]:
    """The ``activation`` argument of the nets: the learned function by class path, frozen."""
    return {"class_path": "lightning_modules.meta.LearnedActivation",
            "init_args": {**weights_spec["init_args"], "trainable": False}}


def transfer_run(model: str, activation: str, seed: int, quick: bool,
                 weights: dict[str, Any] | None = None) -> Run:
    """The Table 1 protocol (``configs/<model>.yaml`` with its seed) with relu or the frozen learned activation."""
    base = override(load_config(f"configs/{model}.yaml"), seed_everything=seed, **(QUICK if quick else {}))
    tags = {"model": model, "activation": activation, "seed": seed}
    if activation == "relu":
        return fit_run(tags, override(base, **{ACTIVATION_PATH: "relu"}))
    if weights is None:
        raise ValueError("activation='learned' needs the learned weights (the metalearning activation run)")
    config = fit_run({}, override(base, **{ACTIVATION_PATH: learned_activation_config(learned_spec(weights, quick))}))
    return Run(tags, {"cli": config.config, "weights": weights}, "experiments.metalearning_transfer:transfer_fit")


def final(result: dict[str, Any], metric: str) -> float:
    return result["final"][metric]


def early_train_loss(result: dict[str, Any], steps: int) -> float:
    """Training-set loss at the first evaluation at or after ``steps`` (the paper: good early in optimization)."""
    rows = [r for r in result["history"] if "train_eval/loss" in r and r["step"] >= steps]
    return rows[0]["train_eval/loss"] if rows else float("nan")


class MetaLearningTransfer(Study):
    """The learned activation of the metalearning study (frozen, without its training noise) against relu in the
    Table 1 MLP and CNN: configs/mlp.yaml and configs/cnn.yaml (Adam lr 1e-2, batch 100, 6000 steps), seeds 0-2;
    final test accuracy and loss, and the training loss early in optimization (step 500). The paper transferred
    to MNIST and CIFAR-10 convnets instead."""

    name = "metalearning_transfer"
    title = "The metalearned activation function in the Table 1 MLP and CNN"
    seeds = (0, 1, 2)
    early_step = 500

    def __init__(self, out: Path | None = None, activation_out: Path | None = None) -> None:
        self.out = out
        self.source = MetaLearning(activation_out)  # the study whose stored activation run gives the weights

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        runs = [transfer_run(model, "relu", seed, quick) for model in MODELS for seed in seeds]
        weights = self.source.learned_weights(quick)
        if weights is not None:  # the cheaper model first, so a sweep cut short still compares something
            runs += [transfer_run(model, "learned", seed, quick, weights) for model in MODELS for seed in seeds]
        return runs

    def table(self, results: Results, quick: bool) -> str:
        early = 10 if quick else self.early_step
        lines = [("| model | activation | test acc (%) | test loss | train loss at step "
                 f"{early} | final train loss | Table 1 (paper, relu) |"), "|---|---|---|---|---|---|---|"]
        for model in MODELS:
            for activation in ACTIVATIONS:
                acc = [100 * v for v in results.values(lambda r: final(r, "val/acc"), model=model,
                                                         activation=activation)]
                loss = results.values(lambda r: final(r, "val/loss"), model=model, activation=activation)
                early_loss = results.values(lambda r: early_train_loss(r, early), model=model,
                                            activation=activation)
                train = results.values(lambda r: final(r, "train_eval/loss"), model=model, activation=activation)
                paper = PAPER_RELU[model] if activation == "relu" else "—"
                lines.append(f"| {model} | {activation} | {fmt(acc)} | {fmt(loss, 3)} | {fmt(early_loss, 3)} | "
                             f"{fmt(train, 1, 'e')} | {paper} |")
        if self.source.learned_weights(quick) is None:
            lines += ["", ("The learned activation is not stored yet (`python -m experiments run metalearning`): "
                          "its transfer runs are not declared.")]
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        return transfer_claims(results, quick, 10 if quick else self.early_step)

    def figures(self, results: Results, out: Path) -> list[str]:
        """Test accuracy and training loss over steps, relu against the learned function, mean over seeds."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 4))
        axes = fig.subplots(1, 2)
        for model, style in zip(MODELS, ("-", "--")):
            for activation, color in zip(ACTIVATIONS, ("tab:gray", "tab:red")):
                records = results.select(model=model, activation=activation)
                if not records:
                    continue
                for ax, metric, scale in ((axes[0], "val/acc", 100), (axes[1], "train_eval/loss", 1)):
                    rows = [[r for r in rec["result"]["history"] if metric in r] for rec in records]
                    length = min(len(r) for r in rows)
                    steps = [row["step"] for row in rows[0][:length]]
                    mean = [scale * sum(r[i][metric] for r in rows) / len(rows) for i in range(length)]
                    ax.plot(steps, mean, style, color=color, label=f"{model}, {activation} (n={len(records)})")
        axes[0].set(xlabel="training step", ylabel="test accuracy (%)", title="Table 1 protocol, test accuracy")
        axes[1].set(xlabel="training step", ylabel="training-set loss", yscale="log", title="training loss")
        for ax in axes:
            ax.grid(alpha=0.3)
        axes[0].legend(loc="lower right")
        fig.tight_layout()
        save_figure(fig, out / "transfer.png", dpi=120)
        return ["transfer.png"]


def transfer_claims(results: Results, quick: bool, early: int) -> list[Claim]:
    """The paper's transfer claims, per model where both activations have runs: "middle of the pack" by final test
    loss (here: within 5 points of relu's test accuracy), and especially low training loss early in optimization
    (here: below relu's at ``early`` steps, seed means)."""
    claims = []
    for model in MODELS:
        acc = {a: [100 * v for v in results.values(lambda r: final(r, "val/acc"), model=model, activation=a)]
               for a in ACTIVATIONS}
        early_loss = {a: results.values(lambda r: early_train_loss(r, early), model=model, activation=a)
                      for a in ACTIVATIONS}
        if not (acc["relu"] and acc["learned"]):
            continue
        gap = mean_std(acc["learned"])[0] - mean_std(acc["relu"])[0]
        claims.append(Claim.check(f"{model}: the learned function is competitive with relu after transfer "
                                  "(test accuracy within 5 points)",
                                  f"learned − relu: {gap:+.1f} points (n={len(acc['learned'])}/{len(acc['relu'])})",
                                  "\"middle of the pack\" by final test loss (MNIST/CIFAR-10 convnets)",
                                  abs(gap) <= 5, not quick))
        learned_early, relu_early = mean_std(early_loss["learned"])[0], mean_std(early_loss["relu"])[0]
        claims.append(Claim.check(f"{model}: lower training loss than relu early in optimization (step {early})",
                                  f"{learned_early:.3f} vs relu {relu_early:.3f}",
                                  "especially good at low training loss early", learned_early < relu_early,
                                  not quick))
    return claims
