"""``MetaLearningTransfer``: the study that ties the transfer protocol, its claims, table and figure together."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..runner import Claim, Results, Study
from ..runs import Run
from . import claims, protocol, report


class MetaLearningTransfer(Study):
    """The learned activation of the metalearning study (seed 0, frozen, without its training noise) against the
    six baselines (relu, elu, swish, tanh, softplus, sigmoid) in the Table 1 MLP and CNN: configs/mlp.yaml and
    configs/cnn.yaml (Adam lr 1e-2, batch 100, 6000 steps), seeds 0-2; final test loss and accuracy, and the
    training loss early in optimization (step 500). The paper transferred to MNIST and CIFAR-10 convnets
    instead."""

    name = "metalearning_transfer"
    title = "The metalearned activation function in the Table 1 MLP and CNN"
    seeds = (0, 1, 2)
    early_step = 500

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        return protocol.runs(quick, seeds)

    def early(self, quick: bool) -> int:
        return 10 if quick else self.early_step

    def table(self, results: Results, quick: bool) -> str:
        seeds = sorted(set(self.quick_seeds if quick else self.seeds) | {r["tags"]["seed"] for r in results.records})
        return report.table(results, seeds, self.early(quick))

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        return claims.transfer_claims(results, not quick, self.early(quick))

    def figures(self, results: Results, out: Path) -> list[str]:
        return [report.figure(results, out)]
