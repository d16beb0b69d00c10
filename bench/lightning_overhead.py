"""What Lightning costs per step: the Table 1 CNN protocol through our Trainer path vs a plain PyTorch loop.

Both sides train the paper's CNN from the same initialization on the same data with the reference loop's
semantics (Adam lr 1e-2, batch 100, ordered cycling batches, accuracy on the full train and test sets every
250 steps). The Trainer side is exactly what the ``table1`` study runs: ``configs/cnn.yaml`` through the
runner's ``fit`` task (LightningCLI in-process, no logger or checkpoints). The sides alternate over the
repetitions; the reported number is the median of the per-repetition time ratios (Trainer / plain). Target: at
most 1.2.

Besides wall time, the results file holds each side's CPU time (the process's, so less sensitive to other work
on a shared machine), the Trainer side's time spent building the run from its config (LightningCLI, once per
run, not per step), the load average before and after, and a cProfile of one extra Trainer run: its time by
package and its top functions, in microseconds per training step. And what the two cuts save, each against
its own baseline in the same run: building the run with the CNN's ``activation`` typed ``ActivationName |
nn.Module`` vs ``nn.Module | str`` as before (alternating builds), and Lightning's hook bookkeeping stored
directly by ``Classifier`` vs through ``nn.Module.__setattr__`` (assignments per step x time per assignment).

    python bench/lightning_overhead.py [--steps 2000] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import cProfile
import contextlib
import copy
import os
import pstats
import statistics
import time
import timeit
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from alternating import alternate, bench_parser, parse_and_configure, report, timed  # puts the checkout on the path
import experiments.tasks
from experiments.runs import fit_run, load_config, override
from experiments.tasks import fit
from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.nets import CNN


def plain_loop(data: MNIST1DDataModule, steps: int, eval_every: int, batch_size: int = 100) -> float:
    """The reference training loop (no Lightning); returns the final test accuracy in percent."""
    x_train, y_train = data.split("train")
    x_test, y_test = data.split("test")
    net = CNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    accuracy = lambda x, y: 100 * (net(x).argmax(-1) == y).float().mean().item()  # noqa: E731
    test_acc = float("nan")
    for step in range(1, steps + 1):
        start = ((step - 1) * batch_size) % len(x_train)
        loss = F.cross_entropy(net(x_train[start:start + batch_size]), y_train[start:start + batch_size])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % eval_every == 0:
            with torch.no_grad():
                F.cross_entropy(net(x_test), y_test).item()
                test_acc, _ = accuracy(x_test, y_test), accuracy(x_train, y_train)
    return test_acc


def study_config(steps: int, eval_every: int) -> dict[str, Any]:
    """``configs/cnn.yaml`` as the table1 study runs it, for ``steps`` steps."""
    config = override(load_config("configs/cnn.yaml"), **{"trainer.max_steps": steps,
                                                           "trainer.val_check_interval": eval_every})
    return fit_run({}, config).config


def trainer_path(steps: int, eval_every: int) -> float:
    """The same protocol through Classifier + MNIST1DDataModule + Trainer; returns the final test accuracy."""
    return 100 * fit(study_config(steps, eval_every))["final"]["val/acc"]


class CNNTypedAsBefore(CNN):
    """The CNN with ``activation`` typed ``nn.Module | str``, as before: the parser searches every ``nn.Module``
    subclass for a class named "relu" before it takes the string."""

    def __init__(self, activation: nn.Module | str = "relu") -> None:
        super().__init__(activation=activation)


def build_seconds(config: dict[str, Any]) -> float:
    start = time.perf_counter()
    experiments.tasks.build(config)
    return time.perf_counter() - start


def build_ablation(steps: int, eval_every: int, repeats: int) -> dict[str, Any]:
    """Seconds to build the study's run as now and with the activation typed as before, alternating."""
    now = study_config(steps, eval_every)
    before = copy.deepcopy(now)
    # the parser imports the class by its path: this script's folder is on the path, so it imports by name
    before["model"]["init_args"]["net"]["class_path"] = "lightning_overhead.CNNTypedAsBefore"
    seconds: dict[str, list[float]] = {"now": [], "before": []}
    for repeat in range(repeats):
        for name in (["before", "now"] if repeat % 2 == 0 else ["now", "before"]):
            seconds[name].append(build_seconds(now if name == "now" else before))
    ratios = [a / b for a, b in zip(seconds["now"], seconds["before"])]
    return {"what": "seconds to build the run from its config: activation typed as now / as before",
            "seconds": seconds, "ratio": ratios, "median_ratio": statistics.median(ratios)}


def hook_bookkeeping(steps: int, eval_every: int) -> dict[str, Any]:
    """Lightning's hook-name assignments per training step (counted in one run) and the time of one assignment
    through ``Classifier`` (stored directly) and through ``nn.Module.__setattr__`` (as before)."""
    assignments = []
    fast_path = Classifier.__dict__["__setattr__"]

    def counting(self: Classifier, name: str, value: object) -> None:
        if name == "_current_fx_name":
            assignments.append(name)
        fast_path(self, name, value)

    Classifier.__setattr__ = counting
    try:
        trainer_path(steps, eval_every)
    finally:
        Classifier.__setattr__ = fast_path
    module = Classifier(CNN())
    time_of = lambda assign: min(timeit.repeat(assign, number=20_000, repeat=7)) / 20_000  # noqa: E731
    direct = time_of(lambda: setattr(module, "_current_fx_name", "training_step"))
    checked = time_of(lambda: nn.Module.__setattr__(module, "_current_fx_name", "training_step"))
    per_step = len(assignments) / steps
    return {"assignments_per_step": round(per_step, 2), "ns_per_assignment": {"direct": round(1e9 * direct),
                                                                              "module_setattr": round(1e9 * checked)},
            "us_saved_per_step": round(1e6 * per_step * (checked - direct), 1)}


