"""The lottery study (paper Fig. 3, section F): its column orders and new data, the retraining path through
``tasks.fit`` against the former bare-Trainer path, each claim holding, failing and inconclusive on made-up
per-trial values, the migrated store, and the quick form end to end (a search, its artifact handed to every
retraining)."""

from __future__ import annotations

import functools
import io
import json

import lightning as L
import numpy as np
import pytest
import torch

from experiments import study
from experiments.lottery import FULL, QUICK, Lottery
from experiments.lottery.claims import fig3_claims, section_f_claims
from experiments.lottery.paper import PAPER, PAPER_ADJACENCY
from experiments.lottery.protocol import COLUMNS, PERMUTATION, analysis_config, random_mask_config, search_config
from experiments.lottery.tasks import ARTIFACT, digest, retrain, ticket_of
from experiments.runner import Results, collect, report, run_study
from experiments.runs import FIT, Upstream
from experiments.tasks import build
from experiments.store import RunStore
from experiments.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_JUDGED
from lightning_modules import MNIST1DDataModule
from lightning_modules.data import OrderedBatches, WholeBatches, position_permutation
from mnist1d_hf.errors import ConfigError


def test_the_column_orders_are_the_notebooks():
    np.random.seed(0)
    assert COLUMNS["shuffled"] == list(np.random.permutation(40))
    assert COLUMNS["chunks"][:10] == list(range(20, 30)) and COLUMNS["chunks"][30:] == list(range(10, 20))
    assert COLUMNS["flipped"] == list(range(39, -1, -1))
    for name, columns in COLUMNS.items():  # what the DataModule reads
        assert list(position_permutation(PERMUTATION[name], 40)) == columns


def test_the_new_data_is_the_standard_generator_with_seed_43_columns_reordered():
    plain = MNIST1DDataModule(variant="standard", overrides={"seed": 43}, batch_size=500)
    plain.setup("fit")
    x_train, _ = plain.split("train")
    data = analysis_config(search_config(0, QUICK), 0, "ticket", "theta0", "shuffled", QUICK)["cli"]["data"]
    shuffled = MNIST1DDataModule(**data)
    shuffled.setup("fit")
    assert x_train.shape == (4000, 40) and shuffled.split("test")[0].shape == (1000, 40)
    assert torch.equal(shuffled.split("train")[0], x_train[:, COLUMNS["shuffled"]])
    first = next(iter(shuffled.train_dataloader()))
    assert torch.equal(first[0], x_train[:500, COLUMNS["shuffled"]])
    with pytest.raises(ConfigError, match="permutation=.* allowed a permutation of 0..39"):
        MNIST1DDataModule(permutation=[0] * 40)


# -- one training path: tasks.fit with the ticket loaded equals the former bare Trainer -----------------------------
@functools.cache
def synthetic_search(trial: int = 0) -> dict:
    """A search's artifact without the search: theta0 (the model a search with seed ``trial`` starts from) and a
    ticket of round 1 pruned to 90% on random scores, layerwise with biases, as the search prunes."""
    from experiments.tasks import build
    from lightning_modules.lottery import prunable_layers, prune

    cli = build(search_config(trial, QUICK)["cli"])
    theta0 = {k: v.clone() for k, v in cli.model.state_dict().items() if not k.endswith("_mask")}
    groups = [list(g) for g in prunable_layers(cli.model, None, prune_biases=True).values()]
    names = [n for g in groups for n in g]
    generator = torch.Generator().manual_seed(7)
    ones = {n: torch.ones_like(theta0[n]) for n in names}
    masks = prune({n: torch.rand(theta0[n].shape, generator=generator) for n in names}, ones, groups, 0.9)
    pruning_round = {n: torch.where(masks[n] > 0, torch.iinfo(torch.int16).max, 1).to(torch.int16) for n in names}
    return {"theta0": theta0, "pruning_round": pruning_round, "groups": groups, "masks": masks}


