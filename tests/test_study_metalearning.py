"""The metalearning studies: claim logic on synthetic records (each claim can fail), the frozen learned activation
in the Table 1 networks, and the quick protocol end to end (activation run, evaluations, transfer)."""

from __future__ import annotations

import json

import pytest
import torch

from experiments.metalearning import (
    BASELINE_NAMES,
    INITS,
    MetaLearning,
    activation_claims,
    baseline_claims,
    is_monotone,
    lr_claims,
    shape_checks,
    tier_order_holds,
)
from experiments.metalearning_transfer import (
    MetaLearningTransfer,
    transfer_claims,
    transfer_run,
)
from experiments.runner import FAILS, HOLDS, PARTLY, Results, report, run_study
from lightning_modules.meta import BASELINES, LearnedActivation, reference_piecewise


def lr_history(start: float, end: float, mean_loss: float = 1.716, steps: int = 50) -> list[dict[str, float]]:
    """A rate moving geometrically from ``start`` towards ``end``."""
    rates = [end + (start - end) * 0.8 ** k for k in range(steps + 1)]
    return [{"step": k, "meta/lr": rates[k], "meta/lr_next": rates[k + 1], "meta/mean_inner_loss": mean_loss,
             "meta/final_inner_loss": 1.5} for k in range(steps)]


def verdicts(claims) -> list[str]:
    return [c.verdict for c in claims]


def test_lr_claims_hold_on_converging_trajectories_and_fail_when_they_do_not():
    good = {INITS[0]: {0: lr_history(1.5, 0.624)}, INITS[1]: {0: lr_history(0.15, 0.620)}}
    assert verdicts(lr_claims(good, quick=False)) == [HOLDS] * 3
    apart = {INITS[0]: {0: lr_history(1.5, 0.66)}, INITS[1]: {0: lr_history(0.15, 0.60, mean_loss=1.80)}}
    assert verdicts(lr_claims(apart, quick=False))[:2] == [FAILS, FAILS]
    overshoot = lr_history(0.15, 0.62)
    overshoot[10]["meta/lr"] = 0.9  # a jump up and back down: not monotone
    bumpy = {INITS[0]: {0: lr_history(1.5, 0.62)}, INITS[1]: {0: overshoot}}
    assert verdicts(lr_claims(bumpy, quick=False))[2] == FAILS
    mixed = {INITS[0]: {0: lr_history(1.5, 0.62), 1: lr_history(1.5, 0.70)},
             INITS[1]: {0: lr_history(0.15, 0.62), 1: lr_history(0.15, 0.62)}}
    assert verdicts(lr_claims(mixed, quick=False))[0] == PARTLY
    assert all(v.startswith("n/a") for v in verdicts(lr_claims(good, quick=True)))


def test_is_monotone_tolerates_rounding_only():
    assert is_monotone([1.5, 1.2, 1.2 + 5e-5, 0.9], decreasing=True)
    assert not is_monotone([1.5, 1.2, 1.3], decreasing=True)
    assert is_monotone([0.1, 0.3, 0.5], decreasing=False)


def curve_of(fn) -> dict[str, list[float]]:
    x = torch.linspace(-5, 5, 201)
    return {"x": x.tolist(), "y": fn(x).tolist()}


def test_shape_checks_accept_the_papers_shape_and_reject_relu_and_elu():
    assert all(shape_checks(**curve_of(reference_piecewise())).values())
    relu = shape_checks(**curve_of(torch.relu))
    assert [name for name, ok in relu.items() if ok] == ["slope in [0.9, 1.5] on [1.5, 3]"]
    assert not any(ok for name, ok in shape_checks(**curve_of(BASELINES["elu"])).items() if "slope" not in name)


def trajectory(first: float, last: float, steps: int = 301) -> list[dict[str, float]]:
    return [{"step": k, "meta/loss": first + (last - first) * k / (steps - 1), "meta/test_acc": 50.0}
            for k in range(steps)]


def test_activation_claims_judge_the_drop_the_gap_to_relu_and_the_shape():
    learned = {"test_acc": 68.0, "curve": curve_of(reference_piecewise())}
    evaluations = {"learned": learned, "relu": {"test_acc": 60.0}}
    assert verdicts(activation_claims(trajectory(1.35, 0.88), evaluations, quick=False)) == [HOLDS] * 3
    weak = {"learned": {"test_acc": 62.0, "curve": curve_of(torch.relu)}, "relu": {"test_acc": 60.0}}
    assert verdicts(activation_claims(trajectory(1.35, 1.10), weak, quick=False)) == [FAILS, FAILS, PARTLY]


def test_baseline_ordering_holds_on_the_papers_numbers_and_fails_when_tiers_swap():
    paper_loss = {"relu": 1.337, "swish": 1.368, "elu": 1.474, "softplus": 1.647, "tanh": 1.524, "sigmoid": 1.753}
    assert tier_order_holds(paper_loss, higher_is_better=False)
    assert not tier_order_holds({**paper_loss, "sigmoid": 1.6}, higher_is_better=False)
    evaluations = {n: {"mean_inner_loss": paper_loss[n], "test_acc": 100 - 30 * paper_loss[n]}
                   for n in BASELINE_NAMES}
    assert verdicts(baseline_claims(evaluations, quick=False)) == [HOLDS, HOLDS]
    evaluations["tanh"] = {"mean_inner_loss": 1.30, "test_acc": 70.0}  # tanh above the relu tier
    assert verdicts(baseline_claims(evaluations, quick=False)) == [FAILS, FAILS]


