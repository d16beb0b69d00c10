"""The lottery study's claims, each judged by the one rule (``experiments.verdicts``) on per-trial values.

A trial's runs share its search (theta0 and the ticket), its fresh init and its random mask, so every comparison
is paired by trial. A sentence that compares the ticket with several baselines is judged on each trial's smallest
margin (it holds only if the ticket beats all of them in the trials' interval); a sentence about a range of
sparsities on each trial's smallest (or largest) margin over the range. Margins stated in a sentence ("clearly",
"vanishes", "far more") were fixed before measuring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..runner import Claim
from ..verdicts import NOT_JUDGED, Verdict, against_paper, compare
from .paper import PAPER, PAPER_ADJACENCY, PAPER_FIG3
from .protocol import ANALYSIS_K
from .readers import ByTrial

CLEARLY = 1.0  # "hurts it clearly more": its lead over dense shrinks at least this many points more
VANISHES = 0.5  # the ticket's advantage "vanishes": at most this many points over dense
FAR_MORE = 5.0  # "adjacent far more often": p(3 adjacent) at least this many times a random mask's
SPARSE = (85, 95)  # "at 85-95% sparsity" (REFERENCE section 4): the rounds k with 85 <= 100 k / 99 <= 95


def combine(series: Sequence[ByTrial], pick: Callable[[Sequence[float]], float] = min) -> ByTrial:
    """Per trial present in every series, ``pick`` (min or max) of the series' values."""
    trials = sorted(set.intersection(*(set(s) for s in series))) if series else []
    return {t: pick([s[t] for s in series]) for t in trials}


def diff(a: ByTrial, b: ByTrial, scale: float = 1.0) -> ByTrial:
    """``a - scale * b`` per trial present in both."""
    return {t: a[t] - scale * b[t] for t in sorted(set(a) & set(b))}


def judged(claim: str, quantity: str, margins: ByTrial, paper: str, applicable: bool, **rule) -> Claim:
    """``claim``, judged on the per-trial ``margins`` (what ``quantity`` says they are) against zero; not judged
    while its runs are not stored."""
    if not margins:
        return Claim.judged(claim, Verdict(NOT_JUDGED, "its runs are not stored yet"), paper)
    verdict = compare([margins[t] for t in sorted(margins)], 0.0, **rule)
    return Claim.judged(f"{claim}: per trial, {quantity}", verdict, paper, applicable)


def _printed(row: str) -> str:
    p = PAPER[row]
    return f"{p['ticket'] - p['dense']:+.2f} vs dense, {p['ticket'] - p['random']:+.2f} vs random"


def section_f_claims(cells: Mapping[str, Mapping[str, ByTrial]], adjacency: Mapping[str, Mapping[int, ByTrial]],
                     applicable: bool = True) -> list[Claim]:
    """A verdict for each sentence of section F's text (and the shuffled-input claim of REFERENCE section 4)."""
    claims = []
    lead = "the smallest of ticket − dense (fresh init), − dense (theta0) and − random mask"

    def leads(row: str) -> ByTrial:
        c = cells[row]
        return combine([diff(c["ticket"], c["dense (fresh)"]), diff(c["ticket"], c["dense (theta0)"]),
                        diff(c["ticket"], c["random"])])

    def over_dense(row: str) -> ByTrial:
        return diff(cells[row]["ticket"], cells[row]["dense (theta0)"])

    claims.append(judged("On new data the ticket keeps its lead", lead, leads("new"), _printed("new"), applicable))
    claims.append(judged("Reversing the signal (spatial structure kept, positions changed) leaves it winning", lead,
                         leads("flipped"), _printed("flipped"), applicable))
    claims.append(judged("Swapping the signal's halves (chunks: local structure kept, positions changed) leaves "
                         "it winning, as reversing does", lead, leads("chunks"),
                         f"not in the text; printed {_printed('chunks')}", applicable))
    p = {row: PAPER[row]["ticket"] - PAPER[row]["dense"] for row in PAPER}
    drops = combine([diff(over_dense("new"), over_dense("shuffled")),
                     diff(over_dense("flipped"), over_dense("shuffled"))])
    claims.append(judged(
        f"Permuting the positions hurts it clearly more (by more than {CLEARLY:.0f} point)",
        "the smaller of how much more its lead over dense (theta0) shrinks on shuffled inputs than on new and on "
        "flipped ones", drops, f"{p['new'] - p['shuffled']:+.2f} vs new data, {p['flipped'] - p['shuffled']:+.2f} "
        "vs flipped (dense: fresh init)", applicable, margin=CLEARLY))
    shuffled = cells["shuffled"]
    claims.append(judged(
        f"Shuffled inputs: the ticket's advantage over dense vanishes (below {VANISHES} point)",
        "the larger of ticket − dense (fresh init) and − dense (theta0) on shuffled inputs",
        combine([diff(shuffled["ticket"], shuffled["dense (fresh)"]), over_dense("shuffled")], max),
        f"{p['shuffled']:+.2f}", applicable, margin=-VANISHES, greater=False))
    reinit = cells["reinit"]
    claims.append(judged(
        "A new init with the mask kept still beats the baselines (dense and random mask, new inits)",
        "the smaller of ticket mask − dense and − random mask, all from the fresh init",
        combine([diff(reinit["ticket"], reinit["dense (fresh)"]), diff(reinit["ticket"], reinit["random"])]),
        f"{p['reinit']:+.2f} vs dense, {PAPER['reinit']['ticket'] - PAPER['reinit']['random']:+.2f} vs random",
        applicable))
    ticket, random = adjacency["ticket"][3], adjacency["random"][3]
    ratios = {t: ticket[t] / max(random[t], 1e-12) for t in sorted(set(ticket) & set(random))}
    paper_ratio = PAPER_ADJACENCY["ticket"][3] / PAPER_ADJACENCY["random"][3]
    for threshold, sentence in ((1.0, "more often than a random mask's"),
                                (FAR_MORE, f"far more often than a random mask's (at least {FAR_MORE:.0f}x)")):
        claims.append(judged(
            f"The ticket's surviving first-layer weights are adjacent {sentence}",
            "p(3 adjacent) of the ticket / of the random mask, minus the threshold",
            {t: r - threshold for t, r in ratios.items()},
            f"{paper_ratio:.0f}x ({PAPER_ADJACENCY['ticket'][3]} vs {PAPER_ADJACENCY['random'][3]})", applicable))
    return claims


