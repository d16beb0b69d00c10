"""The one rule every study's claims are judged by: per-seed values, a 95% interval, three verdicts.

A comparison ("A beats B") is judged on the per-seed differences A - B, paired where the seeds pair (the same seed
trained both), or on Welch's interval of the difference of means where they do not:

- **holds** when the 95% t-interval of the mean difference lies wholly on the claimed side of the margin;
- **does not hold** when it lies wholly on the other side;
- **inconclusive** otherwise, and always with fewer than two seeds (no interval).

A number of the paper ("about 94%") is judged by whether our seeds' 95% interval of the mean overlaps the paper's
number give or take half its last printed digit (``precision``): **holds** if it does, **does not hold** if not.

The text of each verdict shows the per-seed values (or differences), the interval and n, so a reader can sign it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
NOT_JUDGED = "not judged"
CONFIDENCE = 0.95


def interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float] | None:
    """Mean and the two-sided t-interval of the mean of ``values``; None for fewer than two values."""
    values = [float(v) for v in values]
    if len(values) < 2:
        return None
    from scipy.stats import t

    mean = statistics.fmean(values)
    half = float(t.ppf(0.5 + confidence / 2, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def _welch(a: Sequence[float], b: Sequence[float], confidence: float) -> tuple[float, float, float] | None:
    """Mean difference of two independent samples and its Welch t-interval; None if either has < 2 values."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import t

    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    diff = statistics.fmean(a) - statistics.fmean(b)
    if va + vb == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(t.ppf(0.5 + confidence / 2, dof)) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def _number(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}"


@dataclass(frozen=True)
class Verdict:
    """A judged claim's verdict and the evidence: per-seed values, mean, 95% interval, n."""

    verdict: str
    evidence: str

    def __str__(self) -> str:
        return self.verdict


def compare(a: Sequence[float], b: Sequence[float] | float = 0.0, *, paired: bool = True, margin: float = 0.0,
            greater: bool = True, digits: int = 1) -> Verdict:
    """Judge "A exceeds B by more than ``margin``" (``greater=False``: "A is below B by more than ``margin``").

    ``b`` a number compares every seed of A with it. Paired differences need the same number of seeds on both
    sides, in the same (seed) order.
    """
    a = [float(v) for v in a]
    if isinstance(b, (int, float)):
        b_values, paired = [float(b)] * len(a), True
    else:
        b_values = [float(v) for v in b]
    if paired and len(a) != len(b_values):
        raise ValueError(f"paired comparison of {len(a)} and {len(b_values)} values: expected one pair per seed")
    if not a or not b_values:
        return Verdict(INCONCLUSIVE, "no runs")
    if paired:
        diffs = [x - y for x, y in zip(a, b_values)]
        bounds = interval(diffs)
        seeds = "per seed " + " ".join(_number(d, digits) for d in diffs)
        n = f"n={len(diffs)} paired"
    else:
        bounds = _welch(a, b_values, CONFIDENCE)
        seeds = (f"A {' '.join(f'{v:.{digits}f}' for v in a)}; B {' '.join(f'{v:.{digits}f}' for v in b_values)}")
        n = f"n={len(a)}+{len(b_values)} unpaired"
    if bounds is None:
        mean = statistics.fmean(a) - statistics.fmean(b_values)
        return Verdict(INCONCLUSIVE, f"{_number(mean, digits)} ({seeds}; {n}: no interval)")
    mean, lo, hi = bounds
    sign = 1 if greater else -1
    low, high = sorted((sign * (lo - sign * margin), sign * (hi - sign * margin)))
    verdict = HOLDS if low > 0 else FAILS if high < 0 else INCONCLUSIVE
    return Verdict(verdict, f"{_number(mean, digits)} [{_number(lo, digits)}, {_number(hi, digits)}] "
                            f"({seeds}; {n})")


def against_paper(values: Sequence[float], paper: float, precision: float = 0.5, digits: int = 1) -> Verdict:
    """Judge "our result is the paper's number": our 95% interval overlaps ``paper`` ± ``precision``."""
    values = [float(v) for v in values]
    seeds = "per seed " + " ".join(f"{v:.{digits}f}" for v in values)
    bounds = interval(values)
    if bounds is None:
        shown = f"{values[0]:.{digits}f} " if values else ""
        return Verdict(INCONCLUSIVE, f"{shown}({seeds}; n={len(values)}: no interval)")
    mean, lo, hi = bounds
    overlaps = lo <= paper + precision and hi >= paper - precision
    return Verdict(HOLDS if overlaps else FAILS,
                   f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] ({seeds}; n={len(values)})")