def transfer_record(model: str, activation: str, acc: float, early_loss: float) -> dict:
    history = [{"step": 250, "train_eval/loss": 2 * early_loss}, {"step": 500, "train_eval/loss": early_loss},
               {"step": 6000, "train_eval/loss": 0.1, "val/acc": acc / 100, "val/loss": 1.0}]
    return {"tags": {"model": model, "activation": activation, "seed": 0},
            "result": {"history": history, "final": history[-1]}}


def test_transfer_claims_compare_with_relu_per_model():
    records = [transfer_record("mlp", "relu", 68, 1.0), transfer_record("mlp", "learned", 66, 0.8),
               transfer_record("cnn", "relu", 94, 0.5), transfer_record("cnn", "learned", 80, 0.7)]
    assert verdicts(transfer_claims(Results(records), quick=False, early=500)) == [HOLDS, HOLDS, FAILS, FAILS]
    assert transfer_claims(Results(records[:1]), quick=False, early=500) == []


def test_frozen_learned_activation_keeps_its_weights_in_training_and_loads_in_the_table1_config(tmp_path):
    from experiments.runs import override
    from experiments.tasks import build

    source = LearnedActivation(init_seed=7)
    weights = {k: v.tolist() for k, v in source.state_dict().items()}
    run = transfer_run("mlp", "learned", 0, quick=True, weights=weights)
    torch.save(source.state_dict(), tmp_path / "g.pt")
    cli = build(override(run.config["cli"], **{
        "model.init_args.net.init_args.activation.init_args.weights": str(tmp_path / "g.pt")}))
    activation = cli.model.net.activation
    assert isinstance(activation, LearnedActivation)
    assert not any(p.requires_grad for p in activation.parameters())
    x = torch.linspace(-4, 4, 33)
    torch.testing.assert_close(activation(x), source(x), rtol=0, atol=0)
    # one optimizer step of the network moves its layers, never the frozen activation
    before = {k: v.clone() for k, v in cli.model.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in cli.model.parameters() if p.requires_grad], lr=0.01)
    loss = torch.nn.functional.cross_entropy(cli.model.net(torch.randn(8, 40)), torch.randint(0, 10, (8,)))
    loss.backward()
    optimizer.step()
    after = cli.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and not any("activation" in k for k in moved)
    assert all(p.requires_grad for p in LearnedActivation().parameters())  # trainable by default, as metatraining


def test_quick_protocol_end_to_end(tmp_path):
    study = MetaLearning(out=tmp_path / "meta")
    first = run_study(study, quick=True, workers=1, out=tmp_path / "meta", progress=False)
    assert first["ran"] == 1 + 2 + 7  # the activation run, both inits (seed 0), six baselines + the hand fit
    second = run_study(study, quick=True, workers=1, out=tmp_path / "meta", progress=False)
    assert second == {"ran": 2, "skipped": 10}  # the learned function and its fit, now that the weights exist
    text = report(study, quick=True, out=tmp_path / "meta")
    assert "| learned |" in text and "not run yet" not in text and "n/a (quick protocol)" in text
    stored = json.loads((tmp_path / "meta" / "results.json").read_text())
    assert not stored["missing"] and len(stored["runs"]) == 12
    assert set(stored["figures"]) == {"learning_rate.png", "activation_trajectory.png",
                                      "activation_functions.png", "baselines.png"}
    activation = next(r for r in stored["runs"] if r["tags"]["part"] == "activation")
    assert len(activation["result"]["history"]) == 3

    transfer = MetaLearningTransfer(out=tmp_path / "transfer", activation_out=tmp_path / "meta")
    counts = run_study(transfer, quick=True, workers=1, out=tmp_path / "transfer", progress=False)
    assert counts == {"ran": 4, "skipped": 0}  # relu and learned, MLP and CNN, seed 0
    text = report(transfer, quick=True, out=tmp_path / "transfer")
    assert "| mlp | learned |" in text and "not stored yet" not in text
    learned = [r for r in json.loads((tmp_path / "transfer" / "results.json").read_text())["runs"]
               if r["tags"]["activation"] == "learned"]
    assert learned and learned[0]["config"]["weights"] == activation["result"]["weights"]


@pytest.mark.parametrize("kind", ["nope"])
def test_unknown_activation_kind_is_named(kind):
    from experiments.metalearning import _activation_from_spec

    with pytest.raises(ValueError, match="kind='nope'"):
        _activation_from_spec({"kind": kind})


def test_a_running_activation_run_is_shown_from_its_checkpoint_and_never_judged(tmp_path, monkeypatch):
    from experiments import metalearning

    history = [{"step": k, "meta/loss": 1.35 - 0.1 * k, "meta/test_acc": 48.0 + 5 * k} for k in range(9)]
    torch.save({"meta_history": history}, tmp_path / "last.ckpt")
    monkeypatch.setattr(metalearning, "checkpoint_path", lambda run: tmp_path / "last.ckpt")
    study = MetaLearning(out=tmp_path)
    text = study.table(Results([]), quick=False)
    assert "**In progress**: 9 of 301 outer steps" in text
    assert "| 8 | 0.550 | 1.058 | 88.0 | 61.8 |" in text and "| 12 | — |" in text
    assert not any("meta-loss" in c.claim for c in study.claims(Results([]), quick=False))
    monkeypatch.setattr(metalearning, "checkpoint_path", lambda run: tmp_path / "missing.ckpt")
    assert "The activation run is not stored yet." in study.table(Results([]), quick=False)