def former_retrain(config: dict, found: dict) -> list[float]:
    """The former ``experiments.lottery.retrain``: a bare Trainer on the column-ordered data, the ticket loaded
    by hand (``load_ticket`` then ``KeepMasks``); its test accuracy after every evaluation."""
    from experiments.tasks import MetricHistory
    from lightning_modules import Classifier
    from lightning_modules.lottery import KeepMasks, load_ticket, prune
    from lightning_modules.nets import MLP
    from mnist1d_hf import generate, variant_config

    cli, spec = config["cli"], config["ticket"]
    torch.manual_seed(cli["seed_everything"] if spec["init"] == "fresh" else 0)
    net = cli["model"]["init_args"]["net"]["init_args"]
    model = Classifier(MLP(**net), optimizer=functools.partial(torch.optim.Adam, lr=0.02))
    init = found["theta0"] if spec["init"] == "theta0" else {k: v.clone() for k, v in model.state_dict().items()}
    if spec["masks"] == "random":  # the former random_masks: seeded scores ranked by prune at the sparsity
        generator = torch.Generator().manual_seed(spec["mask_seed"])
        names = [n for g in found["groups"] for n in g]
        scores = {n: torch.rand(found["masks"][n].shape, generator=generator) for n in names}
        masks = prune(scores, {n: torch.ones_like(m) for n, m in found["masks"].items()}, found["groups"], 0.9)
    else:
        masks = found["masks"] if spec["masks"] == "ticket" else {n: torch.ones_like(m)
                                                                for n, m in found["masks"].items()}
    load_ticket(model, masks, init, strict=True)
    data = generate(variant_config("standard", seed=43))
    order = np.asarray(position_permutation(cli["data"]["permutation"], 40))
    x_train, x_test = (torch.as_tensor(np.asarray(x, dtype=np.float32)[:, order]) for x in (data.x_train, data.x_test))
    y_train, y_test = (torch.as_tensor(np.asarray(y, dtype=np.int64)) for y in (data.y_train, data.y_test))
    history = MetricHistory()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=cli["trainer"]["max_steps"], max_epochs=-1,
                        val_check_interval=cli["trainer"]["val_check_interval"], check_val_every_n_epoch=None,
                        num_sanity_val_steps=0, callbacks=[KeepMasks(), history], logger=False,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(model, OrderedBatches(x_train, y_train, 500), WholeBatches(x_test, y_test, None))
    return [row["val/acc"] for row in history.rows if "val/acc" in row]


@pytest.mark.parametrize("model, init, columns", [("ticket", "theta0", "shuffled"), ("random", "fresh", "chunks")])
def test_a_retraining_through_fit_equals_the_former_bare_trainer(model, init, columns, one_torch_thread):
    found = synthetic_search()
    artifact = io.BytesIO()
    torch.save({k: found[k] for k in ("theta0", "pruning_round", "groups")}, artifact)
    config = analysis_config(search_config(0, QUICK), 0, model, init, columns, QUICK)
    config["ticket"]["round"] = 1
    result = retrain(config, (Upstream({}, {ARTIFACT: artifact.getvalue()}),))
    assert [row["acc"] for row in result["history"]] == former_retrain(config, found)  # bit for bit
    assert [row["step"] for row in result["history"]] == [20, 40, 60]
    assert result["pruned_weights_nonzero"] == 0 and result["sparsity"] == pytest.approx(0.9, abs=1e-4)


# -- claims on made-up per-trial values -----------------------------------------------------------------------------
NAMES = {"dense_fresh": "dense (fresh)", "dense_theta0": "dense (theta0)"}
TRIALS = (-0.4, 0.1, 0.3)  # a trial's offset, shared by its runs: paired differences are the paper's


def paper_cells(**changes):
    """The paper's means in three trials; ``row__model=[a, b, c]`` sets a cell's per-trial values."""
    cells = {row: {name: {t: values[model] + offset for t, offset in enumerate(TRIALS)}
                   for name, model in (("dense (fresh)", "dense"), ("dense (theta0)", "dense"),
                                       ("ticket", "ticket"), ("random", "random"))} for row, values in PAPER.items()}
    for name, values in changes.items():
        row, model = name.split("__")
        cells[row][NAMES.get(model, model)] = dict(enumerate(values))
    return cells


