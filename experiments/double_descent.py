"""Deep double descent (paper Fig. 4): test error against model size, with label noise, for two losses.

Four curves, each a sweep of one width over seeds: the MLP with 15% label noise and cross-entropy (the paper's
main curve), the MLP with clean labels, the CNN with 15% label noise, and the MLP with 15% noise trained on the
squared error against one-hot targets (the paper's text: that loss moves the interpolation threshold from about N
to about N*K parameters). Every point is ``configs/double_descent_{mlp,cnn}.yaml`` with one width and one seed.

    python -m experiments run double_descent            # the protocol (see Study's docstring), 2 seeds
    python -m experiments run double_descent --quick    # 1-2 widths per curve, 600 steps, seed 0
    python -m experiments report double_descent
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from mnist1d_hf.atomic import save_figure

from .runner import NOT_APPLICABLE, Claim, Results, Study
from .runs import FIT, Run, fit_run, load_config, override
from .tasks import build

N_TRAIN, CLASSES = 4000, 10
STEPS = 20_000


@dataclass(frozen=True)
class Curve:
    """One sweep: a config, its width option, the widths, and what changes from the config."""

    name: str
    title: str
    config: str
    width_option: str
    widths: tuple[int, ...]
    overrides: tuple[tuple[str, Any], ...] = ()
    steps: int = STEPS

    def params(self, width: int) -> int:
        """The network's parameter count: n^2 + 52n + 10 (MLP) or 6c^2 + 58c + 10 (CNN)."""
        return mlp_params(width) if self.width_option == "hidden_size" else cnn_params(width)


def mlp_params(n: int) -> int:
    return n * n + 52 * n + 10


def cnn_params(c: int) -> int:
    return 6 * c * c + 58 * c + 10


# the paper's widths: unique(geomspace(2, 300, 20).astype(int)); CNN channels 2..28 step 2, then 30..100 step 5
PAPER_MLP_WIDTHS = (2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300)
PAPER_CNN_CHANNELS = tuple(range(2, 30, 2)) + tuple(range(30, 101, 5))

# The paper's printed test errors (%) and train errors (%), by width.
PAPER_TEST = {
    "mlp_noisy": {2: 69.6, 5: 57.5, 9: 49.0, 12: 50.3, 16: 47.2, 21: 50.8, 27: 50.7, 36: 52.8, 47: 54.05, 61: 54.0,
                  80: 52.1, 104: 50.2, 135: 48.4, 177: 47.9, 230: 46.5, 300: 45.5},
    "mlp_clean": {2: 68.5, 5: 61.4, 9: 49.3, 16: 44.6, 21: 42.6, 27: 41.0, 36: 41.7, 47: 41.0, 61: 41.2, 80: 39.6,
                  104: 38.6, 135: 38.6, 177: 38.1, 230: 37.1, 300: 37.3},
    "cnn_noisy": {2: 61.2, 4: 35.8, 6: 23.9, 8: 22.0, 10: 19.6, 12: 23.7, 14: 27.7, 16: 27.3, 18: 33.8, 20: 32.5,
                  22: 31.3, 24: 32.0, 26: 30.0, 28: 32.5, 30: 29.8, 100: 27.7},
    "mlp_mse": {},
}
PAPER_TRAIN = {"mlp_noisy": {36: 19.0, 47: 5.5}, "mlp_clean": {}, "cnn_noisy": {18: 10.9, 22: 5.5}, "mlp_mse": {}}
PAPER_TEST_LOSS = {"mlp_clean": {9: 1.31, 47: 4.42, 300: 2.34}}
PAPER_CNN_RANGE = ((35, 90), (28.1, 30.5))  # printed as a range only: test error 28.1-30.5% for c = 35..90
# first width with train error 0 in the paper (mlp_clean: "train error 0 from n=47")
PAPER_ZERO_TRAIN = {"mlp_noisy": 61, "mlp_clean": 47, "cnn_noisy": 24}

CLEAN = ("data.overrides", {"label_noise": 0})
MSE = ("model.init_args.loss", "mse")
MLP_CONFIG, CNN_CONFIG = "configs/double_descent_mlp.yaml", "configs/double_descent_cnn.yaml"

# The grid actually run (the study's docstring states every reduction of the paper's grid and why).
CLEAN_WIDTHS = (9, 27, 47, 104, 300)
CNN_CHANNELS = (4, 10, 18, 24)
MSE_WIDTHS = (16, 47, 104, 177, 300, 600)

