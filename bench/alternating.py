"""Fair timing on a shared machine: run the two sides of a comparison in alternating order, report the median
ratio of their times."""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

Side = tuple[str, Callable[..., Any], tuple]


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Seconds taken and result of ``fn(*args)``, from the same torch seed for every side."""
    torch.manual_seed(0)
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def alternate(ours: Side, baseline: Side, repeats: int, describe: Callable[[str, float, Any], str]) -> list[float]:
    """Time both sides ``repeats`` times, swapping which goes first; returns each repetition's ours / baseline."""
    ratios = []
    for repeat in range(repeats):
        sides = [baseline, ours] if repeat % 2 == 0 else [ours, baseline]
        seconds = {}
        for name, fn, args in sides:
            seconds[name], result = timed(fn, *args)
            print(f"repeat {repeat}: {describe(name, seconds[name], result)}", flush=True)
        ratios.append(seconds[ours[0]] / seconds[baseline[0]])
    return ratios


def report(what: str, ratios: list[float], target: str) -> None:
    print(f"{what}, median of {len(ratios)}: {statistics.median(ratios):.3f} "
          f"(all: {', '.join(f'{r:.3f}' for r in ratios)}; target {target})")


def bench_parser(doc: str, repeats: int) -> argparse.ArgumentParser:
    """A parser with the options every torch benchmark here shares: ``--repeats`` and ``--threads``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest for these models)")
    return parser


def parse_and_configure(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the options, set torch's threads and silence Lightning's per-run banners."""
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    return args
