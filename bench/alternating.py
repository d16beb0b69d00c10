"""Fair timing on a shared machine: run the two sides of a comparison in alternating order, report the median
ratio of their times, and write every timing to ``bench/results/<name>.json``."""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from results_file import write_results

Side = tuple[str, Callable[..., Any], tuple]


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Seconds taken and result of ``fn(*args)``, from the same torch seed for every side."""
    torch.manual_seed(0)
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def alternate(ours: Side, baseline: Side, repeats: int,
              describe: Callable[[str, float, Any], str]) -> dict[str, list[float]]:
    """Time both sides ``repeats`` times, swapping which goes first; every timing of each side and the
    per-repetition ratios ours / baseline."""
    times: dict[str, list[float]] = {ours[0]: [], baseline[0]: [], "ratio": []}
    for repeat in range(repeats):
        sides = [baseline, ours] if repeat % 2 == 0 else [ours, baseline]
        seconds = {}
        for name, fn, args in sides:
            seconds[name], result = timed(fn, *args)
            times[name].append(seconds[name])
            print(f"repeat {repeat}: {describe(name, seconds[name], result)}", flush=True)
        times["ratio"].append(seconds[ours[0]] / seconds[baseline[0]])
    return times


def report(name: str, what: str, times: dict[str, list[float]], target: str, **details: Any) -> float:
    """Print the median ratio and write every timing, the medians and the ratio to ``bench/results/<name>.json``."""
    ratios = times["ratio"]
    median = statistics.median(ratios)
    print(f"{what}, median of {len(ratios)}: {median:.3f} "
          f"(all: {', '.join(f'{r:.3f}' for r in ratios)}; target {target})")
    write_results(name, {"what": what, "target": target, "repetitions": len(ratios), "seconds": times,
                         "median_seconds": {k: statistics.median(v) for k, v in times.items() if k != "ratio"},
                         "median_ratio": median, "torch_threads": torch.get_num_threads(), **details})
    return median


def bench_parser(doc: str, repeats: int) -> argparse.ArgumentParser:
    """A parser with the options every torch benchmark here shares: ``--repeats`` and ``--threads``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest for these models)")
    return parser


def parse_and_configure(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the options, set torch's threads and silence Lightning's per-run banners and the noise that
    ``cli.py`` silences."""
    from lightning_modules.cli import silence_third_party_noise

    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    silence_third_party_noise()
    return args