CURVES = (
    Curve("mlp_noisy", "MLP, 15% label noise, cross-entropy", MLP_CONFIG, "hidden_size", PAPER_MLP_WIDTHS),
    Curve("mlp_clean", "MLP, clean labels, cross-entropy", MLP_CONFIG, "hidden_size", CLEAN_WIDTHS, (CLEAN,)),
    Curve("cnn_noisy", "CNN, 15% label noise, cross-entropy", CNN_CONFIG, "channels", CNN_CHANNELS),
    Curve("mlp_mse", "MLP, 15% label noise, MSE loss", MLP_CONFIG, "hidden_size", MSE_WIDTHS, (MSE,)),
)
CURVE = {curve.name: curve for curve in CURVES}
# After the main curve (run first, in width order), the other curves' points by how much a claim rests on them,
# so a sweep cut short loses the least informative points.
PRIORITY = (("mlp_clean", 47), ("mlp_mse", 177), ("cnn_noisy", 18), ("mlp_clean", 9), ("mlp_clean", 300),
            ("mlp_mse", 600), ("cnn_noisy", 10), ("mlp_mse", 47), ("cnn_noisy", 24), ("mlp_mse", 300),
            ("mlp_mse", 104), ("mlp_clean", 27), ("mlp_clean", 104), ("cnn_noisy", 4), ("mlp_mse", 16))
QUICK_WIDTHS = {"mlp_noisy": (4, 47), "mlp_clean": (47,), "cnn_noisy": (4,), "mlp_mse": (47,)}
QUICK_STEPS = 600
TASK = FIT
SPLITS = {"val": "val", "train_eval": "train"}  # logged name -> data split (validation is the test split)


def point_config(curve: Curve, width: int, seed: int, steps: int) -> dict[str, Any]:
    """The LightningCLI config of one point: the curve's config with its width, seed and step count; evaluated
    once, after the last step (only the final numbers are the result)."""
    config = override(load_config(curve.config), **dict(curve.overrides), **{
        f"model.init_args.net.init_args.{curve.width_option}": width, "seed_everything": seed, "data.seed": seed,
        "trainer.max_steps": steps, "trainer.val_check_interval": steps})
    return fit_run({}, config).config


# the task ----------------------------------------------------------------------------------------------------
def train(config: dict[str, Any]) -> dict[str, Any]:
    """``experiments.tasks.fit`` of the same config without the trainer's per-step hooks.

    The model, optimizer, data and batch order are the objects LightningCLI builds from the config (after its
    seeding); the loop is the trainer's automatic optimization (zero_grad, loss, backward, step) for
    ``trainer.max_steps`` steps, evaluated on the full test split (``val/*``) and the full, noisy training set
    (``train_eval/*``) every ``trainer.val_check_interval`` steps. For these small networks the trainer's hooks
    cost 1-3x the step itself; tests check that this reproduces ``fit`` exactly. Returns ``fit``'s shape:
    ``{"history": [{"step", "val/loss", "val/error", ...}], "final": <the last row>}``.
    """
    cli = build(config)
    model, data = cli.model, cli.datamodule
    trainer = config["trainer"]
    steps, every = int(trainer["max_steps"]), int(trainer["val_check_interval"])
    data.prepare_data()
    data.setup("fit")
    optimizer = model.configure_optimizers()
    batches = data.train_dataloader()
    iter(batches)  # the trainer's check that the loader is iterable draws (and drops) one epoch's order
    history: list[dict[str, float]] = []
    step = 0
    model.train()
    while step < steps:
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            _loss(model, x, y).backward()
            optimizer.step()
            step += 1
            if step % every == 0 or step == steps:
                history.append({"step": step, **evaluate(model, data)})
                model.train()
            if step == steps:
                break
    return {"history": history, "final": history[-1]}


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from lightning_modules.classifier import classification_loss

    return classification_loss(model(x), y, model.loss)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Any) -> dict[str, float]:
    """Loss, accuracy and error of the model on the whole test and training splits, under ``fit``'s names."""
    from lightning_modules.classifier import classification_loss

    model.eval()
    row = {}
    for logged, split in SPLITS.items():
        x, y = data.split(split)
        logits = model(x)
        error = (logits.argmax(-1) != y).float().mean().item()
        row |= {f"{logged}/loss": classification_loss(logits, y, model.loss).item(),
                f"{logged}/acc": 1 - error, f"{logged}/error": error}
    return row


