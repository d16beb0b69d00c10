"""The whole paper's wall time: each study's protocol run from an empty store, as a new user would run it.

Each study runs in a fresh clone of this checkout's HEAD whose store for that study is emptied (the other studies'
stores stay, so the transfer study finds the metalearning run it needs, as after ``run all``), with
``python -m experiments run NAME --workers N``. The load average is sampled every few seconds while it runs. The
clone's runs are then compared with the committed ones: how many give the same result bit for bit, and which do
not. A study may be timed in its own invocation (the paper's full protocols take hours); ``bench/results/paper.json``
keeps the latest timing of every study, full and ``--quick`` apart, and gives the total once every study has one.
With ``--adopt``, the clone's runs (full protocols) replace the committed ones in this checkout's store: a timing
is also a re-run with today's code, recorded with its commit; then ``python -m experiments report NAME``.

With ``--populations`` each sweep runs with ``run --populations`` and is kept apart (``full_populations``); its runs
are never adopted (a member matches its single run only to rounding: docs/populations.md). A study none of whose
runs pool runs the same jobs either way: it is not timed again, and its timing without populations counts in the
total.

    python bench/paper.py table1 per_class [--quick] [--workers 2] [--adopt]
    python bench/paper.py all --quick
    python bench/paper.py all --populations
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from results_file import RESULTS, write_results  # first: it puts this checkout's package on the path

from experiments import STUDIES, study  # noqa: E402
from experiments.runner import declared_runs, plan  # noqa: E402
from mnist1d_hf.atomic import write_file, write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 3 * 3600  # the whole paper at its full protocols in at most 3 hours on 2 cores
PROTOCOLS = ("full", "quick", "full_populations", "quick_populations")  # paper.json's sections


class LoadSampler(threading.Thread):
    """The 1-minute load average every ``every`` seconds until stopped."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self.done = every, [os.getloadavg()[0]], threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> list[float]:
        self.done.set()
        self.join()
        self.samples.append(os.getloadavg()[0])
        return self.samples