def paper_adjacency(ticket3=PAPER_ADJACENCY["ticket"][3]):
    values = {kind: {w: {t: v for t in range(3)} for w, v in PAPER_ADJACENCY[kind].items()}
              for kind in PAPER_ADJACENCY}
    values["ticket"][3] = {t: v for t, v in enumerate(ticket3 if isinstance(ticket3, list) else [ticket3] * 3)}
    return values


def verdicts(cells, adjacency=None):
    return [c.verdict for c in section_f_claims(cells, adjacency or paper_adjacency())]


def test_the_papers_own_numbers_give_its_verdicts():
    new, flipped, chunks, permuted, vanishes, reinit, adjacent, far_more = verdicts(paper_cells())
    assert new == HOLDS and reinit == HOLDS and adjacent == HOLDS and far_more == HOLDS  # 16x
    assert flipped == FAILS  # printed: the flipped ticket (62.8) is below dense (63.05)
    assert chunks == FAILS  # printed: 61.85 vs dense 64.1
    assert permuted == FAILS  # its lead shrinks 2.6 points more vs new data but only 0.7 vs flipped
    assert vanishes == HOLDS  # printed: ticket 62.8 < dense 63.75 on shuffled inputs


def test_each_sentence_holds_fails_or_is_inconclusive_by_its_trials():
    assert verdicts(paper_cells(new__ticket=[63.0, 63.5, 63.2]))[0] == FAILS  # below both dense nets
    assert verdicts(paper_cells(new__dense_theta0=[66.8, 67.3, 67.0]))[0] == FAILS  # beats only one dense
    assert verdicts(paper_cells(flipped__ticket=[64.0, 64.5, 64.3]))[1] == HOLDS
    # a win, a tie and a loss: the mean is ahead, the trials cannot decide
    assert verdicts(paper_cells(flipped__ticket=[65.5, 63.15, 61.0]))[1] == INCONCLUSIVE
    assert verdicts(paper_cells(chunks__ticket=[65.0, 65.5, 65.4]))[2] == HOLDS
    shuffled_low = [59.5 + o for o in TRIALS]
    assert verdicts(paper_cells(flipped__ticket=[64.0 + o for o in TRIALS], shuffled__ticket=shuffled_low))[3] == HOLDS
    assert verdicts(paper_cells(shuffled__ticket=[65.0, 65.3, 65.6]))[4] == FAILS  # a lead that does not vanish
    assert verdicts(paper_cells(shuffled__ticket=[62.0, 64.5, 63.0]))[4] == INCONCLUSIVE
    assert verdicts(paper_cells(reinit__ticket=[63.0, 63.5, 63.6]))[5] == FAILS
    assert verdicts(paper_cells(), paper_adjacency(ticket3=0.0006))[7] == FAILS  # 4x < 5x in every trial
    assert verdicts(paper_cells(), paper_adjacency(ticket3=[0.0006, 0.0024, 0.0003]))[7] == INCONCLUSIVE


def test_claims_of_cells_not_stored_are_not_judged():
    cells = paper_cells()
    cells["shuffled"]["ticket"] = {}
    judged = verdicts(cells)
    assert judged[3] == NOT_JUDGED and judged[4] == NOT_JUDGED and judged[0] == HOLDS


def test_fig3_claims_pair_the_search_with_the_random_masks_by_trial():
    dense = {0: 64.3, 1: 64.1, 2: 64.5}
    ticket = {0: dense, 85: {0: 72.0, 1: 71.5, 2: 73.0}, 88: {0: 71.0, 1: 72.5, 2: 71.8},
              91: {0: 71.8, 1: 73.8, 2: 70.0}}
    random = {85: {0: 61.0, 1: 62.0, 2: 60.0}, 88: {0: 60.0, 1: 61.5, 2: 60.5}, 91: {0: 60.5, 1: 59.0, 2: 61.5}}
    claims = fig3_claims(ticket, random)
    gain, sparse_gain, random_below, beats_random, ticket_75, dense_65, random_61 = [c.verdict for c in claims]
    assert (gain, sparse_gain, random_below, beats_random) == (HOLDS, HOLDS, HOLDS, HOLDS)
    assert ticket_75 == HOLDS and dense_65 == FAILS and random_61 == HOLDS
    assert "per seed +7.5 +9.7 +5.5" in claims[0].measured
    better_random = {k: {t: v + 15 for t, v in series.items()} for k, series in random.items()}
    assert [c.verdict for c in fig3_claims(ticket, better_random)][2:4] == [FAILS, FAILS]
    unstored = [c.verdict for c in fig3_claims(ticket, {})]
    assert unstored[:2] == [HOLDS, HOLDS] and unstored[2:4] == [NOT_JUDGED, NOT_JUDGED] and unstored[6] == NOT_JUDGED


