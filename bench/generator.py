"""Generator speed, as ratios against named baselines measured in the same run.

1. Reference mode vs the reference package's ``make_dataset`` on the default config (outputs checked equal),
   and vs its floor: drawing the same random numbers in the same order, with no arithmetic.
2. Fast mode on 1,000,000 examples with 1 and 2 workers (threads): examples per second, CPU seconds and peak
   memory (each run in a fresh process), vs two baselines: the per-row method (the earlier fast stream, still
   used for configs whose per-mask tables are too large) with the same workers, and the floor, the per-mask
   method's random draws alone on one thread.

Sides alternate over the repetitions and the median ratio is reported, since the machine may be shared; the
load average is recorded before every run.
Run: ``python bench/generator.py`` (the reference package comes with the ``test`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from results_file import write_results  # first: it puts this checkout's package on the path

from mnist1d_hf import generate, variant_config  # noqa: E402
from mnist1d_hf.reference import draw_reference_stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]  # fast-mode runs start here, so they import this checkout's package


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(sides: dict, repeats: int) -> dict[str, list[float]]:
    """Every side timed ``repeats`` times; each repetition starts one side later, so no side always goes first."""
    times = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(seconds(sides[name]))
    return times


def bench_reference(repeats: int) -> dict:
    from mnist1d.data import get_dataset_args, make_dataset

    cfg = variant_config("standard")
    ours, theirs = generate(cfg), make_dataset(get_dataset_args())
    assert np.array_equal(ours.x_train, theirs["x"]) and np.array_equal(ours.y_test, theirs["y_test"])
    times = alternate({
        "reference package make_dataset": lambda: make_dataset(get_dataset_args()),
        "ours, reference mode": lambda: generate(cfg),
        "floor: the same draws alone": lambda: draw_reference_stream(cfg, np.random.RandomState(cfg.seed)),
    }, repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    speedup = statistics.median(a / b for a, b in zip(times["reference package make_dataset"],
                                                       times["ours, reference mode"]))
    over_floor = statistics.median(a / b for a, b in zip(times["ours, reference mode"],
                                                         times["floor: the same draws alone"]))
    print(f"## Reference mode, default config (5,000 examples), {repeats} alternating repetitions")
    for name, t in med.items():
        print(f"  {name:34s} median {t * 1e3:8.1f} ms")
    print(f"  speed-up over the reference package: {speedup:.1f}x (target >= 15x)")
    print(f"  ours / floor:                        {over_floor:.2f}x (target <= 1.5x)")
    return {"repetitions": repeats, "seconds": times, "median_seconds": med,
            "speedup_over_reference_package": speedup, "ours_over_floor": over_floor}


FAST_CHILD = """
import json, resource, sys, time
from mnist1d_hf import fast, fast_masks, generate, variant_config
n, workers, what = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cfg = variant_config("standard", mode="fast", num_samples=n)
if what == "per-row":
    fast_masks.TABLES_BUDGET = 0  # as for a config whose per-mask tables are too large
maker = fast.method(cfg)
WHO = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)  # children: none since workers are threads; kept to be sure
cpu_before = sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, WHO))
start = time.perf_counter()
if what == "floor":
    for b in range(-(-cfg.total // maker.BLOCK)):
        maker.draw_block(cfg, b, min(maker.BLOCK, cfg.total - b * maker.BLOCK))
else:
    generate(cfg, workers=workers, show_progress=False)
elapsed = time.perf_counter() - start
usage = [resource.getrusage(who) for who in WHO]
print(json.dumps({"seconds": elapsed, "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in usage) - cpu_before,
                  "peak_mb": max(u.ru_maxrss for u in usage) / 1024, "method": maker.__name__}))
"""
FAST_SIDES = {"per-mask": "generate, per-mask method (the default)",
              "per-row": "baseline: generate, per-row method (the earlier fast stream)",
              "floor": "floor: the per-mask draws alone, 1 thread"}


def run_child(n: int, workers: int, what: str) -> dict:
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", FAST_CHILD, str(n), str(workers), what], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "load_before": load}


def bench_fast(n: int, workers: int, repeats: int) -> dict:
    names = list(FAST_SIDES)
    runs = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for what in names[shift:] + names[:shift]:
            runs[what].append(run_child(n, 1 if what == "floor" else workers, what))
    med = {name: statistics.median(r["seconds"] for r in runs[name]) for name in names}
    ratio = {name: statistics.median(a["seconds"] / b["seconds"] for a, b in zip(runs["per-mask"], runs[name]))
             for name in ("per-row", "floor")}
    loads = [r["load_before"] for side in runs.values() for r in side]
    peak = max(r["peak_mb"] for r in runs["per-mask"])
    print(f"## Fast mode, {n:,} examples, {workers} worker thread(s), {repeats} alternating repetitions, "
          f"load average {min(loads):.1f}-{max(loads):.1f} (median {statistics.median(loads):.1f}) on "
          f"{os.cpu_count()} cores")
    cpu = {name: statistics.median(r["cpu_seconds"] for r in runs[name]) for name in names}
    for name in names:
        print(f"  {FAST_SIDES[name]:62s} median {med[name]:6.2f} s = {n / med[name]:>11,.0f} examples/s "
              f"({cpu[name]:.2f} CPU s)")
    print(f"  per-mask / per-row: {ratio['per-row']:.2f}x the time;  per-mask / floor: {ratio['floor']:.2f}x;  "
          f"peak memory: {peak:,.0f} MB (target < 1,000 MB)")
    return {"examples": n, "workers": workers, "repetitions": repeats, "sides": FAST_SIDES, "runs": runs,
            "median_seconds": med, "median_cpu_seconds": cpu, "examples_per_second": n / med["per-mask"],
            "per_row_examples_per_second": n / med["per-row"], "per_mask_over_per_row": ratio["per-row"],
            "per_mask_over_floor": ratio["floor"], "load_average": {"min": min(loads), "median":
            statistics.median(loads), "max": max(loads)}, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fast-examples", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    reference = bench_reference(args.repeats)
    write_results("generator", {"reference_mode": reference, "fast_mode": [
        bench_fast(args.fast_examples, workers, max(3, args.repeats // 2)) for workers in args.workers]})


if __name__ == "__main__":
    main()
