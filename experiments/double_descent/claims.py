"""The paper's Fig. 4 claims, each judged by the one rule of ``experiments.verdicts``.

A landmark's place is read off the seed-mean curve (``curves.shape_of``); that it is real is judged on the
per-seed values at those widths, paired by seed (the same seed trained both widths):

- an **interior peak**: the peak's test error exceeds the first minimum's and a wider width's (``descent``);
- the **interpolation threshold** at width w: train error <= 1% at w and > 1% at the next narrower width;
- a **number of the paper**: ``against_paper`` of the per-seed values at the landmark;
- **no bump** (clean MLP): at every width, the rise over the running minimum before it stays below 2 points.

A place that misses the paper's (a peak far from the threshold, a CNN minimum outside c = 8-12) does not
hold whatever the seeds say; a curve or width not run yet is "not judged". A claim of several parts holds when
every part holds, does not hold when any part does not, and is inconclusive otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..runner import Claim, Results
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_JUDGED, Verdict, against_paper, compare
from . import paper
from .curves import ZERO_TRAIN, Point, Shape, paired, shapes
from .protocol import CLASSES, CURVE, N_TRAIN

CLEAN_BUMP = 2.0  # points: the clean MLP's rise over its running minimum must stay below this
LOSS_PEAK_RATIO = 1.2  # a clear test-loss peak: this many times the loss at the widest width and at its minimum
NEAR = 2.0  # "near N" / "near N*K": within this factor (judged on log2 of the ratio)


def all_of(*parts: Verdict) -> Verdict:
    """A claim of several parts: holds if all hold, does not hold if any does not, else inconclusive (or not
    judged, if a part could not be judged)."""
    words = [part.verdict for part in parts]
    verdict = (FAILS if FAILS in words else HOLDS if all(w == HOLDS for w in words)
               else NOT_JUDGED if NOT_JUDGED in words else INCONCLUSIVE)
    return Verdict(verdict, "; ".join(part.evidence for part in parts))


def labelled(label: str, verdict: Verdict) -> Verdict:
    return Verdict(verdict.verdict, f"{label}: {verdict.evidence} → {verdict.verdict}")


def above(a: Point, b: Point, metric: str = "test", factor: float = 1.0) -> Verdict:
    """``metric`` at ``a`` exceeds ``factor`` times its value at ``b``, per seed (paired)."""
    high, low = paired(a, b, metric)
    return labelled(f"{a.name} − {f'{factor:g}×' if factor != 1 else ''}{b.name}",
                    compare(high, [factor * v for v in low], digits=2 if metric == "loss" else 1))


def interior_peak(s: Shape, metric: str = "test", wider_missing: Sequence[int] = ()) -> Verdict:
    """The peak is above the first minimum and above a wider width (judged per seed). With no interior peak
    yet but declared wider widths not run (``wider_missing``), it is not judged."""
    peak, low, later = ((s.peak, s.minimum, s.descent) if metric == "test"
                        else (s.loss_peak, s.loss_minimum, None))
    if peak is None:
        what = "test error" if metric == "test" else "test loss"
        text = (f"no interior peak: the highest mean {what} after the minimum is at the widest measured width "
                f"{s.widest.name}")
        if wider_missing:
            return Verdict(NOT_JUDGED, f"{text}; wider widths not run yet: {', '.join(map(str, wider_missing))}")
        return Verdict(FAILS, text)
    parts = [above(peak, low, metric)]
    if later is not None:
        parts.append(above(peak, later, metric))
    return all_of(*parts)


def threshold(s: Shape) -> Verdict:
    """The seeds interpolate (train error <= 1%) at the threshold width, and not at the width before it."""
    if s.threshold is None:
        return Verdict(FAILS, f"no width up to {s.widest.name} interpolates (mean train error ≤ {ZERO_TRAIN:g}%)")
    parts = [labelled(f"train at {s.threshold.name} − {ZERO_TRAIN:g}%",
                      compare(s.threshold.train, ZERO_TRAIN, greater=False))]
    before = s.before(s.threshold)
    if before is not None:
        parts.append(labelled(f"train at {before.name} − {ZERO_TRAIN:g}%", compare(before.train, ZERO_TRAIN)))
    return all_of(*parts)


def placed(ok: bool, where: str) -> Verdict:
    """A landmark's place on the grid: a fact of the mean curve, shown; a wrong place does not hold."""
    return Verdict(HOLDS if ok else FAILS, where)


