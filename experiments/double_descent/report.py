"""The study's tables: landmarks per curve, then every width with each seed's values beside the paper's."""

from __future__ import annotations

from collections.abc import Sequence

from ..runner import Results
from ..verdicts import interval
from . import paper
from .curves import Point, Shape, measured_points, shape_of
from .protocol import CURVES, N_TRAIN, QUICK_WIDTHS, Curve


def where(point: Point | None) -> str:
    if point is None:
        return "none in the grid"
    return f"{point.name}: {point.params:,} params = {point.params / N_TRAIN:.2f} N, test {point.mean_test:.1f}%"


def per_seed(point: Point | None, metric: str, seeds: Sequence[int], digits: int = 1) -> str:
    """Each seed's value in ``seeds`` order, — for a seed not run."""
    if point is None:
        return "—"
    values = dict(zip(point.seeds, getattr(point, metric)))
    return ", ".join(f"{values[s]:.{digits}f}" if s in values else "—" for s in seeds)


def mean_interval(point: Point | None, metric: str = "test", digits: int = 1) -> str:
    """Mean over the seeds run and its 95% t-interval (``verdicts.interval``)."""
    if point is None:
        return "—"
    values = getattr(point, metric)
    bounds = interval(values)
    if bounds is None:
        return f"{values[0]:.{digits}f} (n=1)"
    mean, low, high = bounds
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def printed(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}" if round(value, digits) == value else f"{value}"


def landmarks(shapes: dict[str, Shape]) -> list[str]:
    lines = ["## Thresholds and peaks", "",
             "On the seed-mean curve: the first width with train error ≤ 1% (the interpolation threshold), the "
             "lowest test error before it and the highest after that (a peak only if a wider width is lower), in "
             "parameters and as a multiple of N = 4,000 training examples (N*K = 40,000). Whether each is real is "
             "judged per seed under Claims.", "",
             "| curve | first minimum | peak | first zero-train width | paper |", "|---|---|---|---|---|"]
    for curve in CURVES:
        s = shapes[curve.name]
        peak = ("—" if not s.points else where(s.peak) if s.peak
                else f"none (highest after the minimum: {s.widest.name}, the widest)")
        lines.append(f"| {curve.title} | {where(s.minimum) if s.points else '—'} | {peak} | "
                     f"{where(s.threshold) if s.points else '—'} | {paper.SHAPE[curve.name]} |")
    return lines


def curve_table(curve: Curve, shape: Shape, seeds: Sequence[int], quick: bool) -> list[str]:
    lines = ["", f"## {curve.title}", "",
             f"Per seed: seeds {', '.join(map(str, seeds))} in this order.", "",
             "| width | params | params / N | test error %, per seed | mean [95% interval] | paper | "
             "train error %, per seed | paper | test loss, per seed | paper |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    printed_widths = set(paper.TEST.get(curve.name, {})) | set(paper.TRAIN.get(curve.name, {}))
    widths = sorted(QUICK_WIDTHS[curve.name]) if quick else sorted(set(curve.widths) | printed_widths)
    for width in widths:
        point = shape.at(width)
        lines.append(
            f"| {width} | {curve.params(width):,} | {curve.params(width) / N_TRAIN:.2f} | "
            f"{per_seed(point, 'test', seeds)} | {mean_interval(point)} | "
            f"{printed(paper.TEST.get(curve.name, {}).get(width))} | {per_seed(point, 'train', seeds)} | "
            f"{printed(paper.train_error(curve.name, width))} | {per_seed(point, 'loss', seeds, 2)} | "
            f"{printed(paper.TEST_LOSS.get(curve.name, {}).get(width), 2)} |")
    if curve.name == "cnn_noisy" and not quick:
        (low, high), (lo_err, hi_err) = paper.CNN_RANGE
        inside = [p for p in shape.points if low <= p.width <= high]
        shown = "; ".join(f"{p.name} {mean_interval(p)}" for p in inside) or "—"
        lines.append(f"| {low}-{high} | | | | {shown} | {lo_err}-{hi_err} | | | | |")
    return lines


def table(results: Results, quick: bool) -> str:
    """Markdown: the landmarks, then each curve width by width."""
    shapes = {curve.name: shape_of(measured_points(results, curve)) for curve in CURVES}
    all_seeds = sorted({r["tags"]["seed"] for r in results.records})
    lines = landmarks(shapes)
    for curve in CURVES:
        seeds = sorted({s for p in shapes[curve.name].points for s in p.seeds}) or all_seeds
        lines += curve_table(curve, shapes[curve.name], seeds, quick)
    lines += ["", "— not run. Mean [95% t-interval of the mean] over the seeds run (n=1: no interval). Paper train "
                  "error: the printed value, or 0 from the printed first zero-train width on."]
    return "\n".join(lines)