# -- the protocol and the store -------------------------------------------------------------------------------------
def test_the_full_runs_are_the_protocol_and_the_stored_runs_are_found():
    runs = Lottery().runs(quick=False, seeds=[0, 1, 2])
    searches = [r for r in runs if r.tags["stage"] == "search"]
    analyses = [r for r in runs if r.tags["stage"] == "analysis"]
    randoms = [r for r in runs if r.tags["stage"] == "random_mask"]
    assert runs[:3] == searches and len(analyses) == 3 * 18 and len(randoms) == 3 * 15
    for search in searches:
        ticket = search.config["cli"]["trainer"]["callbacks"][0]["init_args"]
        assert [round(99 * s, 6) for s in ticket["sparsities"]] == list(range(92))  # every round, k = 0 .. 91
        assert (ticket["steps_per_round"], ticket["score_at_step"], ticket["schedule"]) == (1501, 1000, "explicit")
        assert search.config["cli"]["trainer"]["max_steps"] == 92 * 1501 and "artifacts" not in search.config
    for run in analyses:
        (search,) = run.needs
        assert search.tags == {"stage": "search", "seed": run.tags["seed"]}
        assert run.config["cli"]["model"] == search.config["cli"]["model"]
        cli = run.config["cli"]
        assert (cli["trainer"]["max_steps"], cli["trainer"]["val_check_interval"]) == (6000, 100)
        assert cli["data"]["overrides"] == {"seed": 43} and cli["data"]["batch_size"] == 500
        assert run.config["ticket"]["round"] == 91
    assert sorted({r.tags["k"] for r in randoms}) == [7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 85, 88, 91]
    for run in randoms:  # a round of the search's training, RandomMask in place of LotteryTicket
        search = searches[run.tags["seed"]].config["cli"]
        assert run.task == FIT and not run.needs
        assert {k: v for k, v in run.config.items() if k not in ("trainer", "torch_threads")} == \
            {k: v for k, v in search.items() if k != "trainer"}
        (mask,) = run.config["trainer"]["callbacks"]
        assert mask == {"class_path": "lightning_modules.lottery.RandomMask",
                        "init_args": {"sparsity": run.tags["k"] / 99, "seed": 1000 + run.tags["seed"],
                                      "scope": "layerwise", "prune_biases": True}}
        assert (run.config["trainer"]["max_steps"], run.config["trainer"]["val_check_interval"]) == (1501, 79)
    # every run is stored under the protocol's key, with the commit that made it
    stored, missing = collect(Lottery())
    assert not missing and len(stored) == len(runs) == 102
    assert all(len(r["provenance"]["commit"]) == 40 for r in stored.records)
    # a search's ticket (runs/<key>/ticket.pt) is not committed: a retraining missing from the store would make its
    # search run again
    assert all(r["artifacts"] == [ARTIFACT] for r in stored.select(stage="search"))
    assert FULL["random_ks"][-1] == 91


def test_the_random_mask_callback_draws_the_stored_searches_random_masks():
    """Fig. 3's ``RandomMask`` at k = 91 with seed 1000 + t is the random mask each stored search drew for its
    ticket (section F's random mask), first-layer bit for bit: counts and draws need nothing of the search."""
    from lightning_modules import Classifier
    from lightning_modules.lottery import RandomMask
    from lightning_modules.nets import MLP

    stored, _ = collect(Lottery())
    model = Classifier(MLP(input_size=40, hidden_size=500, hidden_layers=2))
    for search in stored.select(stage="search"):
        mask = RandomMask(91 / 99, seed=1000 + search["tags"]["seed"], prune_biases=True).masks(model)
        bits = ["".join("1" if v else "0" for v in row) for row in (mask["net.input.weight"] != 0).tolist()]
        assert bits == search["result"]["first_layer"]["random"]