def near(s: Shape, target: float) -> Verdict:
    """The interpolation threshold is within ``NEAR``x of ``target`` params: per seed, the threshold lies between
    the last width that does not interpolate and the first that does; log2 of its geometric middle over
    ``target`` must stay within ±log2(NEAR)."""
    distances, shown = [], []
    complete = [seed for seed in s.points[0].seeds if all(seed in p.seeds for p in s.points)]
    partial = sorted({seed for p in s.points for seed in p.seeds} - set(complete))
    for seed in complete:  # a seed not run at every width cannot say where it interpolates
        first = next((p for p in s.points if p.values("train", [seed])[0] <= ZERO_TRAIN), None)
        if first is None:
            widest = s.widest.params
            return Verdict(FAILS if widest >= NEAR * target else INCONCLUSIVE,
                           f"seed {seed}: no width up to {widest:,} params interpolates")
        before = s.before(first)
        middle = math.sqrt(before.params * first.params) if before else first.params
        distances.append(abs(math.log2(middle / target)))
        shown.append(f"seed {seed}: {before.params if before else 0:,}-{first.params:,}")
    verdict = compare(distances, math.log2(NEAR), greater=False, digits=2)
    skipped = (f"; seed{'s' if len(partial) > 1 else ''} {', '.join(map(str, partial))} not run at every width, "
               "left out" if partial else "")
    return Verdict(verdict.verdict, f"threshold between {', '.join(shown)} params; |log2(threshold / "
                                    f"{target:,.0f})| − 1: {verdict.evidence}{skipped}")


def peak_at_threshold(s: Shape, peak: Verdict) -> Verdict:
    """The (interior) peak lies within one grid point of the interpolation threshold, which the seeds confirm;
    without a peak, the peak's own verdict."""
    if s.peak is None:
        return peak
    close = s.threshold is not None and abs(s.index(s.peak) - s.index(s.threshold)) <= 1
    return all_of(placed(close, f"peak {s.peak.name}, threshold {s.threshold.name if s.threshold else 'none'}"),
                  threshold(s))


def not_run(what: str) -> Verdict:
    return Verdict(NOT_JUDGED, f"not run yet: {what}")


def _wider(s: Shape, missing: Sequence[int]) -> list[int]:
    return [w for w in missing if w > s.widest.width]


def _noisy_mlp(s: Shape, missing: Sequence[int]) -> list[tuple[str, Verdict, str]]:
    at_300, peak = s.at(300), interior_peak(s, "test", _wider(s, missing))
    return [
        ("MLP, noise: an interior test-error peak (above the first minimum, and a wider width below it)",
         peak, "47.2 (n=16) → 54.05 (n=47) → 45.5 (n=300)"),
        ("MLP, noise: the peak lies within one grid point of the interpolation threshold (first width with "
         f"train error ≤ {ZERO_TRAIN:g}%)", peak_at_threshold(s, peak), "peak n=47, zero train from n=61"),
        (f"MLP, noise: the rise from the first minimum to the peak is the paper's {paper.NOISY_RISE:g} points",
         labelled(f"{s.peak.name} − {s.minimum.name}", against_paper(
             [p - m for p, m in zip(*paired(s.peak, s.minimum, "test"))], paper.NOISY_RISE, 0.05))
         if s.peak else peak, "47.2 (n=16) → 54.05 (n=47): +6.85"),
        ("MLP, noise: by n = 300 the test error is below the first minimum's",
         above(s.minimum, at_300) if at_300 is not None else not_run("n=300"), "45.5 (n=300) < 47.2 (n=16)"),
    ]


def _clean_mlp(s: Shape, missing: Sequence[int]) -> list[tuple[str, Verdict, str]]:
    rises = []  # (width, mean rise, verdict of "rise < CLEAN_BUMP") over the running minimum before each width
    for k, point in enumerate(s.points[1:], start=1):
        low = min(s.points[:k], key=lambda p: p.mean_test)
        here, floor = paired(point, low, "test")
        rises.append((point, point.mean_test - low.mean_test,
                      compare(here, [v + CLEAN_BUMP for v in floor], greater=False)))
    no_bump = all_of(*(verdict for _, _, verdict in rises)) if rises else Verdict(INCONCLUSIVE, "one width")
    if missing and no_bump.verdict != FAILS:  # "at any width" needs every width
        no_bump = Verdict(NOT_JUDGED, no_bump.evidence)
    worst = max(rises, key=lambda r: r[1], default=None)
    evidence = (f"{len(rises)} widths judged, {sum(v.verdict == HOLDS for _, _, v in rises)} hold, "
                f"{sum(v.verdict == FAILS for _, _, v in rises)} do not; largest mean rise at {worst[0].name}: "
                f"rise − {CLEAN_BUMP:g} = {worst[2].evidence}" if worst else "one width")
    loss = s.loss_peak
    loss_parts = [interior_peak(s, "loss", _wider(s, missing))]  # says why there is none
    if loss is not None:
        loss_parts = [above(loss, s.widest, "loss", LOSS_PEAK_RATIO),
                       above(loss, s.loss_minimum, "loss", LOSS_PEAK_RATIO),
                       placed(s.threshold is not None and abs(s.index(loss) - s.index(s.threshold)) <= 1,
                              f"loss peak {loss.name}, threshold {s.threshold.name if s.threshold else 'none'}"),
                       threshold(s)]
    return [
        (f"MLP, clean: no test-error bump of {CLEAN_BUMP:g} points or more over the running minimum, at any width",
         Verdict(no_bump.verdict, evidence),
         "41.0 (n=27) → 41.7 (n=36): +0.7"),
        (f"MLP, clean: a clear test-loss peak (≥ {LOSS_PEAK_RATIO:g}x the loss at the widest n and at its minimum) "
         "within one grid point of the interpolation threshold", all_of(*loss_parts),
         "4.42 (n=47) vs 1.31 (n=9), 2.34 (n=300); zero train from n=47"),
    ]


