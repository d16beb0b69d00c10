"""The lottery study (paper Fig. 3 c-g, section F): the adjacency statistic on hand-made masks, the column orders
and new data of the analysis, each sentence's verdict failing on synthetic accuracies, and the quick form end to
end (a search, its artifact, every retraining through a strict ticket load)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from experiments import study
from experiments.lottery import (
    COLUMNS,
    PAPER,
    PAPER_ADJACENCY,
    QUICK,
    ColumnOrderData,
    Lottery,
    adjacency,
    analysis_config,
    artifact_folder,
    retrain,
    search_config,
    section_f_claims,
)
from experiments.runner import FAILS, HOLDS, PARTLY, Results, report, run_study
from lightning_modules import MNIST1DDataModule
from lightning_modules.data import position_permutation


def test_adjacency_counts_windows_of_kept_inputs_per_unit():
    mask = np.zeros((2, 6))
    mask[0, [0, 1, 2]] = 1  # unit 0: windows of 2: (0,1), (1,2) of 5; of 3: (0,1,2) of 4; of 4: none
    mask[1, [0, 2, 4]] = 1  # unit 1: nothing adjacent
    assert adjacency(mask, 2) == pytest.approx((2 / 5 + 0) / 2)
    assert adjacency(mask, 3) == pytest.approx((1 / 4 + 0) / 2)
    assert adjacency(mask, 4) == 0.0
    assert adjacency(np.ones((3, 40)), 4) == 1.0
    assert adjacency(mask, 1) == pytest.approx(mask.mean())
    with pytest.raises(ValueError, match="window=7"):
        adjacency(mask, 7)


def test_adjacency_of_random_masks_is_near_density_to_the_window():
    rng = np.random.default_rng(0)
    mask = rng.random((20000, 40)) < 0.3  # independent survival: p(w adjacent) = density ** w
    for window in (2, 3, 4):
        assert adjacency(mask, window) == pytest.approx(mask.mean() ** window, rel=0.05)


def test_the_column_orders_are_the_notebooks():
    np.random.seed(0)
    assert COLUMNS["shuffled"] == list(np.random.permutation(40))
    assert COLUMNS["flipped"] == list(position_permutation("reverse", 40))
    assert COLUMNS["chunks"] == list(position_permutation("swap_halves", 40))
    assert COLUMNS["chunks"][:10] == list(range(20, 30)) and COLUMNS["chunks"][30:] == list(range(10, 20))


def test_the_new_data_is_the_standard_generator_with_seed_43_columns_reordered():
    reference = MNIST1DDataModule(variant="standard", overrides={"seed": 43}, batch_size=500)
    reference.setup("fit")
    x_train, y_train = reference.split("train")
    x_test, _ = reference.split("test")
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40)
    plain = ColumnOrderData("standard", 43, COLUMNS["new"], 500)
    assert torch.equal(plain.x_train, x_train) and torch.equal(plain.y_train, y_train)
    shuffled = ColumnOrderData("standard", 43, COLUMNS["shuffled"], 500)
    assert torch.equal(shuffled.x_test, x_test[:, COLUMNS["shuffled"]])
    first = next(iter(shuffled.train_dataloader()))
    assert torch.equal(first[0], x_train[:500, COLUMNS["shuffled"]])
    with pytest.raises(ValueError, match="permutation"):
        ColumnOrderData("standard", 43, [0] * 40, 500)


NAMES = {"dense_fresh": "dense (fresh)", "dense_theta0": "dense (theta0)"}


def paper_cells(**changes):
    """Synthetic cells shaped like the paper's table, two trials each (the paper's printed means), with dense
    from theta0 equal to dense from a fresh init; ``changes`` sets ``row__model`` to a new mean."""
    cells = {}
    for row, values in PAPER.items():
        cells[row] = {"dense (fresh)": [values["dense"]] * 2, "dense (theta0)": [values["dense"]] * 2,
                      "ticket": [values["ticket"]] * 2, "random": [values["random"]] * 2}
    for name, value in changes.items():
        row, model = name.split("__")
        cells[row][NAMES.get(model, model)] = [value] * 2
    return cells


def paper_adjacency(ticket3=PAPER_ADJACENCY["ticket"][3]):
    values = {kind: {w: [v] * 2 for w, v in PAPER_ADJACENCY[kind].items()} for kind in PAPER_ADJACENCY}
    values["ticket"][3] = [ticket3] * 2
    return values


def verdicts(cells, adjacency_values=None):
    return [c.verdict for c in section_f_claims(cells, adjacency_values or paper_adjacency())]


def test_the_papers_own_numbers_give_its_verdicts():
    new, flipped, permuted, vanishes, reinit, adjacent = verdicts(paper_cells())
    assert new == HOLDS and reinit == HOLDS and adjacent == HOLDS
    assert permuted == FAILS  # its printed lead shrinks 2.6 points vs new data but only 0.7 vs flipped
    assert flipped == FAILS  # printed: the flipped ticket (62.8) is below dense (63.05)
    assert vanishes == HOLDS  # printed: ticket 62.8 < dense 63.75 on shuffled inputs


def test_each_sentence_fails_when_the_numbers_break_it():
    assert verdicts(paper_cells(new__ticket=63.0))[0] == FAILS  # below both dense nets
    assert verdicts(paper_cells(new__dense_theta0=66.0))[0] == PARTLY  # beats only the fresh-init dense
    assert verdicts(paper_cells(new__random=66.0))[0] == FAILS  # loses to the random mask
    assert verdicts(paper_cells(flipped__ticket=64.0))[1] == HOLDS
    assert verdicts(paper_cells(flipped__ticket=64.0, shuffled__ticket=60.0))[2] == HOLDS
    assert verdicts(paper_cells(flipped__ticket=64.0, shuffled__ticket=63.9))[2] == FAILS  # 0.8 < 1 point vs flipped
    assert verdicts(paper_cells(shuffled__ticket=65.0))[3] == FAILS  # a 1.25-point lead does not vanish
    assert verdicts(paper_cells(reinit__ticket=63.0))[4] == FAILS
    assert verdicts(paper_cells(), paper_adjacency(ticket3=0.0006))[5] == FAILS  # 4x < 5x


def test_claims_skip_cells_not_measured_yet():
    cells = paper_cells()
    cells["shuffled"]["ticket"] = []
    cells["reinit"]["random"] = []
    texts = [c.claim for c in section_f_claims(cells, paper_adjacency())]
    assert len(texts) == 3 and texts[0].startswith("On new data") and "Reversing" in texts[1]


def test_the_quick_study_end_to_end(tmp_path):
    lottery = Lottery(artifacts=tmp_path / "artifacts")
    assert isinstance(study("lottery"), Lottery)
    counts = run_study(lottery, quick=True, workers=1, out=tmp_path, progress=False)
    assert counts == {"ran": 19, "skipped": 0}
    text = report(lottery, quick=True, out=tmp_path)
    for row in ("new data (seed 43)", "shuffled", "flipped", "chunks", "reinit"):
        assert f"| {row}" in text
    assert "n/a (quick protocol)" in text and "not run yet" not in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert sorted(saved["figures"]) == ["analysis_curves.png", "masks.png", "search.png"]
    assert all((tmp_path / name).is_file() for name in saved["figures"])
    searches = [r for r in saved["runs"] if r["tags"]["stage"] == "search"]
    analyses = [r for r in saved["runs"] if r["tags"]["stage"] == "analysis"]
    assert len(searches) == 1 and len(analyses) == 18
    search = searches[0]["result"]
    assert search["sparsity"] == pytest.approx(91 / 99, abs=1e-3)
    assert [round(99 * r["target_sparsity"]) for r in search["history"]] == [0, 45, 90, 91]
    for record in analyses:
        result = record["result"]
        assert result["pruned_weights_nonzero"] == 0  # KeepMasks kept every pruned weight at zero
        expected = 0.0 if record["tags"]["model"] == "dense" else search["sparsity"]
        assert result["sparsity"] == pytest.approx(expected, abs=1e-9)
        assert [h["step"] for h in result["history"]] == [20, 40, 60]
    # the analysis runs' identity holds the search's key, and a second run reuses everything
    assert {r["config"]["search"]["key"] for r in analyses} == {searches[0]["key"]}
    assert run_study(lottery, quick=True, workers=1, out=tmp_path, progress=False) == {"ran": 0, "skipped": 19}

    # a ticket whose initialization lacks a key is refused (strict load), never trained as a silent mix
    broken_root = tmp_path / "broken"
    config = search_config(0, QUICK, str(broken_root))
    source = artifact_folder(search_config(0, QUICK, str(tmp_path / "artifacts")))
    shutil.copytree(source, artifact_folder(config))
    found = torch.load(artifact_folder(config) / "ticket.pt", weights_only=True)
    found["theta0"].pop("net.readout.bias")
    torch.save(found, artifact_folder(config) / "ticket.pt")
    with pytest.raises(ValueError, match=r"lacks \['net.readout.bias'\]"):
        retrain(analysis_config(config, 0, "ticket", "theta0", "new", QUICK))


def test_the_search_claim_needs_a_four_point_gain():
    def searches(dense, ticket):
        adjacency_values = {kind: {str(w): v for w, v in PAPER_ADJACENCY[kind].items()} for kind in PAPER_ADJACENCY}
        return Results([{"tags": {"stage": "search", "seed": seed},
                         "result": {"history": [{"final": dense}, {"final": ticket}], "adjacency": adjacency_values}}
                        for seed in (0, 1)])

    first = Lottery().claims(searches(0.656, 0.75), quick=False)[0]
    assert first.claim.startswith("Search") and first.verdict == HOLDS and "+9.4" in first.measured
    assert Lottery().claims(searches(0.656, 0.69), quick=False)[0].verdict == FAILS
    assert Lottery().claims(searches(0.656, 0.75), quick=True)[0].verdict.startswith("n/a")


def test_the_full_runs_are_section_fs_protocol():
    runs = Lottery().runs(quick=False, seeds=[0, 1, 2])
    searches = [r for r in runs if r.tags["stage"] == "search"]
    analyses = [r for r in runs if r.tags["stage"] == "analysis"]
    assert runs[:3] == searches and len(analyses) == 3 * 18
    assert [r.tags["seed"] for r in analyses] == [t for t in (0, 1, 2) for _ in range(18)]  # trial by trial
    for search in searches:
        ticket = search.config["cli"]["trainer"]["callbacks"][0]["init_args"]
        assert [round(99 * s, 6) for s in ticket["sparsities"]] == list(range(92))  # every round, k = 0 .. 91
        assert (ticket["steps_per_round"], ticket["score_at_step"], ticket["schedule"]) == (1501, 1000, "explicit")
        trainer = search.config["cli"]["trainer"]
        assert trainer["max_steps"] == 92 * 1501 and 1501 % trainer["val_check_interval"] == 0
        assert search.config["analysis_round"] == 91
    for analysis in analyses:
        c = analysis.config
        assert (c["steps"], c["batch_size"], c["lr"], c["eval_every"]) == (6000, 500, 0.02, 100)
        assert c["data"] == {"variant": "standard", "seed": 43}
