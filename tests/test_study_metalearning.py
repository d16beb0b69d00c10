"""The metalearning studies: claim logic on synthetic records (each claim can fail), the frozen learned activation
in the Table 1 networks, the activation run resuming from its scratch folder, and the quick protocol end to end
(one command runs both stages; the transfer study gets the activation run from the metalearning store)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from experiments import runner
from experiments.learned_activation import WEIGHTS, activation_config, activation_run, meta_activation
from experiments.metalearning import MetaLearning
from experiments.metalearning.claims import (
    activation_claims,
    against_direction,
    baseline_claims,
    lr_claims,
    shape_features,
    within,
)
from experiments.metalearning.protocol import BASELINE_NAMES, INITS
from experiments.metalearning.tasks import activation_from_spec
from experiments.metalearning_transfer import MetaLearningTransfer
from experiments.metalearning_transfer.claims import middle_of_the_pack, transfer_claims
from experiments.metalearning_transfer.protocol import BASELINES, transfer_run
from experiments.runner import Results, report, run_study
from experiments.runs import Upstream, override
from experiments.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_JUDGED, compare
from lightning_modules.meta import BASELINES as INNER_BASELINES
from lightning_modules.meta import LearnedActivation, fit_piecewise_linear, reference_piecewise


def lr_history(start: float, end: float, mean_loss: float = 1.716, steps: int = 50) -> list[dict[str, float]]:
    """A rate moving geometrically from ``start`` towards ``end``."""
    rates = [end + (start - end) * 0.8 ** k for k in range(steps + 1)]
    return [{"step": k, "meta/lr": rates[k], "meta/lr_next": rates[k + 1], "meta/mean_inner_loss": mean_loss,
             "meta/final_inner_loss": 1.5} for k in range(steps)]


def verdicts(claims) -> list[str]:
    return [c.verdict for c in claims]


def test_lr_claims_hold_on_converging_trajectories_and_fail_when_they_do_not():
    ends = {0: 0.624, 1: 0.630, 2: 0.615}
    good = {INITS[0]: {s: lr_history(1.5, e) for s, e in ends.items()},
            INITS[1]: {s: lr_history(0.15, e - 0.002) for s, e in ends.items()}}
    assert verdicts(lr_claims(good, applicable=True)) == [HOLDS] * 6
    apart = {INITS[0]: {s: lr_history(1.5, 0.80 + s / 100) for s in ends},
             INITS[1]: {s: lr_history(0.15, 0.60 + s / 100, mean_loss=1.80 + s / 100) for s in ends}}
    assert verdicts(lr_claims(apart, applicable=True))[:5] == [FAILS, HOLDS, FAILS, HOLDS, FAILS]
    bumpy = {init: {s: lr_history(start, 0.62) for s in ends} for init, start in zip(INITS, (1.5, 0.15))}
    for s in ends:
        bumpy[INITS[1]][s][10]["meta/lr"] = 0.9  # a jump up and back down on every seed: not monotone
    assert verdicts(lr_claims(bumpy, applicable=True))[5] == FAILS
    one_seed = {init: {0: runs[0]} for init, runs in good.items()}
    assert set(verdicts(lr_claims(one_seed, applicable=True))) == {INCONCLUSIVE}  # no interval from one seed
    assert all(v.startswith("n/a") for v in verdicts(lr_claims(good, applicable=False)))


def test_against_direction_measures_the_largest_step_the_wrong_way():
    assert against_direction([1.5, 1.2, 1.2 + 5e-5, 0.9], decreasing=True) == pytest.approx(5e-5)
    assert against_direction([1.5, 1.2, 1.3], decreasing=True) == pytest.approx(0.1)
    assert against_direction([0.1, 0.3, 0.5], decreasing=False) == 0.0


def test_within_a_tolerance_needs_the_whole_interval_inside():
    assert within([0.001, 0.002, 0.0015], 0.02, 4).verdict == HOLDS
    assert within([0.05, 0.06, 0.055], 0.02, 4).verdict == FAILS
    assert within([0.0, 0.03, -0.03], 0.02, 4).verdict == INCONCLUSIVE


def curve_of(fn, offset: float = 0.0) -> dict[str, list[float]]:
    x = torch.linspace(-5, 5, 201)
    return {"x": x.tolist(), "y": (fn(x) + offset).tolist()}


def test_shape_features_read_the_reference_fit_and_relu():
    features = shape_features(**curve_of(reference_piecewise()))
    # by hand from the pieces: 0.15x + 0.9 at -2 and -5, 0.2x - 0.85 at 0.15, 1.2x - 1.4 = 0 at 7/6, slope 1.2
    assert features["lobe"] == pytest.approx(0.6, abs=1e-6)
    assert features["left tail"] == pytest.approx(0.15, abs=1e-6)
    assert features["dip"] == pytest.approx(-0.82, abs=1e-6)  # at 0.15: the grid's 0.1 rounds below the break
    assert features["zero crossing"] == pytest.approx(7 / 6, abs=1e-5)
    assert features["slope"] == pytest.approx(1.2, abs=1e-5)
    relu = shape_features(**curve_of(torch.relu))
    assert relu["lobe"] == relu["left tail"] == relu["dip"] == 0 and math.isnan(relu["zero crossing"])


def trajectory(first: float, last: float, steps: int = 301) -> list[dict[str, float]]:
    return [{"step": k, "meta/loss": first + (last - first) * k / (steps - 1), "meta/test_acc": 50.0}
            for k in range(steps)]


def test_activation_claims_judge_the_fall_the_gap_to_relu_and_each_feature_of_the_shape_per_seed():
    seeds = (0, 1, 2)
    histories = {s: trajectory(1.35, 0.80 + s / 100) for s in seeds}
    evaluations = {s: {"learned": {"test_acc": 68.0 + s, "curve": curve_of(reference_piecewise(), (s - 1) / 50)},
                       "relu": {"test_acc": 60.0 - s}} for s in seeds}
    assert verdicts(activation_claims(histories, evaluations, applicable=True)) == [HOLDS] * 7
    flat = {s: trajectory(1.35, 1.10 + s / 100) for s in seeds}
    weak = {s: {"learned": {"test_acc": 61.0 + s / 2, "curve": curve_of(torch.relu, s / 1000)},
                "relu": {"test_acc": 60.0}} for s in seeds}
    assert verdicts(activation_claims(flat, weak, applicable=True)) == [FAILS] * 7
    single = activation_claims({0: histories[0]}, {0: evaluations[0]}, applicable=True)
    assert set(verdicts(single)) == {INCONCLUSIVE}  # one metatraining seed cannot decide


def test_baseline_order_holds_on_the_papers_numbers_and_fails_when_tiers_swap():
    paper_loss = {"relu": 1.337, "swish": 1.368, "elu": 1.474, "softplus": 1.647, "tanh": 1.524, "sigmoid": 1.753}

    def evaluations(loss):
        return {s: {n: {"mean_inner_loss": v + s / 1000, "test_acc": 100 - 30 * v - s / 10} for n, v in loss.items()}
                for s in (0, 1, 2)}

    assert set(BASELINE_NAMES) == set(paper_loss)
    assert verdicts(baseline_claims(evaluations(paper_loss), applicable=True)) == [HOLDS, HOLDS]
    assert verdicts(baseline_claims(evaluations({**paper_loss, "tanh": 1.30}), applicable=True)) == [FAILS, FAILS]


def test_middle_of_the_pack_needs_a_baseline_above_and_one_below():
    def judged(diffs):  # learned − baseline per seed, for each baseline
        return middle_of_the_pack({f"b{k}": compare(d, 0.0, greater=False) for k, d in enumerate(diffs)})

    below, above, unclear = [-1.0, -1.1, -0.9], [1.0, 1.1, 0.9], [-1.0, 1.0, 0.1]
    assert judged([below, above, below]).verdict == HOLDS
    assert judged([below, below, below]).verdict == FAILS  # surely first
    assert judged([above, above]).verdict == FAILS  # surely last
    assert judged([below, unclear]).verdict == INCONCLUSIVE
    assert "rank 2 of 4" in judged([below, above, below]).evidence


def transfer_record(model: str, activation: str, seed: int, loss: float, early_loss: float) -> dict:
    history = [{"step": 250, "train_eval/loss": 2 * early_loss}, {"step": 500, "train_eval/loss": early_loss},
               {"step": 6000, "train_eval/loss": 0.1, "val/acc": 0.9, "val/loss": loss}]
    return {"tags": {"model": model, "activation": activation, "seed": seed},
            "result": {"history": history, "final": history[-1]}}


def test_transfer_claims_rank_the_learned_function_among_the_baselines_per_model():
    records = []
    for seed in (0, 1, 2):
        for k, name in enumerate(BASELINES):  # baseline losses 1.0, 1.2, ... 2.0
            records.append(transfer_record("mlp", name, seed, 1.0 + 0.2 * k + seed / 100, 0.5 + 0.1 * k))
            records.append(transfer_record("cnn", name, seed, 1.0 + 0.2 * k + seed / 100, 0.5 + 0.1 * k))
        records.append(transfer_record("mlp", "learned", seed, 1.5 + seed / 50, 0.3 + seed / 100))  # 4th, lowest
        records.append(transfer_record("cnn", "learned", seed, 0.5 + seed / 50, 0.7 + seed / 100))  # 1st, 3rd
    assert verdicts(transfer_claims(Results(records), applicable=True, early=500)) == [HOLDS, HOLDS, FAILS, FAILS]
    no_baselines = [r for r in records if r["tags"]["activation"] in ("relu", "learned")]
    unjudged = transfer_claims(Results(no_baselines), applicable=True, early=500)  # never a proxy
    assert verdicts(unjudged) == [NOT_JUDGED] * 4 and "elu, swish, tanh, softplus, sigmoid" in unjudged[0].measured


def test_frozen_learned_activation_keeps_its_weights_in_training_and_loads_in_the_table1_config(tmp_path):
    from experiments.tasks import build

    run = transfer_run("mlp", "learned", 0, quick=True)
    assert run.needs == (activation_run(True, 0),) and run.needs[0].study == "metalearning"
    source = LearnedActivation(init_seed=7)
    torch.save(source.state_dict(), tmp_path / "g.pt")
    cli = build(override(run.config, **{
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


def test_activation_specs_name_a_bad_kind_and_a_missing_activation_run():
    with pytest.raises(ValueError, match="kind='nope'"):
        activation_from_spec({"kind": "nope"})
    with pytest.raises(ValueError, match="needs the activation run: got 0"):
        activation_from_spec({"kind": "learned", "init_args": {}})
    assert activation_from_spec({"kind": "baseline", "name": "elu"}) in INNER_BASELINES


def test_the_activation_run_resumes_from_its_scratch_folder_as_if_never_stopped(tmp_path):
    config = override(activation_run(True, 0).config, **{"trainer.max_steps": 2})
    stopped = meta_activation(override(config, **{"trainer.max_steps": 1}), scratch=str(tmp_path / "scratch"))
    checkpoint = tmp_path / "scratch" / "checkpoints" / "last.ckpt"
    state = torch.load(checkpoint, weights_only=False)
    state["meta_history"][0]["from_checkpoint"] = 1.0  # marks the step the resumed run must not recompute
    torch.save(state, checkpoint)
    resumed = meta_activation(config, scratch=str(tmp_path / "scratch"))
    whole = meta_activation(config)
    assert len(stopped.result["history"]) == 1 and resumed.result["history"][0]["from_checkpoint"] == 1.0
    assert resumed.result["history"][1:] == whole.result["history"][1:]
    assert resumed.result["weights"] == whole.result["weights"] and resumed.artifacts == whole.artifacts


def test_quick_protocols_run_in_one_command_each_and_share_the_activation_run(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", tmp_path)  # every study's store, this one's and the one it needs

    class TwoTransferRuns(MetaLearningTransfer):
        """The quick transfer protocol cut to the MLP with relu and the learned function (a fit costs seconds)."""

        def runs(self, quick, seeds):
            return [r for r in super().runs(quick, seeds) if r.tags["model"] == "mlp"
                    and r.tags["activation"] in ("relu", "learned")]

    # the transfer first: the activation run it needs is the metalearning study's, run into that study's store
    assert run_study(TwoTransferRuns(), quick=True, workers=1, progress=False) == {"ran": 3, "skipped": 0}
    meta_store = tmp_path / "metalearning" / "adhoc" / "quick" / "runs"
    (activation,) = [json.loads(p.read_text()) for p in meta_store.glob("*.json")]
    assert activation["tags"] == {"part": "activation", "seed": 0} and activation["artifacts"] == [WEIGHTS]
    assert len(activation["result"]["history"]) == activation_config(True)["trainer"]["max_steps"]
    transfer = [json.loads(p.read_text()) for p in (tmp_path / "metalearning_transfer" / "adhoc" / "quick" /
                                                    "runs").glob("*.json")]
    assert [r["needs"] for r in transfer if r["tags"]["activation"] == "learned"] == [[activation["key"]]]

    # the metalearning study: one command runs both stages, and the activation run is not run again
    study = MetaLearning()
    assert run_study(study, quick=True, workers=1, progress=False) == {"ran": 11, "skipped": 1}
    assert run_study(study, quick=True, workers=1, progress=False) == {"ran": 0, "skipped": 12}
    text = report(study, quick=True)
    assert "not run yet" not in text and "n/a (quick protocol)" in text
    stored = json.loads((tmp_path / "metalearning" / "adhoc" / "quick" / "results.json").read_text())
    assert not stored["missing"] and len(stored["runs"]) == 12
    assert set(stored["figures"]) == {"learning_rate.png", "activation_trajectory.png",
                                      "activation_functions.png", "baselines.png"}
    by_name = {r["tags"].get("activation"): r for r in stored["runs"] if r["tags"]["part"] == "evaluation"}
    assert by_name["learned"]["needs"] == by_name["fitted piecewise"]["needs"] == [activation["key"]]
    fit = by_name["fitted piecewise"]["result"]["fit"]  # computed inside the run from the weights it was handed
    handed = Upstream(activation["result"], {WEIGHTS: (meta_store / activation["key"] / WEIGHTS).read_bytes()})
    spec = by_name["fitted piecewise"]["config"]["activation"]
    refit = fit_piecewise_linear(activation_from_spec({**spec, "kind": "learned"}, (handed,)), spec["breakpoints"])
    assert fit["slopes"] == pytest.approx(refit.slopes.tolist(), abs=1e-6)
    assert fit["intercepts"] == pytest.approx(refit.intercepts.tolist(), abs=1e-6)
    assert report(study, quick=True) == text  # a report depends on the store alone


@pytest.mark.parametrize("study", [MetaLearning(), MetaLearningTransfer()], ids=lambda s: s.name)
def test_every_committed_run_is_a_declared_run_of_the_protocol(study):
    """A change to the protocol's keys would orphan the stored runs (the activation run took hours): every
    committed record must still be a declared run, and the seed-0 activation run keeps its key."""
    from experiments.runs import ROOT

    declared = {run.key: run for run in study.runs(False, study.seeds)}
    stored = [json.loads(p.read_text()) for p in sorted((ROOT / "results" / study.name / "runs").glob("*.json"))]
    assert stored and {r["key"] for r in stored} <= set(declared)
    for record in stored:
        run = declared[record["key"]]
        assert (record["task"], record["config"], record.get("needs", [])) == \
            (run.task, run.config, [needed.key for needed in run.needs])
    assert activation_run(False, 0).key == "4c4e5f69da319bc1"