def _cnn(s: Shape, missing: Sequence[int]) -> list[tuple[str, Verdict, str]]:
    minimum, peak, at_100 = s.minimum, s.peak, s.at(100)
    interior = interior_peak(s, "test", _wider(s, missing))
    return [
        ("CNN, noise: the first minimum lies at c = 8-12, at the paper's 19.6%",
         all_of(placed(8 <= minimum.width <= 12, f"minimum {minimum.name}"),
                labelled(f"test at {minimum.name}", against_paper(minimum.test, 19.6, 0.05))), "19.6% at c=10"),
        ("CNN, noise: an interior test-error peak at c = 16-24, where the train error reaches 0 (the "
         "interpolation threshold also at c = 16-24)",
         all_of(placed(16 <= peak.width <= 24 and s.threshold is not None and 16 <= s.threshold.width <= 24,
                       f"peak {peak.name}, threshold {s.threshold.name if s.threshold else 'none'}"),
                interior, threshold(s)) if peak else interior,
         "33.8% at c=18; zero train from c=24"),
        ("CNN, noise: the peak's test error is the paper's 33.8%",
         labelled(f"test at {peak.name}", against_paper(peak.test, 33.8, 0.05)) if peak
         else interior, "33.8% at c=18"),
        ("CNN, noise: a slow decline to the paper's 27.7% at c = 100, still above the first minimum",
         all_of(labelled("test at c=100", against_paper(at_100.test, 27.7, 0.05)), above(at_100, minimum))
         if at_100 is not None else not_run("c=100"), "27.7% at c=100 > 19.6% at c=10"),
    ]


def _thresholds(all_shapes: dict[str, Shape]) -> list[tuple[str, Verdict, str]]:
    def judged(name: str, target: float) -> Verdict:
        s = all_shapes[name]
        return near(s, target) if s.points else not_run(f"the {CURVE[name].title} curve")

    return [
        (f"Cross-entropy (NLL): the interpolation threshold lies near N (within {NEAR:g}x of 4,000 params)",
         judged("mlp_noisy", N_TRAIN), "≈ N"),
        (f"MSE, 20,000 steps: the interpolation threshold lies near N*K (within {NEAR:g}x of 40,000 params)",
         judged("mlp_mse", N_TRAIN * CLASSES), "≈ N*K = 40,000"),
        (f"MSE, 80,000 steps: the interpolation threshold lies near N*K (within {NEAR:g}x of 40,000 params)",
         judged("mlp_mse_long", N_TRAIN * CLASSES), "≈ N*K = 40,000 (the paper's budget is not stated)"),
    ]


def judge_shapes(all_shapes: dict[str, Shape], missing: dict[str, Sequence[int]] | None = None,
                 applicable: bool = True) -> list[Claim]:
    """Every claim, from the curves' shapes; ``missing``: declared widths not run yet, by curve."""
    missing = missing or {}
    groups = ((("mlp_noisy",), lambda: _noisy_mlp(all_shapes["mlp_noisy"], missing.get("mlp_noisy", ()))),
              (("mlp_clean",), lambda: _clean_mlp(all_shapes["mlp_clean"], missing.get("mlp_clean", ()))),
              (("cnn_noisy",), lambda: _cnn(all_shapes["cnn_noisy"], missing.get("cnn_noisy", ()))),
              (("mlp_noisy", "mlp_mse", "mlp_mse_long"), lambda: _thresholds(all_shapes)))
    claims = []
    for names, judged in groups:
        if not all(name in all_shapes for name in names) or not all_shapes[names[0]].points:
            continue
        gaps = "; ".join(f"{CURVE[name].symbol}={', '.join(map(str, missing[name]))}" for name in names
                         if missing.get(name) and all_shapes[name].points)
        for claim, verdict, paper_text in judged():
            if gaps and verdict.verdict != NOT_JUDGED:
                verdict = Verdict(verdict.verdict, f"{verdict.evidence} (partial grid, not run yet: {gaps})")
            claims.append(Claim.judged(claim, verdict, paper_text, applicable))
    return claims


def judge(results: Results, applicable: bool = True) -> list[Claim]:
    """Every claim of the paper's Fig. 4 and text, from the stored runs."""
    measured = shapes(results)
    missing = {name: [w for w in curve.widths if measured[name].at(w) is None] for name, curve in CURVE.items()}
    return judge_shapes(measured, missing, applicable)