def run_order(quick: bool) -> list[tuple[str, int]]:
    """(curve, width) in the order they run: the main curve first, then ``PRIORITY``."""
    if quick:
        return [(curve.name, w) for curve in CURVES for w in QUICK_WIDTHS[curve.name]]
    order = [("mlp_noisy", w) for w in CURVE["mlp_noisy"].widths] + list(PRIORITY)
    declared = {(curve.name, w) for curve in CURVES for w in curve.widths}
    if set(order) != declared or len(order) != len(declared):
        raise ValueError(f"PRIORITY does not list every declared point once: {sorted(declared ^ set(order))}")
    return order


class DoubleDescent(Study):
    """Every point is ``configs/double_descent_mlp.yaml`` or ``..._cnn.yaml`` with one width and one seed S
    (``seed_everything`` S, ``data.seed`` S; S = 0, 1): SGD lr 0.01, momentum 0.9, batch 100 reshuffled every epoch,
    20,000 steps, on the ``double_descent`` data (4,000 training examples with 15% of the labels resampled, 12,000
    clean test examples, seed 42); after the last step, the train error on the full noisy training set, the test
    error and the test loss. The runs use the task ``experiments.double_descent:train``: the objects ``fit`` builds,
    trained without the trainer's per-step hooks (tested to give ``fit``'s numbers exactly; 2-3x faster for the
    small MLPs). The paper's grid (88 widths x 2 seeds) needs about 3.5 h on this shared 2-core machine (measured
    20-50 s per small-MLP run, 240 s at n=600, 140-540 s per CNN run), so it was reduced to fit about 70 min, in
    this order: the CNN to c = 4, 10, 18, 24 (its first minimum, peak and zero-train width; of 29 channel counts,
    c = 100 not run), the clean MLP to n = 9, 27, 47, 104, 300 (of 15 printed widths; n = 9, 47, 300 are the printed
    test losses) and the MSE MLP to n = 16, 47, 104, 177, 300, 600 (around N and N*K); the noisy cross-entropy MLP
    keeps all 19 widths, every curve keeps 20,000 steps and 2 seeds. The main curve runs first.

    Landmarks: the interpolation threshold is the first width with mean train error <= 1%; the first minimum the
    lowest test error before it; the peak the highest test error after that minimum, if at least 1 point above it.
    """

    name = "double_descent"
    title = "Deep double descent (paper Fig. 4): test error against parameter count"
    seeds = (0, 1)
    quick_seeds = (0,)

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        runs = []
        for name, width in run_order(quick):
            curve = CURVE[name]
            for seed in seeds:
                config = point_config(curve, width, seed, QUICK_STEPS if quick else curve.steps)
                runs.append(Run({"curve": name, "width": width, "params": curve.params(width), "seed": seed},
                                config, TASK))
        return runs

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        if quick:
            text += (f" Quick protocol: widths {QUICK_WIDTHS}, {QUICK_STEPS} steps, seed 0: checks the pipeline, "
                     "judges no claim.")
        return text

    def table(self, results: Results, quick: bool) -> str:
        lines = ["## Thresholds and peaks", "",
                 "First width with train error ≤ 1% (the interpolation threshold) and the test-error peak after the "
                 "first minimum, in parameters and as a multiple of N = 4,000 training examples (N*K = 40,000).",
                 "", "| curve | first minimum | peak | first zero-train width | paper |", "|---|---|---|---|---|"]
        for curve in CURVES:
            points = measured_points(results, curve)
            shape = shape_of(points)
            lines.append(f"| {curve.title} | {_where(shape.minimum)} | {_where(shape.peak)} | "
                         f"{_where(shape.threshold)} | {PAPER_SHAPE[curve.name]} |")
        for curve in CURVES:
            lines += ["", f"## {curve.title}", "",
                      "| width | params | params / N | test error % | paper | train error % | paper | test loss | paper |",
                      "|---|---|---|---|---|---|---|---|---|"]
            widths = sorted(set(curve.widths) | set(PAPER_TEST[curve.name]) | set(PAPER_TRAIN[curve.name]))
            if quick:
                widths = sorted(QUICK_WIDTHS[curve.name])
            for width in widths:
                tags = {"curve": curve.name, "width": width}
                test = results.values(final_test_error, **tags)
                train = results.values(final_train_error, **tags)
                loss = results.values(final_test_loss, **tags)
                lines.append(f"| {width} | {curve.params(width):,} | {curve.params(width) / N_TRAIN:.2f} | "
                             f"{_fmt(test)} | {_paper(PAPER_TEST[curve.name].get(width))} | {_fmt(train)} | "
                             f"{_paper(PAPER_TRAIN[curve.name].get(width), zero_from=PAPER_ZERO_TRAIN.get(curve.name), width=width)} | "
                             f"{_fmt(loss, 2)} | {_paper(PAPER_TEST_LOSS.get(curve.name, {}).get(width), 2)} |")
            if curve.name == "cnn_noisy":
                (low, high), (lo_err, hi_err) = PAPER_CNN_RANGE
                inside = [w for w in curve.widths if low <= w <= high]
                lines.append(f"| {low}-{high} | | | {', '.join(_fmt(results.values(final_test_error, curve=curve.name, width=w)) for w in inside) or '—'} "
                             f"| {lo_err}-{hi_err} | | | | |")
        lines += ["", "Measured: mean ± sample std over seeds (n = seeds); — not run. Paper train error: the printed "
                  "value, or 0 from the printed first zero-train width on."]
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        shapes = {curve.name: shape_of(measured_points(results, curve)) for curve in CURVES}
        missing = {curve.name: [w for w in curve.widths if w not in {p.width for p in shapes[curve.name].points}]
                   for curve in CURVES} if not quick else {}
        return check_claims(shapes, applicable=not quick, missing=missing)

    def figures(self, results: Results, out: Path) -> list[str]:
        """Error (test solid, train dashed) and test loss against parameters; seeds' range shaded."""
        names = []
        errors = (("test", final_test_error, "-"), ("train", final_train_error, "--"))
        return [self._figure(results, out / "errors.png", errors, "error (%)", PAPER_TEST),
                self._figure(results, out / "test_loss.png", (("test loss", final_test_loss, "-"),), "test loss",
                             PAPER_TEST_LOSS)]

    def _figure(self, results: Results, path: Path, metrics: Sequence[tuple[str, Callable[[dict], float], str]],
                ylabel: str, paper_values: dict[str, dict[int, float]]) -> str:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 8))
        axes = fig.subplots(2, 2).ravel()
        for ax, curve in zip(axes, CURVES):
            for label, read, style in metrics:
                widths = [w for w in sorted(set(curve.widths) | set(QUICK_WIDTHS[curve.name]))
                          if results.values(read, curve=curve.name, width=w)]
                if not widths:
                    continue
                values = [results.values(read, curve=curve.name, width=w) for w in widths]
                params = [curve.params(w) for w in widths]
                ax.plot(params, [statistics.fmean(v) for v in values], style, marker="o", ms=3, color="tab:blue"
                        if label != "train" else "tab:orange", label=f"{label} (measured)")
                ax.fill_between(params, [min(v) for v in values], [max(v) for v in values], alpha=0.25,
                                color="tab:blue" if label != "train" else "tab:orange")
            paper = paper_values.get(curve.name, {})
            if paper:
                ax.plot([curve.params(w) for w in paper], list(paper.values()), "x", color="black",
                        label="paper")
            for x, name in ((N_TRAIN, "N"), (N_TRAIN * CLASSES, "N·K")):
                ax.axvline(x, color="gray", ls=":", lw=1)
                ax.text(x, 1.0, f" {name}", transform=ax.get_xaxis_transform(), va="top", fontsize=8,
                        color="gray")
            ax.set(xscale="log", xlim=(80, 6e5), title=curve.title, xlabel="parameters", ylabel=ylabel)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        fig.suptitle("MNIST-1D double descent: mean over seeds, shaded: the seeds' range")
        fig.tight_layout()
        save_figure(fig, path, dpi=110)
        return path.name


