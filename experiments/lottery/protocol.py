"""The lottery study's runs: per trial a search, section F's retrainings of its 92% ticket, which need the search
and get its ticket as an artifact, and Fig. 3's random masks over the searched sparsities.

A search trains ``configs/lottery.yaml`` (residual MLP 40-500-500-10, Adam 2e-2, batch 100) with ``LotteryTicket``
on the paper's linear schedule of sparsity k/99 (every round up to k = 91, 1501 steps a round, scored at step
1000). A retraining is a LightningCLI config trained by ``experiments.tasks:fit`` plus the ticket to load into it:
which masks (dense, the ticket's, or random ones with the ticket's layerwise counts), of which round, from which
initialization (the search's theta0, or the config's own seed). A random mask of round k needs nothing of the
search: the ticket's layerwise counts are fixed by the schedule (``prune`` leaves each layer exactly
``floor(k / 99 * size + 0.5)`` zeros) and theta0 is the model the search's seed builds, so Fig. 3's random masks
are plain ``fit`` runs of the search's config with ``RandomMask`` in place of ``LotteryTicket``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..runs import QUIET_TRAINER, Run, load_config

SEARCH_TASK = "experiments.lottery.tasks:search"
RETRAIN_TASK = "experiments.lottery.tasks:retrain"
PAPER_ROUNDS = 100  # the paper's linear schedule: sparsity k / 99 in round k
ANALYSIS_K = 91  # 91/99 = 91.9%: the paper's "92%" ticket
FIRST_LAYER = "net.input.weight"
TABLE_EVERY = 7  # the search table (and Fig. 3's random masks) every 7th round
WINDOWS = (2, 3, 4)

# section F's protocol
NEW_DATA_SEED = 43
FRESH_SEED = 42  # fresh init of trial t: seed 42 + t
RANDOM_MASK_SEED = 1000  # random masks of trial t: seeded with 1000 + t (nested across sparsities)
COLUMNS = {
    "new": list(range(40)),
    "shuffled": [int(i) for i in np.random.RandomState(0).permutation(40)],  # np.random.seed(0); permutation(40)
    "flipped": list(range(39, -1, -1)),
    "chunks": list(range(20, 30)) + list(range(30, 40)) + list(range(10)) + list(range(10, 20)),
}
PERMUTATION = {"new": "none", "shuffled": COLUMNS["shuffled"], "flipped": "reverse", "chunks": "swap_halves"}
ROWS = ("new", "shuffled", "flipped", "chunks", "reinit")
MODELS = ("dense", "ticket", "random")
INITS = ("theta0", "fresh")

FULL = {"search_steps": 1501, "score_at_step": 1000, "search_eval_every": 79, "stride": 1,  # 1501 = 19 x 79
        "analysis_steps": 6000, "analysis_eval_every": 100,
        # Fig. 3: every 7th round, and 85 and 88 so that the paper's 85-95% range has three points
        "random_ks": tuple(sorted({*range(TABLE_EVERY, ANALYSIS_K + 1, TABLE_EVERY), 85, 88}))}
QUICK = {"search_steps": 30, "score_at_step": 20, "search_eval_every": 10, "stride": 45,
         "analysis_steps": 60, "analysis_eval_every": 20, "random_ks": (91,)}


def schedule_ks(stride: int) -> list[int]:
    """The rounds k of the paper's k/99 schedule that the search trains: every ``stride``-th, ending at 91."""
    ks = list(range(0, ANALYSIS_K + 1, stride))
    return ks if ks[-1] == ANALYSIS_K else ks + [ANALYSIS_K]


def search_config(trial: int, protocol: Mapping[str, Any]) -> dict[str, Any]:
    """A search run's config: ``configs/lottery.yaml`` with the paper's linear schedule (the rounds trained), the
    trial's seed, a quiet trainer; the round whose ticket is analysed and the seed of its random mask."""
    cli = load_config("configs/lottery.yaml")
    ticket = copy.deepcopy(cli["trainer"]["callbacks"][0])
    if not ticket["class_path"].endswith("LotteryTicket"):
        raise ValueError(f"configs/lottery.yaml's first callback is {ticket['class_path']}, not LotteryTicket")
    sparsities = [k / (PAPER_ROUNDS - 1) for k in schedule_ks(protocol["stride"])]
    args = ticket["init_args"]
    for name in ("rounds", "prune_fraction", "final_sparsity"):
        args.pop(name, None)
    args.update(steps_per_round=protocol["search_steps"], schedule="explicit", sparsities=sparsities,
                score_at_step=protocol["score_at_step"], pruning="magnitude", rewind_step=0, reinit=False,
                seed=trial)
    trainer = {**cli["trainer"], **QUIET_TRAINER, "callbacks": [ticket],
               "max_steps": len(sparsities) * protocol["search_steps"],
               "val_check_interval": protocol["search_eval_every"]}
    cli = {**cli, "trainer": trainer, "seed_everything": trial}
    return {"cli": cli, "analysis_round": len(sparsities) - 1, "random_mask_seed": RANDOM_MASK_SEED + trial}


