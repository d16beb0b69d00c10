"""The paper's claims on Figs. 5 and 6, judged by the one rule of ``experiments.verdicts`` on per-seed values:
a number of the paper by overlap with our seeds' 95% interval, an ordering or a gap by the interval of per-seed
differences, an equality within a tolerance by both one-sided checks of that interval."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..runner import Claim
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, Verdict, against_paper, compare
from . import paper
from .protocol import BASELINE_NAMES, INITS, LEARNED

History = list[dict[str, float]]
TIERS = (("relu", "swish"), ("elu", "tanh"), ("softplus",), ("sigmoid",))
SAME_RATE = 0.02  # "within 0.02 of each other"
MONOTONE_TOLERANCE = 1e-4  # a step against the direction smaller than this is rounding


def converged(history: History) -> float:
    """The rate after the last outer update."""
    return history[-1]["meta/lr_next"]


def against_direction(rates: Sequence[float], decreasing: bool) -> float:
    """The largest single step of ``rates`` against the expected direction (0 for a monotone sequence)."""
    sign = -1 if decreasing else 1
    return max([0.0] + [-sign * (b - a) for a, b in itertools.pairwise(rates)])


def within(differences: Sequence[float], tolerance: float, digits: int) -> Verdict:
    """"Equal within ``tolerance``": holds when the interval of the differences lies inside ±tolerance (both
    one-sided checks hold), does not hold when it lies wholly outside, inconclusive otherwise."""
    above = compare(differences, 0.0, margin=-tolerance, digits=digits)
    below = compare(differences, 0.0, greater=False, margin=-tolerance, digits=digits)
    verdicts = {above.verdict, below.verdict}
    verdict = HOLDS if verdicts == {HOLDS} else FAILS if FAILS in verdicts else INCONCLUSIVE
    return Verdict(verdict, above.evidence)


def lr_claims(histories: Mapping[float, Mapping[int, History]], applicable: bool) -> list[Claim]:
    """Section B on every theta0 seed that has both inits."""
    seeds = sorted(set(histories.get(INITS[0], {})) & set(histories.get(INITS[1], {})))
    if not seeds:
        return []
    runs = {init: [histories[init][s] for s in seeds] for init in INITS}
    claims = []
    for init in INITS:
        claims.append(Claim.judged(f"from {init}: the rate converges to about {paper.LR_CONVERGED} (± 0.05)",
                                   against_paper([converged(h) for h in runs[init]], paper.LR_CONVERGED, 0.05, 4),
                                   f"{paper.LR[init][48]} (after 49 updates)", applicable))
    claims.append(Claim.judged(f"both inits reach the same rate (within {SAME_RATE}): per seed, from 1.5 minus "
                               "from 0.15", within([converged(a) - converged(b) for a, b in zip(*runs.values())],
                                                   SAME_RATE, 4), "0.6243 / 0.6203", applicable))
    for init in INITS:
        claims.append(Claim.judged(f"from {init}: mean inner loss at convergence {paper.LR_MEAN_LOSS} (± 0.02)",
                                   against_paper([h[-1]["meta/mean_inner_loss"] for h in runs[init]],
                                                 paper.LR_MEAN_LOSS, 0.02, 4), f"{paper.LR_MEAN_LOSS}", applicable))
    def rates(history: History) -> list[float]:
        return [r["meta/lr"] for r in history] + [converged(history)]

    steps = [max(against_direction(rates(high), decreasing=True), against_direction(rates(low), decreasing=False))
             for high, low in zip(runs[INITS[0]], runs[INITS[1]])]
    claims.append(Claim.judged(f"monotone approach from above (1.5) and from below (0.15): per seed, the largest "
                               f"step against the direction, below {MONOTONE_TOLERANCE:g}",
                               compare(steps, 0.0, greater=False, margin=-MONOTONE_TOLERANCE, digits=4),
                               "monotone (Fig. 5)", applicable))
    return claims


def meta_loss_drop(history: History) -> float:
    """Percent fall of the meta-loss from outer step 0 to the median of the last 50 steps (the meta-loss spikes)."""
    tail = sorted(r["meta/loss"] for r in history[-50:])
    return 100 * (1 - tail[len(tail) // 2] / history[0]["meta/loss"])


def shape_features(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """The features of the paper's learned function (``paper.SHAPE``) measured on a curve sampled on [-5, 5]."""
    points = list(zip(x, y))
    lobe = max((v for u, v in points if -3 <= u <= -1), default=math.nan)
    left = min(points, key=lambda p: abs(p[0] + 5))[1]
    dip = min((v for u, v in points if -0.5 <= u <= 1.0), default=math.nan)
    crossing = next((u + (u2 - u) * -v / (w - v) for (u, v), (u2, w) in itertools.pairwise(points)
                     if 0 <= u <= 3 and v < 0 <= w), math.nan)
    right = [(u, v) for u, v in points if 1.5 <= u <= 3.0]
    slope = (right[-1][1] - right[0][1]) / (right[-1][0] - right[0][0]) if len(right) > 1 else math.nan
    return {"lobe": lobe, "left tail": left, "dip": dip, "zero crossing": crossing, "slope": slope}