# reading results ---------------------------------------------------------------------------------------------
def final_test_error(result: dict) -> float:
    return 100 * result["final"]["val/error"]


def final_train_error(result: dict) -> float:
    """Error on the full training set against its (noisy) labels, %."""
    return 100 * result["final"]["train_eval/error"]


def final_test_loss(result: dict) -> float:
    return result["final"]["val/loss"]


def _fmt(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return "—"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={len(values)})"


def _paper(value: float | None, digits: int = 1, zero_from: int | None = None, width: int = 0) -> str:
    if value is not None:
        return f"{value:.{digits}f}" if round(value, digits) == value else f"{value}"
    if zero_from is not None and width >= zero_from:
        return "0"
    return ""


# the shape of a curve, and the claims --------------------------------------------------------------------------
ZERO_TRAIN = 1.0  # % train error that counts as "about 0" (interpolating the noisy training set)
PEAK_MIN_RISE = 1.0  # points above the first minimum a test-error maximum needs to count as a peak


@dataclass(frozen=True)
class Point:
    """One width's means over seeds (errors in %)."""

    width: int
    params: int
    test: float
    train: float
    loss: float
    symbol: str = "n"  # how the width is written: n (MLP hidden units) or c (CNN channels)


@dataclass(frozen=True)
class Shape:
    """Where a curve's landmarks fall: the first width that interpolates, the first test-error minimum before it,
    and the test-error peak after that minimum (None when the curve has no such point)."""

    points: tuple[Point, ...]
    threshold: Point | None
    minimum: Point | None
    peak: Point | None
    loss_peak: Point | None

    def index(self, point: Point) -> int:
        return self.points.index(point)


