"""The double-descent study: its grid follows the protocol, its training task reproduces ``fit``, its claims are
judged correctly on synthetic curves (and fail when the curve does not show the effect), and the quick protocol
runs end to end into a report with figures."""

from __future__ import annotations

import pytest
import torch

from experiments import double_descent as dd
from experiments.runner import FAILS, HOLDS, PARTLY, report, run_study
from experiments.tasks import fit
from lightning_modules.nets import CNN, MLP


def curve_points(test: dict[int, float], train: dict[int, float], loss: dict[int, float] | None = None,
                 params=dd.mlp_params) -> list[dd.Point]:
    """Synthetic points: widths from ``test``; train error and loss default to 0 and 1."""
    loss, symbol = loss or {}, "n" if params is dd.mlp_params else "c"
    return [dd.Point(w, params(w), test[w], train.get(w, 0.0), loss.get(w, 1.0), symbol) for w in sorted(test)]


# the paper's printed curves, with the printed train errors (high below the threshold, 0 from it on)
PAPER_NOISY = curve_points(dd.PAPER_TEST["mlp_noisy"], {2: 70, 5: 55, 9: 45, 12: 38, 16: 33, 21: 28, 27: 24,
                                                        36: 19.0, 47: 5.5})
PAPER_CNN = curve_points(dd.PAPER_TEST["cnn_noisy"], {2: 60, 4: 35, 6: 22, 8: 20, 10: 17, 12: 15, 14: 13,
                                                      16: 12, 18: 10.9, 20: 8, 22: 5.5}, params=dd.cnn_params)
PAPER_CLEAN = curve_points(dd.PAPER_TEST["mlp_clean"], {2: 68, 5: 55, 9: 40, 16: 25, 21: 15, 27: 8, 36: 3},
                           {2: 1.9, 5: 1.6, 9: 1.31, 16: 1.4, 21: 1.8, 27: 2.6, 36: 3.5, 47: 4.42, 61: 4.2,
                            80: 3.8, 104: 3.3, 135: 3.0, 177: 2.7, 230: 2.5, 300: 2.34})


def verdicts(claims) -> dict[str, str]:
    return {c.claim: c.verdict for c in claims}


def only(claims, word: str):
    [claim] = [c for c in claims if word in c.claim]
    return claim


# the grid --------------------------------------------------------------------------------------------------
def test_the_grid_keeps_the_protocol_and_runs_the_main_curve_first():
    runs = dd.DoubleDescent().runs(quick=False, seeds=[0, 1])
    main = [r for r in runs if r.tags["curve"] == "mlp_noisy"]
    assert runs[:len(main)] == main  # the paper's main curve finishes first
    assert sorted({r.tags["width"] for r in main}) == list(dd.PAPER_MLP_WIDTHS)
    assert max(r.tags["width"] for r in runs if r.tags["curve"] == "mlp_mse") >= 600
    for curve in dd.CURVES:
        for width in curve.widths:
            seeds = [r.tags["seed"] for r in runs if r.tags["curve"] == curve.name and r.tags["width"] == width]
            assert seeds == [0, 1], (curve.name, width)
    for run in runs:
        config, curve = run.config, run.tags["curve"]
        assert config["trainer"]["max_steps"] == 20_000
        assert config["seed_everything"] == config["data"]["seed"] == run.tags["seed"]
        assert config["data"]["variant"] == "double_descent" and config["data"]["eval_train"]
        assert config["data"].get("overrides") == ({"label_noise": 0} if curve == "mlp_clean" else None)
        assert config["model"]["init_args"]["loss"] == ("mse" if curve == "mlp_mse" else "cross_entropy")
        assert config["model"]["init_args"]["optimizer"]["init_args"] == {"lr": 0.01, "momentum": 0.9}
    assert len({r.key for r in runs}) == len(runs)


@pytest.mark.parametrize("width", [2, 47, 177])
def test_parameter_counts_are_the_networks(width):
    assert sum(p.numel() for p in MLP(hidden_size=width, residual=False).parameters()) == dd.mlp_params(width)
    assert sum(p.numel() for p in CNN(channels=width).parameters()) == dd.cnn_params(width)