def activation_claims(histories: Mapping[int, History], evaluations: Mapping[int, Mapping[str, Any]],
                      applicable: bool) -> list[Claim]:
    """Section C on every seed whose activation run is stored (and, for the inner runs, evaluated)."""
    claims = []
    if histories:
        drops = [meta_loss_drop(histories[s]) for s in sorted(histories)]
        claims.append(Claim.judged("the meta-loss falls by ≥ 30% from its initial value (median of the last 50 "
                                   "outer steps): per seed, the fall in %", compare(drops, 0.0, margin=30.0),
                                   "1.352 → 0.884 (34.6%)", applicable))
    seeds = sorted(s for s, runs in evaluations.items() if LEARNED in runs and "relu" in runs)
    if seeds:
        learned = [evaluations[s][LEARNED] for s in seeds]
        claims.append(Claim.judged("the learned activation beats relu on the inner task by ≥ 5 points (test "
                                   "accuracy, one inner run per seed)",
                                   compare([r["test_acc"] for r in learned],
                                           [evaluations[s]["relu"]["test_acc"] for s in seeds], margin=5),
                                   "68.4 vs ~59", applicable))
        features = [shape_features(r["curve"]["x"], r["curve"]["y"]) for r in learned]
        for name, (value, precision, where) in paper.SHAPE.items():
            claims.append(Claim.judged(f"its shape, {name}: {where} about {value:+g}",
                                       feature_verdict([f[name] for f in features], value, precision),
                                       f"{value:+g} (Fig. 6)", applicable))
    return claims


def feature_verdict(values: Sequence[float], paper_value: float, precision: float) -> Verdict:
    """``against_paper`` on a shape feature; a seed whose function lacks the feature (no zero crossing: NaN)
    cannot agree with the paper, so the claim does not hold when no seed has it and is inconclusive when some
    lack it."""
    missing = [k for k, v in enumerate(values) if math.isnan(v)]
    if not missing:
        return against_paper(values, paper_value, precision, 2)
    shown = "per seed " + " ".join("none" if math.isnan(v) else f"{v:.2f}" for v in values)
    return Verdict(FAILS if len(missing) == len(values) else INCONCLUSIVE, f"{shown}; n={len(values)}")


def tier_margin(score: Mapping[str, float], higher_is_better: bool) -> float:
    """How far apart the tiers ``TIERS`` are at their closest: the smallest gap between the worst member of a tier
    and the best of the next (negative when two tiers overlap; ``~`` within a tier is not judged)."""
    sign = 1 if higher_is_better else -1
    return min(min(sign * score[a] for a in upper) - max(sign * score[b] for b in lower)
               for upper, lower in itertools.pairwise(TIERS))


def baseline_claims(evaluations: Mapping[int, Mapping[str, Any]], applicable: bool) -> list[Claim]:
    """The baselines' order on the inner task, on every seed that has all six."""
    seeds = sorted(s for s, runs in evaluations.items() if all(n in runs for n in BASELINE_NAMES))
    if not seeds:
        return []
    order = " relu ~ swish > elu ~ tanh > softplus > sigmoid"
    loss = [tier_margin({n: evaluations[s][n]["mean_inner_loss"] for n in BASELINE_NAMES}, False) for s in seeds]
    acc = [tier_margin({n: evaluations[s][n]["test_acc"] for n in BASELINE_NAMES}, True) for s in seeds]
    return [
        Claim.judged("baseline order by mean inner loss:" + order + " (per seed, the closest gap between tiers)",
                     compare(loss, 0.0, digits=3), ", ".join(f"{n} {v}" for n, v in paper.BASELINE_LOSS.items()),
                     applicable),
        Claim.judged("baseline order by final test accuracy:" + order + " (per seed, the closest gap between tiers)",
                     compare(acc, 0.0), ", ".join(f"{n} ~{v}" for n, v in paper.BASELINE_ACC.items()), applicable),
    ]