def _trainer(steps: int, eval_every: int) -> dict[str, Any]:
    return {"accelerator": "cpu", "devices": 1, "max_steps": steps, "max_epochs": -1,
            "val_check_interval": eval_every, "check_val_every_n_epoch": None, "num_sanity_val_steps": 0,
            **QUIET_TRAINER, "callbacks": []}


def _ticket(trial: int, model: str, init: str, round_index: int) -> dict[str, Any]:
    if model not in MODELS or init not in INITS:
        raise ValueError(f"model={model!r}, init={init!r} is invalid: allowed a model of {list(MODELS)} and an "
                         f"init of {list(INITS)}")
    ticket = {"masks": model, "init": init, "round": round_index}
    if model == "random":
        ticket["mask_seed"] = RANDOM_MASK_SEED + trial
    return ticket


def analysis_config(search: Mapping[str, Any], trial: int, model: str, init: str, columns: str,
                    protocol: Mapping[str, Any]) -> dict[str, Any]:
    """One retraining of section F: ``model`` (dense, ticket, random) from ``init`` (theta0, fresh: seed 42 + t)
    on the new data (seed 43, batch 500) with the input columns ``COLUMNS[columns]``, Adam 2e-2."""
    cli = {"seed_everything": FRESH_SEED + trial if init == "fresh" else trial, "torch_threads": 1,
           "trainer": _trainer(protocol["analysis_steps"], protocol["analysis_eval_every"]),
           "model": copy.deepcopy(search["cli"]["model"]),
           "data": {"variant": "standard", "overrides": {"seed": NEW_DATA_SEED}, "batch_size": 500,
                    "ordered": True, "validation": "test", "permutation": PERMUTATION[columns]}}
    return {"cli": cli, "ticket": _ticket(trial, model, init, search["analysis_round"])}


def random_mask_config(search: Mapping[str, Any], trial: int, k: int) -> dict[str, Any]:
    """Fig. 3's random mask at round k: one round of the search's own training (its config: data, batch 100, steps,
    evaluation, seed t, so the model starts from theta0) with ``RandomMask`` at sparsity k/99 in place of
    ``LotteryTicket``: each layer's weights and bias pruned together to the ticket's count at round k, at random."""
    ticket_args = search["cli"]["trainer"]["callbacks"][0]["init_args"]
    mask = {"class_path": "lightning_modules.lottery.RandomMask",
            "init_args": {"sparsity": k / (PAPER_ROUNDS - 1), "seed": RANDOM_MASK_SEED + trial,
                          "scope": ticket_args["scope"], "prune_biases": ticket_args["prune_biases"]}}
    trainer = {**search["cli"]["trainer"], "callbacks": [mask], "max_steps": ticket_args["steps_per_round"]}
    return {**copy.deepcopy(search["cli"]), "trainer": trainer, "torch_threads": 1}


QUICK_CELLS = [("ticket", "theta0", "new"), ("dense", "fresh", "shuffled"), ("random", "theta0", "flipped"),
               ("dense", "theta0", "chunks"), ("ticket", "fresh", "new"), ("random", "fresh", "new")]


def analysis_cells(quick: bool = False) -> list[tuple[str, str, str]]:
    """``(model, init, columns)`` of section F's retrainings, the most telling first; reinit: new data, the
    masks on the fresh init. The quick protocol checks the pipeline with one cell per column order and per
    model and init (``QUICK_CELLS``)."""
    if quick:
        return list(QUICK_CELLS)
    cells = []
    for columns in ("new", "shuffled", "flipped", "reinit", "chunks"):
        if columns == "reinit":
            cells += [("ticket", "fresh", "new"), ("random", "fresh", "new")]
            continue
        cells += [("ticket", "theta0", columns), ("dense", "theta0", columns), ("dense", "fresh", columns),
                  ("random", "theta0", columns)]
    return cells


def declared_runs(quick: bool, trials: list[int]) -> list[Run]:
    """Every run of the protocol: the searches, then trial by trial section F's and Fig. 3's retrainings (a
    worker trains trial 0's while another still searches trial 2)."""
    protocol = QUICK if quick else FULL
    searches = {t: Run({"stage": "search", "seed": t}, search_config(t, protocol), SEARCH_TASK) for t in trials}
    runs = list(searches.values())
    for t, search in searches.items():
        for model, init, columns in analysis_cells(quick):
            tags = {"stage": "analysis", "model": model, "init": init, "columns": columns, "seed": t}
            runs.append(Run(tags, analysis_config(search.config, t, model, init, columns, protocol), RETRAIN_TASK,
                            needs=(search,)))
        for k in protocol["random_ks"]:
            runs.append(Run({"stage": "random_mask", "k": k, "seed": t}, random_mask_config(search.config, t, k)))
    return runs