def measured_points(results: Results, curve: Curve) -> list[Point]:
    """The curve's widths that have runs, with the means over their seeds."""
    points = []
    for width in sorted(curve.widths + QUICK_WIDTHS[curve.name]):
        tags = {"curve": curve.name, "width": width}
        test = results.values(final_test_error, **tags)
        if test and not any(p.width == width for p in points):
            points.append(Point(width, curve.params(width), statistics.fmean(test),
                                statistics.fmean(results.values(final_train_error, **tags)),
                                statistics.fmean(results.values(final_test_loss, **tags)),
                                "n" if curve.width_option == "hidden_size" else "c"))
    return points


def shape_of(points: Sequence[Point]) -> Shape:
    """The landmarks of a curve given as points in increasing width.

    threshold: the first point with train error ≤ ``ZERO_TRAIN``. minimum: the lowest test error among the points
    before the threshold (all points when none interpolates). peak: the highest test error after the minimum, if
    at least ``PEAK_MIN_RISE`` points higher. loss_peak: the highest test loss after its minimum, if higher.
    """
    points = tuple(sorted(points, key=lambda p: p.width))
    threshold = next((p for p in points if p.train <= ZERO_TRAIN), None)
    before = (points[:points.index(threshold)] if threshold is not None else points) or points[:1]
    minimum = min(before, key=lambda p: p.test) if before else None
    after = points[points.index(minimum) + 1:] if minimum is not None else ()
    peak = max(after, key=lambda p: p.test) if after else None
    peak = peak if peak is not None and peak.test >= minimum.test + PEAK_MIN_RISE else None
    loss_min = min(before, key=lambda p: p.loss) if before else None
    loss_after = points[points.index(loss_min) + 1:] if loss_min is not None else ()
    loss_peak = max(loss_after, key=lambda p: p.loss) if loss_after else None
    loss_peak = loss_peak if loss_peak is not None and loss_peak.loss > loss_min.loss else None
    return Shape(points, threshold, minimum, peak, loss_peak)


def _where(point: Point | None, what: str = "") -> str:
    if point is None:
        return "none in the grid"
    value = f", {what} {getattr(point, what):.1f}" if what else f", test {point.test:.1f}%"
    return f"{point.symbol}={point.width}: {point.params:,} params = {point.params / N_TRAIN:.2f} N{value}"


