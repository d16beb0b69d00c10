"""``MetaLearning``: the study that ties the protocol, the claims, the tables and the figures together."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..learned_activation import activation_config
from ..runner import Claim, Results, Study
from ..runs import Run
from . import claims, figures, protocol, readers, tables


class MetaLearning(Study):
    """Section B: the inner SGD rate of a tanh MLP 40-50-10 (200 steps, batch 50) metalearned by gradient descent
    (rate 0.3, 50 outer steps) on the mean inner loss, from 1.5 and from 0.15, theta0 seeds 0 (the paper's), 1, 2.
    Section C: f(x) = elu(x) + 0.2 g(x) metalearned for 301 outer steps through 301 steps of RMSprop of an MLP
    40-128-10 on 8000 examples, seeds 0 (the paper's), 1, 2; per seed, one inner run each with the six baselines,
    the reference's hand-fitted piecewise-linear f, the learned f and our least-squares piecewise fit of it (the
    reference's breakpoints)."""

    name = "metalearning"
    title = "Metalearning a learning rate and an activation function (paper Figs. 5 and 6)"
    seeds = (0, 1, 2)

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        return protocol.runs(quick, seeds)

    def shown_seeds(self, results: Results, quick: bool) -> list[int]:
        """The seeds the tables have a column for: the protocol's and any stored."""
        stored = {r["tags"]["seed"] for r in results.records if "seed" in r["tags"]}
        return sorted(set(self.quick_seeds if quick else self.seeds) | stored)

    def table(self, results: Results, quick: bool) -> str:
        seeds = self.shown_seeds(results, quick)
        outer_steps = activation_config(quick)["trainer"]["max_steps"]
        evaluations = readers.evaluations(results)
        lines = tables.lr_table(readers.lr_histories(results), seeds)
        lines += [""] + tables.trajectory_table(readers.activation_histories(results), seeds, outer_steps)
        lines += tables.evaluation_table(evaluations, seeds)
        lines += tables.shape_table(evaluations, seeds)
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        evaluations = readers.evaluations(results)
        return (claims.lr_claims(readers.lr_histories(results), not quick)
                + claims.activation_claims(readers.activation_histories(results), evaluations, not quick)
                + claims.baseline_claims(evaluations, not quick))

    def figures(self, results: Results, out: Path) -> list[str]:
        quick = self.is_quick(results)
        drawn = [figures.lr_figure(readers.lr_histories(results), out)]
        histories = readers.activation_histories(results)
        if histories:
            outer_steps = activation_config(quick)["trainer"]["max_steps"]
            drawn.append(figures.trajectory_figure(histories, outer_steps, out))
        evaluations = readers.evaluations(results)
        if evaluations:
            drawn += [figures.functions_figure(evaluations, out), figures.baselines_figure(evaluations, out)]
        return drawn

    def is_quick(self, results: Results) -> bool:
        """Whether the records are those of the quick protocol (figures are not told)."""
        quick_keys = {run.key for run in self.runs(True, self.quick_seeds)}
        return any(record["key"] in quick_keys for record in results.records)
