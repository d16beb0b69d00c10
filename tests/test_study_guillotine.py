"""The guillotine study: its runs, its claims by the one rule on synthetic records (each can hold, fail and stay
inconclusive), the collapse rule, and the quick form end to end."""

import json

import pytest

from experiments.guillotine import PAPER, Guillotine, collapsed, peak, train_and_evaluate
from experiments.runner import Results, report, run_study
from experiments.verdicts import FAILS, HOLDS, INCONCLUSIVE

LAYERS = {"default": ["input", "conv1", "conv2", "conv3", "projector_hidden1", "projector_output"],
          "no_projector": ["input", "conv1", "conv2", "conv3"],
          "deep_projector": ["input", "conv1", "conv2", "conv3", "projector_hidden1", "projector_hidden2",
                             "projector_hidden3", "projector_output"]}


def record(variant, seed, accuracy, knn=74.0, dead=None):
    """A stored record as the runner keeps it, with accuracies given in percent."""
    dead = dead if dead is not None else [0.0] * len(accuracy)
    return {"tags": {"variant": variant, "seed": seed},
            "result": {"layers": LAYERS[variant], "linear": [a / 100 for a in accuracy], "dead": dead,
                       "knn": knn / 100, "train_seconds": 60.0}}


def paper_like(seeds=(0, 1, 2)):
    """Every variant at the paper's numbers, in every seed."""
    return [record(v, s, PAPER[v]) for s in seeds for v in PAPER]


def claim(records, starts, quick=False):
    [found] = [c for c in Guillotine().claims(Results(records), quick) if c.claim.startswith(starts)]
    return found


def test_runs_are_seed_major_with_the_seed_in_training_and_data():
    runs = Guillotine().runs(False, [0, 1])
    assert [(r.tags["seed"], r.tags["variant"]) for r in runs] == [
        (0, "default"), (0, "no_projector"), (0, "deep_projector"),
        (1, "default"), (1, "no_projector"), (1, "deep_projector")]
    for run in runs:
        config = run.config
        assert config["seed_everything"] == config["data"]["shuffle_seed"] == run.tags["seed"]
        assert config["trainer"]["max_epochs"] == 200 and config["trainer"]["logger"] is False
        assert config["model"]["init_args"]["evaluate_at_fit_end"] is False  # evaluated once, by the task
        assert config["model"]["init_args"]["lr"] == 0.01 and config["data"]["batch_size"] == 100
        assert run.task == "experiments.guillotine:train_and_evaluate"
    dims = [r.config["model"]["init_args"]["projector_dims"] for r in runs[:3]]
    assert dims == [[125, 16], [], [125, 125, 125, 16]]
    assert Guillotine.seeds == tuple(range(8))
    assert len({r.key for r in runs}) == 6
    assert all("probe_max_iter" not in r.config["model"]["init_args"] for r in runs)  # the converged default
    assert {r.config["model"]["init_args"]["probe_max_iter"] for r in Guillotine().runs(True, [0])} == {50}


def test_paper_numbers_in_every_seed_make_every_claim_hold():
    claims = Guillotine().claims(Results(paper_like()), quick=False)
    assert len(claims) == 9
    assert all(c.verdict == HOLDS for c in claims), [(c.claim, c.verdict) for c in claims]
    assert all("n=3" in c.measured for c in claims)


def test_quick_marks_every_claim_not_applicable():
    assert all(c.verdict.startswith("n/a") for c in Guillotine().claims(Results(paper_like()), quick=True))


def test_default_peak_is_inconclusive_when_one_seed_peaks_elsewhere_and_fails_when_every_seed_does():
    elsewhere = [32.8, 75.0, 84.0, 82.0, 76.0, 75.0]
    found = claim(paper_like() + [record("default", 3, elsewhere)], "default: linear accuracy peaks at layer 3")
    assert found.verdict == INCONCLUSIVE and "+1.2 +1.2 +1.2 -2.0" in found.measured
    every = [record("default", s, elsewhere) for s in range(3)]
    assert claim(every, "default: linear accuracy peaks at layer 3").verdict == FAILS


def test_projector_drop_fails_below_four_points():
    flat = [record("default", s, [32.8, 75.1, 80.9, 82.1, 80.0, 79.0]) for s in range(3)]
    found = claim(flat, "default: the loss layer lies ≥ 4 points below layer 3")
    assert found.verdict == FAILS and found.measured.startswith("+3.1 [+3.1, +3.1]")


def test_knn_is_our_interval_against_the_papers_74():
    def knn_verdict(values):
        records = [record("default", s, PAPER["default"], knn=k) for s, k in enumerate(values)]
        return claim(records, "default projector: kNN").verdict

    assert knn_verdict([72.0, 73.5, 76.0]) == HOLDS
    assert knn_verdict([60.0, 62.0, 65.0]) == FAILS
    assert knn_verdict([74.0]) == INCONCLUSIVE