PAPER_SHAPE = {
    "mlp_noisy": f"minimum n=16 (47.2%), peak n=47 ({mlp_params(47):,} params = {mlp_params(47) / N_TRAIN:.2f} N, "
                 f"54.05%), zero train from n=61 ({mlp_params(61):,} = {mlp_params(61) / N_TRAIN:.2f} N)",
    "mlp_clean": f"no error peak; test-loss peak n=47 (4.42); zero train from n=47 ({mlp_params(47):,} = "
                 f"{mlp_params(47) / N_TRAIN:.2f} N)",
    "cnn_noisy": f"minimum c=10 (19.6%), peak c=18 ({cnn_params(18):,} params = {cnn_params(18) / N_TRAIN:.2f} N, "
                 f"33.8%), zero train from c=24 ({cnn_params(24):,} = {cnn_params(24) / N_TRAIN:.2f} N)",
    "mlp_mse": "not printed; the text: threshold near N*K = 40,000 params (n about 176) vs near N for NLL",
}
PEAK_RISE = 4.0  # points the noisy-MLP peak must rise above the first minimum
CLEAN_BUMP = 2.0  # the clean MLP's largest test-error rise must stay below this (points)
LOSS_PEAK_RATIO = 1.2  # a "clear" test-loss peak: this many times the loss at the widest point and at the minimum
NEAR = 2.0  # "near N" / "near N*K": within this factor


def largest_rise(points: Sequence[Point]) -> float:
    """The largest rise of the test error above its running minimum over increasing width (0 if none)."""
    rise, low = 0.0, math.inf
    for p in points:
        low = min(low, p.test)
        rise = max(rise, p.test - low)
    return rise


def within_one_grid_point(shape: Shape, a: Point | None, b: Point | None) -> bool:
    return a is not None and b is not None and abs(shape.index(a) - shape.index(b)) <= 1


def near(params: int | None, target: float) -> bool:
    return params is not None and target / NEAR <= params <= target * NEAR


def check_claims(shapes: dict[str, Shape], applicable: bool = True,
                 missing: dict[str, Sequence[int]] | None = None) -> list[Claim]:
    """Every claim of the paper's Fig. 4 and text, judged on the curves' shapes (curves without points skipped).

    ``missing``: widths of the protocol not run yet, by curve; a verdict resting on such a curve says so.
    """
    groups = ((("mlp_noisy",), _noisy_mlp_claims), (("mlp_clean",), _clean_mlp_claims),
              (("cnn_noisy",), _cnn_claims), (("mlp_noisy", "mlp_mse"), _threshold_claims))
    claims: list[Claim] = []
    for names, judge in groups:
        if not all(shapes.get(name) is not None and shapes[name].points for name in names):
            continue
        gaps = [f"{name} {list(missing[name])}" for name in names if missing and missing.get(name)]
        for claim in judge(*(shapes[name] for name in names), applicable):
            if gaps and not claim.verdict.startswith(NOT_APPLICABLE):
                claim = replace(claim, verdict=f"{claim.verdict} (partial grid, not run: {'; '.join(gaps)})")
            claims.append(claim)
    return claims


def _noisy_mlp_claims(s: Shape, applicable: bool) -> list[Claim]:
    peak, minimum, threshold = s.peak, s.minimum, s.threshold
    widest = s.points[-1]
    rise = peak.test - minimum.test if peak and minimum else None
    return [
        Claim.check("MLP, noise: the error peak lies within one grid point of the first width with train error ≈ 0",
                    f"peak {_where(peak)}; zero train {_where(threshold, 'train')}",
                    "peak n=47, zero train from n=61", within_one_grid_point(s, peak, threshold), applicable),
        Claim.check(f"MLP, noise: the peak is ≥ {PEAK_RISE:g} points above the first minimum (n ≈ 9-16)",
                    f"minimum {_where(minimum)}; rise {rise:+.1f} points" if rise is not None else "no peak",
                    "47.2 (n=16) -> 54.05 (n=47): +6.9",
                    rise is not None and rise >= PEAK_RISE and 9 <= minimum.width <= 16, applicable),
        Claim.check("MLP, noise: the error descends to at most the first minimum by n = 300",
                    f"n={widest.width}: {widest.test:.1f}% vs minimum {minimum.test:.1f}%" if minimum else "—",
                    "45.5 (n=300) ≤ 47.2", widest.width >= 300 and minimum is not None
                    and widest.test <= minimum.test, applicable),
    ]


