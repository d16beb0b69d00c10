"""The Table 1 study end to end: populations and workers against the sequential sweep.

Both sides run the whole study (4 models x 2 variants x seeds 0, 1, 2: 24 runs) into fresh stores through
``run_study``, alternating which goes first:

- ``populations``: ``--workers N --populations``: the three seeds of each logistic, MLP and CNN point train as one
  ``PopulationClassifier``; the GRU (which ``vmap`` cannot batch) runs its seeds separately; N processes;
- ``sequential``: ``--workers 1``, every run on its own, one after the other (how the stored Table 1 was made).

``--steps`` scales every run (default: the protocol's 6000); the per-run costs (process start, building the
CLI, generating the data, evaluation) stay as they are. The results file also holds each side's Table 1 (mean
test accuracy per row), which agree up to the populations' CNN rounding (``lightning_modules.population``).

    python bench/table1_sweep.py [--steps 6000] [--repeats 1] [--workers 2]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alternating import alternate, bench_parser, parse_and_configure, report  # noqa: E402
from experiments.table1 import MODELS, VARIANTS, Table1, final_test_acc  # noqa: E402
from workers import sweep  # noqa: E402

RUNS = len(MODELS) * len(VARIANTS) * 3


def table(runs: dict[str, dict]) -> dict[str, float]:
    """Mean final test accuracy (%) over the seeds of each ``variant/model`` row."""
    rows: dict[str, list[float]] = {}
    for run in runs.values():
        rows.setdefault(f"{run['tags']['variant']}/{run['tags']['model']}", []).append(final_test_acc(run["result"]))
    return {row: round(statistics.mean(values), 2) for row, values in sorted(rows.items())}


def main() -> None:
    parser = bench_parser(__doc__, repeats=1)
    parser.add_argument("--steps", type=int, default=6000, help="training steps of every run (protocol: 6000)")
    parser.add_argument("--workers", type=int, default=2, help="processes of the populations side")
    args = parse_and_configure(parser)
    study = Table1(max_steps=None if args.steps == 6000 else args.steps)
    tables: dict[str, list[dict[str, float]]] = {}

    def side(name: str, workers: int, populations: bool) -> dict[str, float]:
        result = table(sweep(workers, study, quick=False, populations=populations, runs=RUNS))
        tables.setdefault(name, []).append(result)
        return result

    times = alternate(("populations", side, ("populations", args.workers, True)),
                      ("sequential", side, ("sequential", 1, False)), args.repeats,
                      lambda name, seconds, _: f"{name:11s} {seconds / 60:6.1f} min for {RUNS} runs")
    report("table1_sweep", f"Table 1 study ({RUNS} runs of {args.steps} steps), populations and {args.workers} "
           "workers / sequential, wall time", times, "none (reported against the stored sequential sweep)",
           steps=args.steps, workers=args.workers, runs=RUNS, table=tables)


if __name__ == "__main__":
    main()