def test_priority_must_list_every_declared_point(monkeypatch):
    monkeypatch.setattr(dd, "PRIORITY", dd.PRIORITY[:-1])
    with pytest.raises(ValueError, match="mlp_mse"):
        dd.run_order(quick=False)


# the task --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("curve,width", [("mlp_noisy", 9), ("cnn_noisy", 4), ("mlp_mse", 9)])
def test_train_reproduces_fit_exactly(curve, width, one_torch_thread):
    config = dd.point_config(dd.CURVE[curve], width, seed=1, steps=45)  # past one epoch (40 batches)
    config["trainer"]["val_check_interval"] = 15
    fitted, trained = fit(config), dd.train(config)
    assert [row["step"] for row in trained["history"]] == [15, 30, 45]
    assert [row["step"] for row in fitted["history"]] == [15, 30, 45]
    for got, expected in zip(fitted["history"], trained["history"]):
        for split in dd.SPLITS:  # bit for bit: what the study reads
            assert got[f"{split}/error"] == expected[f"{split}/error"], split
            assert got[f"{split}/loss"] == expected[f"{split}/loss"], split
            # the loop writes acc as 1 - error in double precision, fit as torchmetrics' float32
            assert got[f"{split}/acc"] == pytest.approx(expected[f"{split}/acc"], abs=1e-7), split


def test_train_evaluates_against_the_noisy_training_labels(one_torch_thread):
    config = dd.point_config(dd.CURVE["mlp_noisy"], 4, seed=0, steps=2)
    cli_data = dd.build(config).datamodule
    cli_data.prepare_data()
    cli_data.setup("fit")
    x, y = cli_data.split("train")
    clean = dd.build(dd.point_config(dd.CURVE["mlp_clean"], 4, seed=0, steps=2)).datamodule
    clean.prepare_data()
    clean.setup("fit")
    changed = (clean.split("train")[1] != y).float().mean().item()
    assert 0.10 < changed < 0.16  # 15% resampled, a tenth of them to the same label
    assert torch.equal(clean.split("test")[1], cli_data.split("test")[1])  # test labels stay clean


# the landmarks and the claims ------------------------------------------------------------------------------
def test_shape_of_the_papers_noisy_curve():
    shape = dd.shape_of(PAPER_NOISY)
    assert (shape.minimum.width, shape.peak.width, shape.threshold.width) == (16, 47, 61)


def test_a_rise_within_a_point_is_no_peak():
    flat = curve_points({47: 45.0, 177: 43.1, 300: 42.9, 600: 43.4}, {47: 40, 177: 11, 300: 2.6})
    assert dd.shape_of(flat).peak is None
    assert dd.shape_of(curve_points({47: 45.0, 300: 42.9, 600: 44.0}, {47: 40, 300: 2.6})).peak.width == 600


def test_the_papers_curves_satisfy_every_claim():
    shapes = {"mlp_noisy": dd.shape_of(PAPER_NOISY), "mlp_clean": dd.shape_of(PAPER_CLEAN),
              "cnn_noisy": dd.shape_of(PAPER_CNN),
              "mlp_mse": dd.shape_of(curve_points({w: 50.0 for w in (47, 135, 177, 300)}, {47: 30, 135: 8}))}
    claims = dd.check_claims(shapes)
    assert all(c.verdict == HOLDS for c in claims), [c for c in claims if c.verdict != HOLDS]
    assert len(claims) == 10


def test_noisy_claims_fail_without_a_peak():
    monotone = curve_points({w: 70 - 0.08 * w for w in dd.PAPER_MLP_WIDTHS}, {w: 40 for w in (2, 3, 4, 5, 7, 9)})
    claims = dd.check_claims({"mlp_noisy": dd.shape_of(monotone)})
    assert only(claims, "≥ 4 points above").verdict == FAILS
    assert only(claims, "within one grid point").verdict == FAILS


def test_noisy_claims_fail_when_the_peak_is_far_from_the_threshold_or_stays_high():
    test = {**dd.PAPER_TEST["mlp_noisy"], 300: 48.0}
    late = curve_points(test, {w: 30 for w in test if w <= 177})  # interpolates only at n=230
    claims = dd.check_claims({"mlp_noisy": dd.shape_of(late)})
    assert only(claims, "within one grid point").verdict == FAILS
    assert only(claims, "descends").verdict == FAILS


