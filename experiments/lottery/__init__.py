"""Lottery tickets on MNIST-1D (paper Fig. 3 and section F): a search per trial, then runs that need it.

``protocol`` declares the runs, ``tasks`` runs them on a worker, ``readers`` reads the stored runs by trial,
``claims`` judges the paper's sentences by the one rule, ``tables`` and ``figures`` draw the report.

    python -m experiments run lottery            # 3 trials: searches, then the retrainings that need them
    python -m experiments run lottery --quick    # the pipeline: 4 rounds of 30 steps, 7 short retrainings
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..runner import Claim, Results, Study
from ..runs import Run
from .claims import fig3_claims, section_f_claims
from .figures import figures
from .protocol import FULL, QUICK, declared_runs
from .readers import adjacency_stats, random_curve, table_cells, ticket_curve
from .tables import table


class Lottery(Study):
    """Lottery tickets, paper Fig. 3 and section F. Search per trial t (seed t): `configs/lottery.yaml`
    (residual MLP 40-500-500-10, Adam 2e-2, batch 100, layerwise magnitude pruning of weights and biases,
    rewinding to theta0) on the paper's linear schedule of sparsity k/99, scoring the weights of step 1000 of
    each round, every round of 1501 steps, up to round k = 91 (91.9%, the paper's "92%"; the later rounds do not
    change its ticket). Analysis of the 91.9% ticket with section F's protocol: new data (seed 43, 4000/1000),
    6000 steps of batch 500, Adam 2e-2, evaluation every 100 steps; dense, ticket and random mask (same
    layerwise sparsity, uniformly random) from theta0, dense also from a fresh init (seed 42 + t, the
    notebook's dense); columns shuffled (`np.random.seed(0); permutation(40)`), flipped, chunks (20:30, 30:40,
    0:10, 10:20); reinit: ticket and random masks on the fresh init. Fig. 3: at rounds k = 7, 14, ..., 91 and
    85, 88, a random mask of the ticket's layerwise counts (each layer's weights and bias pruned together to
    floor(k/99 x size + 0.5) zeros, seeded 1000 + t; at k = 91 the very mask of section F) trained like the
    search's round: 1501 steps from theta0 on the standard data, batch 100 (the search's round k continues the
    batch order where round k - 1 stopped, the random mask's run starts it afresh). Final test accuracy (%),
    mean ± sample std over 3 trials; every claim judged by the one rule on per-trial values, paired by trial.

    Section F's retrainings need their trial's search and receive its ticket (theta0 and every round's masks,
    the search's artifact `ticket.pt`); they train through `experiments.tasks:fit`, the ticket loaded by the
    `LoadTicket` callback. Fig. 3's random masks need nothing of the search (the counts are the schedule's, theta0
    is the model the trial's seed builds): they are `fit` runs of the search's config with `RandomMask` in place
    of `LotteryTicket`. The stored searches' `ticket.pt` is not in the store (the runs were copied from the clone
    that made them without it), so a section F retraining run again first runs its search again (the runner does
    it by itself; about 20 min per search on one thread). The stored runs were made with AVX2 kernels (their
    provenance's `cpu_capability`); on a CPU with other kernels the same code gives other last bits, which
    thousands of training steps turn into another draw of the study, so such a search may find another ticket
    than the one the stored retrainings used."""

    name = "lottery"
    title = "Lottery tickets: the 92% ticket on new data, permuted inputs and a new init (paper Fig. 3, section F)"
    seeds = (0, 1, 2)
    quick_seeds = (0,)

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        return declared_runs(quick, list(seeds))

    def protocol(self, quick: bool) -> str:
        text = " ".join(" ".join(line.strip() for line in paragraph.splitlines())
                        for paragraph in (self.__doc__ or "").strip().split("\n\n"))
        if quick:
            text += (f" Quick protocol (it checks the pipeline): search rounds k = 0, 45, 90, 91 of "
                     f"{QUICK['search_steps']} steps (scored at step {QUICK['score_at_step']}); retrainings of "
                     f"{QUICK['analysis_steps']} steps, evaluation every {QUICK['analysis_eval_every']}, one per "
                     "column order and per model and init (the other cells stay empty); Fig. 3's random mask at "
                     f"k = {', '.join(str(k) for k in QUICK['random_ks'])}; 1 trial.")
        return text

    def table(self, results: Results, quick: bool) -> str:
        return table(results, quick)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        applicable = not quick
        claims = fig3_claims(ticket_curve(results), random_curve(results), applicable) \
            if results.select(stage="search") else []
        return claims + section_f_claims(table_cells(results), adjacency_stats(results), applicable)

    def figures(self, results: Results, out: Path) -> list[str]:
        return figures(results, out)


__all__ = ["FULL", "QUICK", "Lottery"]
