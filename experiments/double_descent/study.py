"""``DoubleDescent``: the study as the runner sees it; each job is delegated to its own module."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..runner import Claim, Results, Study
from ..runs import Run
from . import claims, figures, protocol, report


class DoubleDescent(Study):
    """Five curves, each a width sweep: the MLP with 15% label noise and cross-entropy (the paper's main curve,
    all 19 widths), the MLP with clean labels (all 19 widths), the CNN with 15% label noise (c = 2-28 step 2,
    then 30, 35, 50, 70, 100: the paper's grid, coarser past c = 30), 3 seeds each, and the MLP with 15% noise
    trained on the squared error against one-hot targets (n = 16-600, around N and N*K) at 20,000 steps and again
    at 80,000 steps (n = 47-600), 2 seeds each. Every point is ``configs/double_descent_mlp.yaml`` or ``..._cnn.yaml``
    with one width and one seed S (``seed_everything`` S, ``data.shuffle_seed`` S): SGD lr 0.01, momentum 0.9, batch 100
    reshuffled every epoch, 20,000 steps, on the ``double_descent`` data (4,000 training examples with 15% of the
    labels resampled, 12,000 clean test examples, seed 42), trained by ``experiments.tasks:fit``; after the last
    step, the train error on the full noisy training set, the test error and the test loss. Points run cheapest
    first.

    Landmarks are located on the seed-mean curve: the interpolation threshold is the first width with mean train
    error <= 1%, the first minimum the lowest test error before it, the peak the highest test error after that
    minimum. Whether a landmark is real is judged on the per-seed values at those widths (see ``claims``).
    """

    name = "double_descent"
    title = "Deep double descent (paper Fig. 4): test error against parameter count"
    seeds = (0, 1, 2)
    quick_seeds = (0,)

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        return protocol.declared_runs(quick, seeds)

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        if quick:
            text += (f" Quick protocol: widths {protocol.QUICK_WIDTHS}, {protocol.QUICK_STEPS} steps, seed 0: "
                     "checks the pipeline, judges no claim.")
        return text

    def table(self, results: Results, quick: bool) -> str:
        return report.table(results, quick)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        return claims.judge(results, applicable=not quick)

    def figures(self, results: Results, out: Path) -> list[str]:
        return figures.draw(results, out)