def test_a_collapsed_run_is_shown_and_left_out_of_the_shape_claims_only():
    learned_nothing = [32.8, 78.0, 60.0, 55.0, 50.0, 45.0, 40.0, 38.0]  # the loss layer 5.2 points above the input
    assert collapsed(record("deep_projector", 3, learned_nothing)["result"])
    assert not collapsed(record("deep_projector", 0, PAPER["deep_projector"])["result"])
    records = paper_like() + [record("deep_projector", 3, learned_nothing)]
    found = claim(records, "deep projector: linear accuracy peaks at layer 2")
    assert found.verdict == HOLDS and "seeds 0, 1, 2 (collapsed, left out: 3)" in found.claim
    assert "n=3 paired" in found.measured
    assert "+5.2 **collapsed**" in Guillotine().table(Results(records), quick=False)


def test_deep_projector_shape_follows_the_kept_seeds():
    early = [32.8, 78.0, 60.0, 55.0, 50.0, 48.0, 46.0, 45.0]  # conv2 and conv3 lost, the run not collapsed
    assert not collapsed(record("deep_projector", 3, early)["result"])
    mixed = paper_like() + [record("deep_projector", 3, early)]
    assert claim(mixed, "deep projector: linear accuracy peaks").verdict == INCONCLUSIVE
    mostly_early = [record("deep_projector", s, early) for s in range(3)]
    found = claim(mostly_early, "deep projector: linear accuracy peaks")
    assert found.verdict == FAILS and "per seed -18.0 -18.0 -18.0" in found.measured


def test_no_projector_shape_needs_the_loss_layer_well_below_the_peak():
    shallow_drop = [record("no_projector", s, [32.8, 82.2, 80.0, 78.0]) for s in range(3)]
    assert claim(shallow_drop, "no projector: the loss layer lies ≥ 14.4 points below layer 1").verdict == FAILS
    assert claim(shallow_drop, "no projector: linear accuracy peaks at layer 1").verdict == HOLDS


def test_peak_skips_the_input():
    assert peak([90.0, 10.0, 20.0, 15.0]) == 2
    assert peak([0.0, 5.0, 5.0]) == 1  # the first on a tie


def test_table_reports_medians_ranges_dead_units_and_the_dead_unit_correlation():
    records = paper_like()
    for s, (dead, acc) in enumerate([(0.0, 82.0), (0.5, 60.0), (0.9, 40.0)]):
        curve = PAPER["deep_projector"][:2] + [acc, acc] + PAPER["deep_projector"][4:]
        records.append(record("deep_projector", 10 + s, curve, dead=[0.0, 0.0, dead, dead, 0, 0, 0, 0]))
    records[-1]["result"]["history"] = [{"step": 400, "val/dead_fraction/conv2": 0.8,
                                         "val/dead_fraction/conv3": 0.6}]
    text = Guillotine().table(Results(records), quick=False)
    assert "| 3 | 82.1 [82.1, 82.1] (conv3) | 82.1 |" in text
    assert "Pearson r = -1.00" in text
    assert "seed 12: 90% dead (70% at the first validation), 40.0%" in text
    assert "| deep_projector |" in text and "| 2 |" in text


def test_the_task_refuses_to_evaluate_twice():
    config = Guillotine().runs(True, [0])[0].config
    config["model"]["init_args"]["evaluate_at_fit_end"] = True
    with pytest.raises(ValueError, match="evaluate_at_fit_end"):
        train_and_evaluate(config)


def test_quick_form_end_to_end(tmp_path):
    study = Guillotine()
    assert run_study(study, quick=True, workers=1, out=tmp_path, progress=False) == {"ran": 3, "skipped": 0}
    text = report(study, quick=True, out=tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["tags"]["variant"] for r in results["runs"]] == ["default", "no_projector", "deep_projector"]
    for stored in results["runs"]:
        result = stored["result"]
        assert result["layers"] == LAYERS[stored["tags"]["variant"]]
        assert len(result["linear"]) == len(result["dead"]) == len(result["online_probe"]) == len(result["layers"])
        assert all(0.0 <= a <= 1.0 for a in result["linear"] + result["dead"])
        assert 0.15 < result["linear"][0] < 0.5  # the raw input is a weak linear feature, as in the paper
        assert 0.0 < result["knn"] <= 1.0
        assert any("val/dead_fraction/conv1" in row for row in result["history"])
    assert results["figures"] == ["guillotine.png"] and (tmp_path / "guillotine.png").stat().st_size > 0
    assert "n/a (quick protocol)" in text and "Dead units" in text
    assert run_study(study, quick=True, workers=1, out=tmp_path, progress=False) == {"ran": 0, "skipped": 3}


def test_guillotine_fails_when_the_best_layer_is_in_the_projector():
    in_projector = [32.8, 70.0, 72.0, 74.0, 80.0, 72.0, 65.0, 61.0]
    one = paper_like() + [record("deep_projector", 3, in_projector)]
    assert claim(one, "guillotine, deep projector").verdict == INCONCLUSIVE
    every = [record("deep_projector", s, in_projector) for s in range(3)]
    found = claim(every, "guillotine, deep projector")
    assert found.verdict == FAILS and "per seed -6.0 -6.0 -6.0" in found.measured
    assert claim(paper_like(), "guillotine, default").verdict == HOLDS