def fig3_claims(ticket: Mapping[int, ByTrial], random: Mapping[int, ByTrial], applicable: bool = True) -> list[Claim]:
    """The search's gain and Fig. 3 (REFERENCE section 4): at 85-95% sparsity the ticket beats the dense network
    while a random mask of the same layerwise sparsity does not; the paper's three numbers at 92%."""
    def sparse(curve: Mapping[int, ByTrial]) -> list[int]:
        return [k for k in sorted(curve) if k > 0 and SPARSE[0] <= 100 * k / 99 <= SPARSE[1]]

    dense = ticket.get(0, {})
    f3 = PAPER_FIG3
    claims = [judged(f"Search: the {100 * ANALYSIS_K / 99:.0f}% ticket beats the dense network",
                     "ticket (round 91) − dense (round 0)", diff(ticket.get(ANALYSIS_K, {}), dense),
                     f"{f3['ticket']} vs {f3['dense']} ({f3['ticket'] - f3['dense']:+.1f})", applicable)]
    ticket_ks = sparse(ticket)
    claims.append(judged(
        "At 85-95% sparsity the ticket beats the dense network",
        f"the smallest over the searched rounds k = {ticket_ks[0] if ticket_ks else '-'}..{ANALYSIS_K} of the "
        "round's final test accuracy − round 0's", combine([diff(ticket[k], dense) for k in ticket_ks]),
        f"{f3['ticket']} vs {f3['dense']} at 92%", applicable))
    random_ks = sparse(random)
    shown = ", ".join(str(k) for k in random_ks) or "-"
    claims.append(judged(
        "At 85-95% sparsity a random mask of the ticket's layerwise sparsity does not beat the dense network: it "
        "stays below it", f"the largest over k = {shown} of random mask − dense (round 0)",
        combine([diff(random[k], dense) for k in random_ks], max), f"about {f3['random']} vs {f3['dense']} at 92%",
        applicable, greater=False))
    claims.append(judged(
        "At 85-95% sparsity the ticket beats a random mask of its layerwise sparsity",
        f"the smallest over k = {shown} of ticket − random mask",
        combine([diff(ticket[k], random[k]) for k in random_ks if k in ticket]),
        f"{f3['ticket']} vs about {f3['random']} at 92%", applicable))
    numbers = (("ticket", ticket.get(ANALYSIS_K, {}), "The 92% ticket reaches about", 0.5),
               ("dense", dense, "The dense network reaches", 0.05),
               ("random", random.get(ANALYSIS_K, {}), "A random mask at 92% reaches about", 0.5))
    for name, series, sentence, precision in numbers:
        claim = f"{sentence} {f3[name]}% (test accuracy at the end of the round)"
        verdict = (against_paper([series[t] for t in sorted(series)], f3[name], precision) if series
                   else Verdict(NOT_JUDGED, "its runs are not stored yet"))
        claims.append(Claim.judged(claim, verdict, f"{f3[name]}", applicable))
    return claims
