"""Reading the lottery study's stored runs: each number by trial (``{seed: value}``), so that claims pair them.

Section F's cells, the searches' adjacency at the analysis round, and Fig. 3's two curves: the search's final test
accuracy per round (the ticket of that round) and the random masks' per plotted round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..runner import Results
from .protocol import PAPER_ROUNDS, ROWS, WINDOWS

ByTrial = dict[int, float]
CELLS = ("dense (fresh)", "dense (theta0)", "ticket", "random")


def final_acc(result: Mapping[str, Any]) -> float:
    """A retraining's final test accuracy (%)."""
    return 100 * result["final"]


def by_trial(records: Sequence[dict[str, Any]], read) -> ByTrial:
    """``read(result)`` of each record, by its trial (the ``seed`` tag)."""
    return {r["tags"]["seed"]: read(r["result"]) for r in records}


def cell(results: Results, row: str, model: str, init: str) -> ByTrial:
    """Final test accuracy (%) by trial of one cell of section F's table (reinit: fresh init, new data)."""
    columns = "new" if row == "reinit" else row
    init = "fresh" if row == "reinit" else init
    return by_trial(results.select(stage="analysis", columns=columns, model=model, init=init), final_acc)


def table_cells(results: Results) -> dict[str, dict[str, ByTrial]]:
    """Every cell: ``{row: {"dense (fresh)", "dense (theta0)", "ticket", "random": {trial: acc}}}``; the reinit
    row has no dense from theta0 (its dense is the fresh-init one)."""
    return {row: {"dense (fresh)": cell(results, row, "dense", "fresh"),
                  "dense (theta0)": {} if row == "reinit" else cell(results, row, "dense", "theta0"),
                  "ticket": cell(results, row, "ticket", "theta0"),
                  "random": cell(results, row, "random", "theta0")} for row in ROWS}


def adjacency_stats(results: Results) -> dict[str, dict[int, ByTrial]]:
    """``{kind: {window: {trial: p(window adjacent)}}}`` of the first-layer masks at the analysis round."""
    searches = results.select(stage="search")
    return {kind: {w: by_trial(searches, lambda r, kind=kind, w=w: r["adjacency"][kind][str(w)]) for w in WINDOWS}
            for kind in ("ticket", "random")}


def search_finals(searches: Sequence[dict[str, Any]], i: int) -> list[float]:
    """Test accuracy (%) at the end of the ``i``-th trained round of each search that recorded it."""
    return [100 * r["result"]["history"][i]["final"] for r in searches
            if len(r["result"]["history"]) > i and r["result"]["history"][i]["final"] is not None]


def round_k(record: Mapping[str, Any]) -> int:
    """The k of a search round's record (its target sparsity is k / 99)."""
    return round((PAPER_ROUNDS - 1) * record["target_sparsity"])


def ticket_curve(results: Results) -> dict[int, ByTrial]:
    """``{k: {trial: final test accuracy (%)}}`` of the search's round k (k = 0: the dense network)."""
    curve: dict[int, ByTrial] = {}
    for record in results.select(stage="search"):
        for round_record in record["result"]["history"]:
            if round_record["final"] is not None:
                curve.setdefault(round_k(round_record), {})[record["tags"]["seed"]] = 100 * round_record["final"]
    return curve


def random_curve(results: Results) -> dict[int, ByTrial]:
    """``{k: {trial: final test accuracy (%)}}`` of Fig. 3's random masks at the search's round k."""
    curve: dict[int, ByTrial] = {}
    for record in results.select(stage="random_mask"):
        curve.setdefault(record["tags"]["k"], {})[record["tags"]["seed"]] = 100 * record["result"]["final"]["val/acc"]
    return curve


def values(series: Mapping[int, float]) -> list[float]:
    """The values of a by-trial series in trial order."""
    return [series[t] for t in sorted(series)]
