"""A curve as stored: per width, each seed's test error, train error and test loss; and its landmarks.

Landmarks are located on the seed-mean curve (a width is a place on the grid, the same for every seed); whether
a landmark is real is for ``claims`` to judge on the per-seed values at those widths.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..runner import Results
from .protocol import CURVE, QUICK_WIDTHS, Curve

ZERO_TRAIN = 1.0  # % train error that counts as interpolating the noisy training set


def test_error(result: dict) -> float:
    """Error on the test split, %."""
    return 100 * result["final"]["val/error"]


def train_error(result: dict) -> float:
    """Error on the full training set against its (noisy) labels, %."""
    return 100 * result["final"]["train_eval/error"]


def test_loss(result: dict) -> float:
    return result["final"]["val/loss"]


@dataclass(frozen=True)
class Point:
    """One width: each seed's values (errors in %), in seed order."""

    width: int
    params: int
    seeds: tuple[int, ...]
    test: tuple[float, ...]
    train: tuple[float, ...]
    loss: tuple[float, ...]
    symbol: str = "n"

    @property
    def mean_test(self) -> float:
        return statistics.fmean(self.test)

    @property
    def mean_train(self) -> float:
        return statistics.fmean(self.train)

    @property
    def mean_loss(self) -> float:
        return statistics.fmean(self.loss)

    @property
    def name(self) -> str:
        return f"{self.symbol}={self.width}"

    def values(self, metric: str, seeds: Sequence[int] | None = None) -> list[float]:
        """``metric`` (test, train, loss) of the given seeds (default: all), in seed order."""
        chosen = self.seeds if seeds is None else seeds
        return [v for s, v in zip(self.seeds, getattr(self, metric)) if s in chosen]


def paired(a: Point, b: Point, metric: str) -> tuple[list[float], list[float]]:
    """``metric`` at ``a`` and at ``b`` for the seeds both have (the same seed trained both: they pair)."""
    common = [s for s in a.seeds if s in b.seeds]
    return a.values(metric, common), b.values(metric, common)


def measured_points(results: Results, curve: Curve) -> list[Point]:
    """The curve's widths that have runs, in increasing width."""
    points = []
    for width in sorted(set(curve.widths) | set(QUICK_WIDTHS[curve.name])):
        records = results.select(curve=curve.name, width=width)
        if records:
            points.append(Point(width, curve.params(width), tuple(r["tags"]["seed"] for r in records),
                                tuple(test_error(r["result"]) for r in records),
                                tuple(train_error(r["result"]) for r in records),
                                tuple(test_loss(r["result"]) for r in records), curve.symbol))
    return points


@dataclass(frozen=True)
class Shape:
    """A curve's landmarks on its seed-mean: the first width that interpolates (threshold), the lowest test
    error before it (minimum), the highest test error after that (peak: None if that is the widest point, for a
    peak needs a wider width below it), the lowest test error after the peak (descent), and the test loss's
    highest point after its own minimum before the threshold (loss_peak, None if it is the widest point)."""

    points: tuple[Point, ...]
    threshold: Point | None
    minimum: Point | None
    peak: Point | None
    descent: Point | None
    loss_minimum: Point | None
    loss_peak: Point | None

    def index(self, point: Point) -> int:
        return self.points.index(point)

    def before(self, point: Point) -> Point | None:
        """The next narrower measured width, or None."""
        at = self.index(point)
        return self.points[at - 1] if at else None

    @property
    def widest(self) -> Point:
        return self.points[-1]

    def at(self, width: int) -> Point | None:
        return next((p for p in self.points if p.width == width), None)


def _interior_max(points: Sequence[Point], key) -> Point | None:
    """The highest of ``points`` by ``key`` unless it is the last (nothing wider to fall back to)."""
    if len(points) < 2:
        return None
    top = max(points, key=key)
    return top if top is not points[-1] else None


def shape_of(points: Sequence[Point]) -> Shape:
    """The landmarks of a curve given as points (any order)."""
    points = tuple(sorted(points, key=lambda p: p.width))
    if not points:
        return Shape((), None, None, None, None, None, None)
    threshold = next((p for p in points if p.mean_train <= ZERO_TRAIN), None)
    before = points[:points.index(threshold)] if threshold is not None else points
    before = before or points[:1]
    minimum = min(before, key=lambda p: p.mean_test)
    peak = _interior_max(points[points.index(minimum):], key=lambda p: p.mean_test)
    peak = peak if peak is not minimum else None
    descent = min(points[points.index(peak) + 1:], key=lambda p: p.mean_test) if peak else None
    loss_minimum = min(before, key=lambda p: p.mean_loss)
    loss_peak = _interior_max(points[points.index(loss_minimum):], key=lambda p: p.mean_loss)
    loss_peak = loss_peak if loss_peak is not loss_minimum else None
    return Shape(points, threshold, minimum, peak, descent, loss_minimum, loss_peak)


def shapes(results: Results) -> dict[str, Shape]:
    """Every curve's shape from the stored runs."""
    return {name: shape_of(measured_points(results, curve)) for name, curve in CURVE.items()}
