"""The lottery study's tables (Markdown): section F's retrainings next to the paper, the first-layer adjacency, and
the search's rounds with Fig. 3's random masks."""

from __future__ import annotations

from ..runner import Results, fmt, mean_std
from .paper import PAPER, PAPER_ADJACENCY
from .protocol import FULL, QUICK, ROWS, TABLE_EVERY, WINDOWS, schedule_ks
from .readers import adjacency_stats, random_curve, table_cells, ticket_curve, values

ROW_LABELS = {"new": "new data (seed 43)", "shuffled": "shuffled", "flipped": "flipped", "chunks": "chunks",
              "reinit": "reinit (new init, mask kept)"}


def _mean(numbers: list[float]) -> float | None:
    return mean_std(numbers)[0] if numbers else None


def section_f(results: Results) -> list[str]:
    cells = table_cells(results)
    lines = ["## Section F: final test accuracy (%) of the 92% ticket, measured vs paper", "",
             ("| condition | dense, fresh init | dense, theta0 | ticket | random mask | paper dense | "
              "paper ticket | paper random |"), "|---|---|---|---|---|---:|---:|---:|"]
    for row in ROWS:
        c, p = {name: values(series) for name, series in cells[row].items()}, PAPER[row]
        theta0 = "(= fresh init: the reinit row's new inits)" if row == "reinit" else fmt(c["dense (theta0)"])
        lines.append(f"| {ROW_LABELS[row]} | {fmt(c['dense (fresh)'])} | {theta0} | {fmt(c['ticket'])} | "
                     f"{fmt(c['random'])} | {p['dense']} | {p['ticket']} | {p['random']} |")
    return lines + ["", ("Ticket and random mask start from theta0 (the search's initialization) in the first four "
                         "rows and from the fresh init (seed 42 + trial) in the reinit row; the reinit row's dense "
                         "is the fresh-init dense net on new data. The paper printed the mean of 2 trials."), ""]


def adjacency(results: Results) -> list[str]:
    adj = {kind: {w: values(series) for w, series in windows.items()}
           for kind, windows in adjacency_stats(results).items()}
    lines = ["## First-layer adjacency at the analysis round", "",
             ("Fraction of windows of w adjacent input weights that are all kept, per first-layer unit, mean "
              "over the 500 units."), "",
             ("| w | ticket, trial 0 | ticket, mean over trials | random, trial 0 | random, mean over trials | "
              "ticket / random (mean) | paper ticket | paper random |"), "|---:|---:|---|---:|---|---:|---:|---:|"]
    for w in WINDOWS:
        t, r = adj["ticket"][w], adj["random"][w]
        if not t:
            continue
        ratio = f"{_mean(t) / _mean(r):.1f}x" if _mean(r) else "∞"
        lines.append(f"| {w} | {t[0]:.5f} | {fmt(t, 5)} | {r[0]:.5f} | {fmt(r, 5)} | {ratio} | "
                     f"{PAPER_ADJACENCY['ticket'][w]} | {PAPER_ADJACENCY['random'][w]} |")
    searches = results.select(stage="search")
    if not searches:
        return lines
    lines += ["", ("Corrected for density (the ticket keeps fewer first-layer weights than the random mask, as "
                   "biases are ranked with the weights of their layer): p(w adjacent) / density^w, which is 1 for "
                   "independent survival, mean over trials."), "",
              "| w | ticket | random | ticket / random |", "|---:|---:|---:|---:|"]
    for w in WINDOWS:
        enrichment = {kind: _mean([r["result"]["adjacency"][kind][str(w)]
                                   / r["result"]["first_layer_density"][kind] ** w for r in searches])
                      for kind in ("ticket", "random")}
        ratio = f"{enrichment['ticket'] / enrichment['random']:.1f}x" if enrichment["random"] else "∞"
        lines.append(f"| {w} | {enrichment['ticket']:.2f} | {enrichment['random']:.2f} | {ratio} |")
    s = searches[0]["result"]
    density = [r["result"]["first_layer_density"]["ticket"] for r in searches]
    lines += ["", (f"Sparsity of the analysis round: {100 * s['sparsity']:.2f}% overall (every layer "
                   f"{100 * s['history'][-1]['target_sparsity']:.1f}%, weight and bias ranked together); "
                   f"first-layer weight density {fmt(density, 4)} (ticket) and "
                   f"{fmt([r['result']['first_layer_density']['random'] for r in searches], 4)} (random)."), ""]
    return lines


def search_and_fig3(results: Results, quick: bool) -> list[str]:
    """The search's every 7th round (and the last), and Fig. 3's random masks where they were trained."""
    searches = results.select(stage="search")
    if not searches:
        return []
    protocol = QUICK if quick else FULL
    ks = schedule_ks(protocol["stride"])
    ticket, random = ticket_curve(results), random_curve(results)
    shown = [k for i, k in enumerate(ks) if k % TABLE_EVERY == 0 or i == len(ks) - 1 or k in protocol["random_ks"]]
    sparsities = {k: 100 * record["sparsity"] for k, record in zip(ks, searches[0]["result"]["history"])}
    lines = [f"## The search and Fig. 3: final test accuracy (%) of every {TABLE_EVERY}th round and the last, mean "
             "over trials (every round: `search.png`)", "",
             ("The ticket of round k is the search's own round (1501 steps from theta0, batch 100, the standard "
              "data); the random mask of round k is a run of that same training with a random mask of the "
              "ticket's layerwise counts (Fig. 3), — where it was not run."), "",
             "| round k | sparsity % | ticket search | random mask | ticket − random, per trial |",
             "|---:|---:|---|---|---|"]
    for k in shown:
        paired = sorted(set(ticket.get(k, {})) & set(random.get(k, {})))
        margins = " ".join(f"{ticket[k][t] - random[k][t]:+.1f}" for t in paired) or "—"
        lines.append(f"| {k} | {sparsities[k]:.1f} | {fmt(values(ticket.get(k, {})))} | "
                     f"{fmt(values(random.get(k, {})))} | {margins} |")
    return lines


def table(results: Results, quick: bool) -> str:
    return "\n".join(section_f(results) + adjacency(results) + search_and_fig3(results, quick))