def _clean_mlp_claims(s: Shape, applicable: bool) -> list[Claim]:
    rise = largest_rise(s.points)
    loss_peak, widest = s.loss_peak, s.points[-1]
    loss_min = min(s.points[:s.index(loss_peak)], key=lambda p: p.loss) if loss_peak else None
    clear = (loss_peak is not None and loss_peak is not widest
             and loss_peak.loss >= LOSS_PEAK_RATIO * max(widest.loss, loss_min.loss))
    return [
        Claim.check(f"MLP, clean: at most a weak test-error bump (< {CLEAN_BUMP:g} points)",
                    f"largest rise {rise:.1f} points", "41.0 (n=27) -> 41.7 (n=36): 0.7", rise < CLEAN_BUMP,
                    applicable),
        Claim.check(f"MLP, clean: a clear test-loss peak (≥ {LOSS_PEAK_RATIO:g}x the loss at the widest n and at "
                    "the minimum before it) within one grid point of the first zero-train width",
                    (f"loss {loss_peak.loss:.2f} at n={loss_peak.width} vs {loss_min.loss:.2f} (n={loss_min.width})"
                     f" and {widest.loss:.2f} (n={widest.width}); zero train {_where(s.threshold, 'train')}")
                    if loss_peak else "no loss peak",
                    "4.42 (n=47) vs 1.31 (n=9), 2.34 (n=300); zero train from n=47",
                    clear and within_one_grid_point(s, loss_peak, s.threshold), applicable),
    ]


def _cnn_claims(s: Shape, applicable: bool) -> list[Claim]:
    minimum, peak, threshold = s.minimum, s.peak, s.threshold
    widest = s.points[-1]
    claims = [
        Claim.check("CNN, noise: first minimum near c = 8-12 at about 20% (± 3)", _where(minimum),
                    "19.6% at c=10", minimum is not None and 8 <= minimum.width <= 12
                    and abs(minimum.test - 20) <= 3, applicable),
        Claim.check("CNN, noise: a peak of 31-35% around c = 16-24, where train error reaches 0",
                    f"peak {_where(peak)}; zero train {_where(threshold, 'train')}",
                    "33.8% at c=18; zero train from c=24", peak is not None and 16 <= peak.width <= 24
                    and 31 <= peak.test <= 35 and threshold is not None and 16 <= threshold.width <= 24,
                    applicable),
    ]
    if widest.width >= 100:
        claims.append(Claim.check("CNN, noise: slow decline to about 27-29% at c = 100, above the first minimum",
                                  f"{widest.test:.1f}% at c={widest.width}", "27.7% at c=100",
                                  27 <= widest.test <= 29 and minimum is not None and widest.test > minimum.test,
                                  applicable))
    else:
        claims.append(Claim("CNN, noise: slow decline to about 27-29% at c = 100, above the first minimum",
                            f"not measured: widest c={widest.width}", "27.7% at c=100", "not measured"))
    return claims


def threshold_bracket(shape: Shape) -> tuple[int, int] | None:
    """Where the interpolation threshold can lie on this grid: (params of the last width before the first
    zero-train width, or 0; params of the first zero-train width]. None if no width interpolates."""
    if shape.threshold is None:
        return None
    at = shape.index(shape.threshold)
    return (shape.points[at - 1].params if at else 0), shape.threshold.params


def bracket_near(bracket: tuple[int, int] | None, target: float) -> bool | None:
    """Is the threshold near ``target`` (within ``NEAR``x)? True if the whole bracket is, False if none of it is
    (or nothing interpolates), None (partly) if the bracket straddles the band's edge."""
    if bracket is None:
        return False
    low, high = bracket
    if low >= target / NEAR and high <= target * NEAR:
        return True
    if high < target / NEAR or low >= target * NEAR:
        return False
    return None


def _threshold_claims(ce: Shape, mse: Shape, applicable: bool) -> list[Claim]:
    def position(shape: Shape) -> str:
        bracket = threshold_bracket(shape)
        if bracket is None:
            return f"no width up to n={shape.points[-1].width} interpolates"
        low, high = bracket
        return (f"threshold between {low:,} and {high:,} params ({low / N_TRAIN:.2f}-{high / N_TRAIN:.2f} N); "
                f"test-error peak at {f'{shape.peak.params:,}' if shape.peak else 'none'}")

    return [
        Claim.check(f"Cross-entropy (NLL): the interpolation threshold lies near N (within {NEAR:g}x of 4,000 "
                    "params)", position(ce), "≈ N", bracket_near(threshold_bracket(ce), N_TRAIN), applicable),
        Claim.check(f"MSE: the interpolation threshold lies near N*K (within {NEAR:g}x of 40,000 params)",
                    position(mse), "≈ N*K = 40,000", bracket_near(threshold_bracket(mse), N_TRAIN * CLASSES),
                    applicable),
    ]