class Meter:
    """Wraps each side to record its CPU time, and the Trainer side's build time (``experiments.tasks.build``)."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.build: list[float] = []

    def side(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def measured(*args: Any) -> Any:
            start = time.process_time()
            result = fn(*args)
            self.cpu.setdefault(name, []).append(time.process_time() - start)
            return result
        return measured

    @contextlib.contextmanager
    def timing_builds(self) -> Iterator[None]:
        build = experiments.tasks.build

        def timed_build(config: dict[str, Any]) -> Any:
            start = time.perf_counter()
            cli = build(config)
            self.build.append(time.perf_counter() - start)
            return cli

        experiments.tasks.build = timed_build  # ``fit`` looks ``build`` up in its module at each call
        try:
            yield
        finally:
            experiments.tasks.build = build

    def cpu_ratios(self, ours: str, baseline: str) -> dict[str, Any]:
        ratios = [a / b for a, b in zip(self.cpu[ours], self.cpu[baseline])]
        return {"seconds": self.cpu, "ratio": ratios, "median_ratio": statistics.median(ratios)}


def package(filename: str, function: str) -> str:
    """The part of the code a profiled function belongs to: torch's kernels and Python's builtins are C."""
    if filename == "~":
        return "torch C" if "torch" in function or "_C." in function else "python builtins"
    for name in ("lightning_fabric", "lightning_utilities", "lightning", "torchmetrics", "jsonargparse", "torch"):
        if f"/{name}/" in filename:
            return "lightning" if name.startswith("lightning") else name
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return "ours" if filename.startswith(root) else "python stdlib and others"


def profile(steps: int, eval_every: int, top: int = 25) -> dict[str, Any]:
    """cProfile of one Trainer run without its build: time by package and the top functions by own time, per
    step (the build, once per run, is timed apart).

    Profiling slows Python code far more than the torch kernels, so the shares are indicative; the timed
    repetitions give the real ratio.
    """
    profiler = cProfile.Profile()
    build, build_seconds = experiments.tasks.build, []

    def unprofiled_build(config: dict[str, Any]) -> Any:
        profiler.disable()
        start = time.perf_counter()
        try:
            return build(config)
        finally:
            build_seconds.append(time.perf_counter() - start)
            profiler.enable()

    experiments.tasks.build = unprofiled_build
    try:
        profiler.enable()
        trainer_path(steps, eval_every)
        profiler.disable()
    finally:
        experiments.tasks.build = build
    stats = pstats.Stats(profiler).stats
    per_step = lambda seconds: round(1e6 * seconds / steps, 1)  # noqa: E731
    by_package: Counter[str] = Counter()
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        by_package[package(filename, function)] += own
    rows = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    return {"steps": steps, "build_seconds_unprofiled": build_seconds[0],
            "total_us_per_step": per_step(sum(by_package.values())),
            "own_us_per_step_by_package": {name: per_step(t) for name, t in by_package.most_common()},
            "top_own_us_per_step": [{"function": f"{filename.split('site-packages/')[-1]}:{line}({name})",
                                     "calls_per_step": round(calls / steps, 2), "us_per_step": per_step(own)}
                                    for (filename, line, name), (_, calls, own, _, _) in rows]}


def main() -> None:
    parser = bench_parser(__doc__, repeats=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=250)
    args = parse_and_configure(parser)

    load_before = os.getloadavg()
    data = MNIST1DDataModule()
    data.prepare_data()
    data.setup("fit")
    timed(trainer_path, 50, 25)  # warm-up: imports, first-call allocations
    meter = Meter()
    describe = lambda name, seconds, acc: (  # noqa: E731
        f"{name:7s} {args.steps / seconds:7.1f} steps/s  ({seconds:.1f} s, test accuracy {acc:.1f}%)")
    with meter.timing_builds():
        times = alternate(("trainer", meter.side("trainer", trainer_path), (args.steps, args.eval_every)),
                          ("plain", meter.side("plain", plain_loop), (data, args.steps, args.eval_every)),
                          args.repeats, describe)
    builds = meter.build[:]
    per_step = [(t - b) / p for t, b, p in zip(times["trainer"], builds, times["plain"])]
    details: dict[str, Any] = {
        "steps": args.steps,
        "cpu_seconds": meter.cpu_ratios("trainer", "plain"),
        "trainer_build_seconds": builds,
        "without_build": {"what": "(Trainer time - its build time) / plain time: the per-step part",
                          "ratio": per_step, "median_ratio": statistics.median(per_step)},
    }
    details["build_ablation"] = build_ablation(args.steps, args.eval_every, args.repeats)
    details["hook_bookkeeping"] = hook_bookkeeping(min(args.steps, 500), args.eval_every)
    plain_step_us = 1e6 * statistics.median(times["plain"]) / args.steps
    details["hook_bookkeeping"]["share_of_a_plain_step"] = round(
        details["hook_bookkeeping"]["us_saved_per_step"] / plain_step_us, 4)
    details["profile"] = profile(args.steps, args.eval_every)
    details["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(f"CPU-time ratio, median: {details['cpu_seconds']['median_ratio']:.3f}; without the build: "
          f"{details['without_build']['median_ratio']:.3f}; build now / before: "
          f"{details['build_ablation']['median_ratio']:.3f}; hook bookkeeping saves "
          f"{details['hook_bookkeeping']['us_saved_per_step']} us a step; load {load_before} -> {os.getloadavg()}")
    report("lightning_overhead", "Trainer / plain loop time", times, "<= 1.2", **details)


if __name__ == "__main__":
    main()
