"""The paper's transfer claims, as it states them, judged by the one rule: the learned function's rank among the
six baselines by final test loss ("middle of the pack"), and by training loss early in optimization ("especially
good at low training loss early"). Each rank comes from paired per-seed comparisons with every baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..runner import Claim, Results
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_JUDGED, Verdict, compare
from .protocol import BASELINES, LEARNED, MODELS


RANK = ("{model}: the learned function ranks in the middle of the pack (neither first nor last of the seven) by "
        "final test loss", "\"middle of the pack\" by final test loss (MNIST/CIFAR-10 convnets)")
EARLY = ("{model}: the lowest training loss of the seven early in optimization (step {early})",
         "\"especially good at low training loss early\"")


def final(result: dict[str, Any], metric: str) -> float:
    return result["final"][metric]


def early_train_loss(result: dict[str, Any], steps: int) -> float:
    """Training-set loss at the first evaluation at or after ``steps`` (the paper: good early in optimization)."""
    rows = [r for r in result["history"] if "train_eval/loss" in r and r["step"] >= steps]
    return rows[0]["train_eval/loss"] if rows else float("nan")


def against_baselines(learned: Sequence[float], baselines: Mapping[str, Sequence[float]]) -> dict[str, Verdict]:
    """Per baseline, "the learned function's loss is lower" on paired per-seed differences (learned − baseline)."""
    return {name: compare(learned, values, greater=False, digits=3) for name, values in baselines.items()}


def rank_range(verdicts: Mapping[str, Verdict]) -> tuple[int, int]:
    """The learned function's possible ranks (1 = lowest loss) among itself and the baselines: the baselines that
    surely beat it come first, the undecided ones may go either way."""
    above = sum(v.verdict == FAILS for v in verdicts.values())
    undecided = sum(v.verdict == INCONCLUSIVE for v in verdicts.values())
    return 1 + above, 1 + above + undecided


def evidence(verdicts: Mapping[str, Verdict]) -> str:
    low, high = rank_range(verdicts)
    rank = f"rank {low}" if low == high else f"rank {low}-{high}"
    return (f"{rank} of {len(verdicts) + 1}; learned − baseline, mean [95% interval]: "
            + ", ".join(f"{name} {v.evidence.split(' (')[0]}" for name, v in verdicts.items()))


def middle_of_the_pack(verdicts: Mapping[str, Verdict]) -> Verdict:
    """Neither first nor last: holds when some baseline surely beats it and it surely beats some baseline; does
    not hold when it is surely first or surely last; inconclusive otherwise."""
    beaten = sum(v.verdict == HOLDS for v in verdicts.values())
    above = sum(v.verdict == FAILS for v in verdicts.values())
    undecided = len(verdicts) - beaten - above
    verdict = (HOLDS if beaten and above else FAILS if not undecided and not (beaten and above) else INCONCLUSIVE)
    return Verdict(verdict, evidence(verdicts))


def first(verdicts: Mapping[str, Verdict]) -> Verdict:
    """Lowest of all: holds when it surely beats every baseline, does not hold when one surely beats it."""
    outcomes = [v.verdict for v in verdicts.values()]
    verdict = HOLDS if all(o == HOLDS for o in outcomes) else FAILS if FAILS in outcomes else INCONCLUSIVE
    return Verdict(verdict, evidence(verdicts))


def transfer_claims(results: Results, applicable: bool, early: int) -> list[Claim]:
    """Per model whose learned runs and every baseline's are stored for the same seeds."""
    claims = []
    for model in MODELS:
        seeds = [r["tags"]["seed"] for r in results.select(model=model, activation=LEARNED)]
        runs = {a: {r["tags"]["seed"]: r["result"] for r in results.select(model=model, activation=a)}
                for a in (*BASELINES, LEARNED)}
        if not seeds:
            continue
        missing = [a for a in BASELINES if set(seeds) - set(runs[a])]
        if missing:  # never a proxy: without the baselines no rank exists
            claims += [Claim(claim.format(model=model, early=early), f"the runs of {', '.join(missing)} (seeds "
                             f"{', '.join(map(str, seeds))}) are not stored", paper, NOT_JUDGED)
                       for claim, paper in (RANK, EARLY)]
            continue

        def values(activation: str, read) -> list[float]:
            return [read(runs[activation][s]) for s in seeds]

        def test_loss(result):
            return final(result, "val/loss")

        def early_loss(result):
            return early_train_loss(result, early)

        loss = against_baselines(values(LEARNED, test_loss), {b: values(b, test_loss) for b in BASELINES})
        claims.append(Claim.judged(RANK[0].format(model=model), middle_of_the_pack(loss), RANK[1], applicable))
        start = against_baselines(values(LEARNED, early_loss), {b: values(b, early_loss) for b in BASELINES})
        claims.append(Claim.judged(EARLY[0].format(model=model, early=early), first(start), EARLY[1], applicable))
    return claims
