"""What the runner's workers buy: the Table 1 study in its quick form with ``--workers 2`` vs ``--workers 1``.

Both sides run the same 8 runs into fresh stores through ``run_study`` (spawned worker processes, one torch thread
each), alternating which goes first; the results of the two sides are checked equal. Target on 2 cores: <= 0.6.

    python bench/workers.py [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alternating import alternate, bench_parser, parse_and_configure, report  # noqa: E402
from experiments.runner import run_study  # noqa: E402
from experiments.table1 import Table1  # noqa: E402


def sweep(workers: int, study: Table1 | None = None, quick: bool = True, populations: bool = False,
          runs: int = 8) -> dict[str, dict]:
    """A Table 1 sweep (default: the quick one) into a new store; every stored run (tags and result) by key."""
    with tempfile.TemporaryDirectory() as out:
        counts = run_study(study or Table1(), quick=quick, workers=workers, out=Path(out), progress=False,
                           populations=populations)
        assert counts["ran"] == runs, counts
        return {p.stem: json.loads(p.read_text()) for p in (Path(out) / "runs").glob("*.json")}


def main() -> None:
    parser = bench_parser(__doc__, repeats=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parse_and_configure(parser)
    results: dict[int, dict] = {}

    def side(workers: int) -> int:
        results[workers] = sweep(workers)
        return workers

    times = alternate((f"workers={args.workers}", side, (args.workers,)), ("workers=1", side, (1,)), args.repeats,
                      lambda name, seconds, _: f"{name:10s} {seconds:6.1f} s for 8 runs")
    results = {workers: {key: run["result"] for key, run in runs.items()} for workers, runs in results.items()}
    assert results[args.workers] == results[1], "results depend on the number of workers"
    report("workers", f"table1 --quick wall time, {args.workers} workers / 1 worker", times, "<= 0.6",
           workers=args.workers, runs=8, results_equal=True)


if __name__ == "__main__":
    main()