def test_clean_claims_fail_on_a_bump_and_on_a_flat_loss():
    test = {**dd.PAPER_TEST["mlp_clean"], 47: 45.0}  # a 4-point bump
    flat = {p.width: 1.3 for p in PAPER_CLEAN}
    shape = dd.shape_of(curve_points(test, {2: 68, 5: 55, 9: 40, 16: 25, 21: 15, 27: 8, 36: 3}, flat))
    claims = dd.check_claims({"mlp_clean": shape})
    assert only(claims, "weak test-error bump").verdict == FAILS
    assert only(claims, "clear test-loss peak").verdict == FAILS


def test_cnn_claims_fail_on_a_shifted_curve_and_mark_c100_unmeasured():
    shifted = curve_points({c: e + 8 for c, e in dd.PAPER_TEST["cnn_noisy"].items() if c <= 30},
                           {c: 30 for c in range(2, 29, 2)}, params=dd.cnn_params)
    claims = dd.check_claims({"cnn_noisy": dd.shape_of(shifted)})
    assert only(claims, "near c = 8-12").verdict == FAILS
    assert only(claims, "peak of 31-35%").verdict == FAILS
    assert only(claims, "c = 100").verdict == "not measured"


def test_threshold_claims_fail_when_mse_interpolates_at_n_or_never():
    noisy = dd.shape_of(PAPER_NOISY)
    early = dd.shape_of(curve_points({w: 50.0 for w in (16, 47, 104, 600)}, {16: 30}))  # zero train from n=47
    never = dd.shape_of(curve_points({w: 50.0 for w in (16, 47, 104, 600)}, {w: 5 for w in (16, 47, 104, 600)}))
    for mse in (early, never):
        claims = dd.check_claims({"mlp_noisy": noisy, "mlp_mse": mse})
        assert only(claims, "MSE").verdict == FAILS
        assert only(claims, "near N (").verdict == HOLDS


def test_a_verdict_on_a_partly_run_curve_names_the_missing_widths():
    claims = dd.check_claims({"mlp_clean": dd.shape_of(PAPER_CLEAN)}, missing={"mlp_clean": [104]})
    assert all(c.verdict.endswith("(partial grid, not run: mlp_clean [104])") for c in claims)
    assert all(c.verdict.startswith(HOLDS) for c in claims)


def test_threshold_bracket_decides_only_what_the_grid_can_tell():
    mse = dd.shape_of(curve_points({w: 50.0 for w in (47, 177, 300, 600)}, {47: 30, 177: 11}))
    assert dd.threshold_bracket(mse) == (dd.mlp_params(177), dd.mlp_params(300))
    claims = dd.check_claims({"mlp_noisy": dd.shape_of(PAPER_NOISY), "mlp_mse": mse})
    assert only(claims, "MSE").verdict == PARTLY  # 40,543 < threshold <= 105,610 straddles 80,000
    far = dd.shape_of(curve_points({w: 50.0 for w in (47, 177, 300, 600)}, {47: 30, 177: 11, 300: 3}))
    assert only(dd.check_claims({"mlp_noisy": dd.shape_of(PAPER_NOISY), "mlp_mse": far}), "MSE").verdict == FAILS


# end to end --------------------------------------------------------------------------------------------------
def test_quick_protocol_end_to_end(tmp_path):
    study = dd.DoubleDescent()
    counts = run_study(study, quick=True, workers=1, out=tmp_path, progress=False)
    assert counts == {"ran": 5, "skipped": 0}
    text = report(study, quick=True, out=tmp_path)
    for curve in dd.CURVES:
        assert f"## {curve.title}" in text
    assert "| 47 | 4,663 | 1.17 |" in text and "(n=1)" in text
    assert "n/a (quick protocol)" in text and HOLDS not in text.split("## Claims")[1].replace("n/a", "")
    assert (tmp_path / "errors.png").stat().st_size > 10_000
    assert (tmp_path / "test_loss.png").stat().st_size > 10_000