def fresh_clone(into: Path) -> str:
    """Clone HEAD of this checkout into ``into``; its commit."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into)], check=True)
    return subprocess.run(["git", "-C", str(into), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def stored_results(runs: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in runs.glob("*.json")} if runs.is_dir() else {}


def numbers(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every leaf of a result by its path, leaving out wall times (keys ending in ``seconds``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not str(key).endswith("seconds"):
                yield from numbers(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from numbers(item, f"{path}/{index}")
    else:
        yield path, value


def largest_change(fresh: dict, committed: dict) -> float | None:
    """The largest absolute difference between the two results' numbers: 0.0 when they are equal bit for bit
    (wall times aside), None when they cannot be compared (another structure, a text or a nan that differs)."""
    a, b = dict(numbers(fresh)), dict(numbers(committed))
    if a.keys() != b.keys():
        return None
    change = 0.0
    for path, x in a.items():
        y = b[path]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
            if x != y:
                return None
        elif math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return None
        else:
            change = max(change, abs(x - y))
    return change


def compare_with_committed(name: str, clone: Path, quick: bool) -> dict:
    """How many of the clone's new runs give the committed run's result bit for bit (wall times aside), and by
    how much the others differ: per run the largest absolute change of any number in its result (full protocols
    only: the quick runs are not committed)."""
    if quick:
        return {}
    fresh = stored_results(clone / "results" / name / "runs")
    committed = stored_results(ROOT / "results" / name / "runs")
    both = sorted(k for k in fresh if k in committed)
    changes = {k: largest_change(fresh[k]["result"], committed[k]["result"]) for k in both}
    differ = sorted((k for k in both if changes[k] != 0.0),
                    key=lambda k: math.inf if changes[k] is None else changes[k], reverse=True)
    largest = [changes[k] for k in differ if changes[k] is not None]
    return {"runs_equal_to_committed": len(both) - len(differ), "runs_differing_from_committed": len(differ),
            "runs_not_comparable": len(differ) - len(largest),
            "largest_change_median": statistics.median(largest) if largest else None,
            "largest_change_max": max(largest) if largest else None,
            "differing": [{**fresh[k]["tags"], "largest_change": changes[k]} for k in differ[:20]],
            "runs_not_committed": len(fresh) - len(both)}


def adopt(name: str, clone: Path) -> int:
    """Write the clone's stored runs of ``name`` into this checkout's store, each file atomically, with their
    artifacts (the folder beside a run: a later stage's input) before the run itself; how many runs."""
    runs, store = clone / "results" / name / "runs", ROOT / "results" / name / "runs"
    fresh = sorted(runs.glob("*.json"))
    for path in fresh:
        for artifact in sorted((runs / path.stem).glob("*")):
            write_file(store / path.stem / artifact.name,
                       lambda tmp, data=artifact.read_bytes(): tmp.write_bytes(data))
        write_text(store / path.name, path.read_text())
    return len(fresh)


def pools(name: str, quick: bool) -> bool:
    """Whether ``run --populations`` trains any of the study's runs as a population (otherwise it runs the same
    jobs as without)."""
    return any(job.seeds is not None for job in plan(declared_runs(study(name), quick, None), populations=True))


def time_study(name: str, quick: bool, workers: int, adopting: bool = False, populations: bool = False) -> dict:
    """Run one study from an empty store in a fresh clone; its wall time, load, runs and comparison."""
    with tempfile.TemporaryDirectory(prefix="paper-") as temp:
        clone = Path(temp) / "checkout"
        commit = fresh_clone(clone)
        shutil.rmtree(clone / "results" / name / "runs", ignore_errors=True)
        command = [sys.executable, "-m", "experiments", "run", name, "--workers", str(workers), "--no-progress",
                   *(["--quick"] if quick else []), *(["--populations"] if populations else [])]
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
        sampler = LoadSampler()
        sampler.start()
        start = time.perf_counter()
        done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        load = sampler.stop()
        if done.returncode != 0:
            raise SystemExit(f"error: {' '.join(command[1:])} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        ran = next((line for line in done.stdout.splitlines() if line.startswith("ran ")), "")
        print(f"{name:22s} {seconds:8.1f} s  {ran}  load median {statistics.median(load):.1f} "
              f"(max {max(load):.1f})", flush=True)
        timing = {"seconds": round(seconds, 1), "runs": ran, "workers": workers, "populations": populations,
                  "commit": commit,
                  "load_median": round(statistics.median(load), 2), "load_max": round(max(load), 2),
                  "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  **compare_with_committed(name, clone, quick)}
        if adopting and not quick:
            print(f"{name}: {adopt(name, clone)} runs adopted into results/{name}/runs", flush=True)
        return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="+", choices=sorted(STUDIES) + ["all"])
    parser.add_argument("--quick", action="store_true", help="the quick protocols instead of the full ones")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--adopt", action="store_true",
                        help="the clone's runs replace the committed ones in this checkout's store (full protocols)")
    parser.add_argument("--populations", action="store_true",
                        help="the sweeps with `run --populations`, timed apart from the default ones; not adoptable")
    args = parser.parse_args()
    if args.populations and args.adopt:
        parser.error("--adopt takes the default sweeps' runs: a population member matches its single run only to "
                     "rounding, and the store holds the single runs")
    names = list(STUDIES) if "all" in args.studies else list(dict.fromkeys(args.studies))

    previous = RESULTS / "paper.json"
    record = json.loads(previous.read_text()) if previous.exists() else {}
    base = "quick" if args.quick else "full"
    protocol = f"{base}_populations" if args.populations else base
    timings = record.get(protocol, {}).get("studies", {})
    same_jobs = [name for name in STUDIES if not pools(name, args.quick)] if args.populations else []
    without = {name: record.get(base, {}).get("studies", {}).get(name) for name in same_jobs}
    for name in names:
        if name in same_jobs:
            print(f"{name}: no run pools, so `--populations` runs the same jobs as without; its {base} timing counts",
                  flush=True)
            continue
        timings[name] = time_study(name, args.quick, args.workers, args.adopt, args.populations)
        record[protocol] = summary(timings, without)
        write_results("paper", {k: v for k, v in record.items() if k in PROTOCOLS})


def summary(timings: dict[str, dict], same_jobs: dict[str, dict | None] | None = None) -> dict:
    """Every study's latest timing, and the total once all studies have one. ``same_jobs``: the studies whose sweep
    runs the same jobs with populations as without, with their timing without (None if not timed yet)."""
    same_jobs = same_jobs or {}
    counted = {**{name: t for name, t in same_jobs.items() if t is not None}, **timings}
    missing = [name for name in STUDIES if name not in counted]
    total = None if missing else round(sum(counted[name]["seconds"] for name in STUDIES), 1)
    borrowed = {name: t["seconds"] if t else None for name, t in same_jobs.items()}
    return {"studies": {name: timings[name] for name in STUDIES if name in timings},
            **({"same_jobs_as_without_populations": borrowed} if borrowed else {}),
            "total_seconds": total, "not_timed_yet": missing, "target_seconds": TARGET_SECONDS}


if __name__ == "__main__":
    main()
