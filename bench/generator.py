"""Generator speed, as ratios against named baselines measured in the same run.

1. Reference mode vs the reference package's ``make_dataset`` on the default config (outputs checked equal),
   and vs its floor: drawing the same random numbers in the same order, with no arithmetic.
2. Fast mode on 1,000,000 examples: examples per second and peak memory (each run in a fresh process), vs its
   floor: drawing its random numbers alone.

Sides alternate over the repetitions and the median ratio is reported, since the machine may be shared.
Run: ``python bench/generator.py`` (the reference package comes with the ``test`` extra).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

from mnist1d_hf import generate, variant
from mnist1d_hf.reference import draw_reference_stream
from results_file import write_results


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

    cfg = variant("standard")
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
from mnist1d_hf import generate, variant
from mnist1d_hf.fast import BLOCK, draw_block
n, workers, what = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cfg = variant("standard", mode="fast", num_samples=n)
start = time.perf_counter()
if what == "generate":
    generate(cfg, workers=workers, show_progress=False)
else:
    for b in range(-(-cfg.total // BLOCK)):
        draw_block(cfg, b, min(BLOCK, cfg.total - b * BLOCK))
elapsed = time.perf_counter() - start
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": elapsed, "peak_mb": peak / 1024}))
"""


def run_child(n: int, workers: int, what: str) -> dict:
    out = subprocess.run([sys.executable, "-c", FAST_CHILD, str(n), str(workers), what], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_fast(n: int, workers: int, repeats: int) -> dict:
    runs = {"generate": [], "floor": []}
    for repeat in range(repeats):
        order = ["generate", "floor"] if repeat % 2 == 0 else ["floor", "generate"]
        for what in order:
            runs[what].append(run_child(n, workers if what == "generate" else 1, what))
    gen = statistics.median(r["seconds"] for r in runs["generate"])
    floor = statistics.median(r["seconds"] for r in runs["floor"])
    ratio = statistics.median(g["seconds"] / f["seconds"] for g, f in zip(runs["generate"], runs["floor"]))
    peak = max(r["peak_mb"] for r in runs["generate"])
    print(f"## Fast mode, {n:,} examples, {workers} worker process(es), {repeats} alternating repetitions")
    print(f"  generate (incl. standardization): median {gen:6.2f} s = {n / gen:,.0f} examples/s (target >= 500,000)")
    print(f"  floor, its draws alone (1 process): median {floor:6.2f} s = {n / floor:,.0f} examples/s")
    print(f"  generate / floor: {ratio:.2f}x;  peak memory of the largest process: {peak:,.0f} MB (target < 1,000 MB)")
    return {"examples": n, "workers": workers, "repetitions": repeats, "runs": runs, "median_seconds": gen,
            "examples_per_second": n / gen, "floor_median_seconds": floor, "generate_over_floor": ratio,
            "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fast-examples", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    write_results("generator", {"reference_mode": bench_reference(args.repeats),
                                "fast_mode": bench_fast(args.fast_examples, args.workers, max(3, args.repeats // 2))})


if __name__ == "__main__":
    main()