def test_the_quick_study_end_to_end(tmp_path):
    assert isinstance(study("lottery"), Lottery)
    counts = run_study(Lottery(), quick=True, workers=1, out=tmp_path, progress=False)
    assert counts == {"ran": 8, "skipped": 0}
    text = report(Lottery(), quick=True, out=tmp_path)
    for row in ("new data (seed 43)", "shuffled", "flipped", "chunks", "reinit"):
        assert f"| {row}" in text
    assert "n/a (quick protocol)" in text and "not run yet" not in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert sorted(saved["figures"]) == ["analysis_curves.png", "masks.png", "search.png"]
    records = Results(saved["runs"])
    (search,) = records.select(stage="search")
    assert search["artifacts"] == [ARTIFACT] and (tmp_path / "runs" / search["key"] / ARTIFACT).is_file()
    result = search["result"]
    assert result["sparsity"] == pytest.approx(91 / 99, abs=1e-3)
    assert [round(99 * r["target_sparsity"]) for r in result["history"]] == [0, 45, 90, 91]
    analyses = records.select(stage="analysis")
    assert len(analyses) == 6
    assert {r["tags"]["columns"] for r in analyses} == {"new", "shuffled", "flipped", "chunks"}
    for record in analyses:
        assert record["needs"] == [search["key"]]
        assert record["result"]["pruned_weights_nonzero"] == 0  # the masks held
    (random,) = records.select(stage="random_mask")
    assert "needs" not in random and random["result"]["final"]["masks/pruned_nonzero"] == 0
    assert all(r["result"]["sparsity"] == 0.0 for r in records.select(stage="analysis", model="dense"))
    for record in records.select(stage="analysis", model="ticket"):
        assert record["result"]["sparsity"] == pytest.approx(result["sparsity"], abs=1e-9)
        assert [h["step"] for h in record["result"]["history"]] == [20, 40, 60]
    assert run_study(Lottery(), quick=True, workers=1, out=tmp_path, progress=False) == {"ran": 0, "skipped": 8}

    # the search's artifact: theta0 as its result says, and round 0 retrained through fit is the search's round 0
    runs = Lottery().runs(True, [0])
    upstream = RunStore(tmp_path).upstream(runs[0])
    found = torch.load(io.BytesIO(upstream.artifacts[ARTIFACT]), weights_only=True)
    assert digest(found["theta0"]) == result["theta0_sha256"]
    cli = random_mask_config(runs[0].config, 0, 0)
    cli["trainer"]["callbacks"] = []
    round0 = {"cli": cli, "ticket": {"masks": "ticket", "init": "theta0", "round": 0}}
    assert retrain(round0, (upstream,))["final"] == result["history"][0]["final"]  # the same network, bit for bit
    # Fig. 3's RandomMask prunes each layer as the ticket of every round does, and at the analysis round it draws
    # section F's random mask
    from lightning_modules.lottery import RandomMask, masks_at_round

    model = build(cli).model
    for r, round_record in enumerate(result["history"]):
        ticket = masks_at_round(found["pruning_round"], r)
        drawn = RandomMask(round_record["target_sparsity"], seed=1000, prune_biases=True).masks(model)
        for group in found["groups"]:
            assert sum(int((drawn[n] == 0).sum()) for n in group) == sum(int((ticket[n] == 0).sum()) for n in group)
    section_f = ticket_of({"masks": "random", "init": "theta0", "round": 3, "mask_seed": 1000}, found)[0]
    assert all(torch.equal(section_f[n], m) for n, m in drawn.items())
    # a ticket whose initialization lacks a key is refused (strict load), never trained as a silent mix
    found["theta0"].pop("net.readout.bias")
    broken = io.BytesIO()
    torch.save(found, broken)
    with pytest.raises(ValueError, match=r"lacks \['net.readout.bias'\]"):
        retrain(runs[1].config, (Upstream(upstream.result, {ARTIFACT: broken.getvalue()}),))
    assert runs[1].config["ticket"]["init"] == "theta0"
