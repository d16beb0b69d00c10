"""``python -m experiments list | run NAME [--quick] [--workers N] [--seeds ...] | report NAME``.

Also runs as ``python path/to/checkout/experiments ...`` from any working directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a folder: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "experiments"

from experiments import STUDIES, study  # noqa: E402
from experiments.backends import RunFailed  # noqa: E402
from experiments.ray_backend import RayUnavailable  # noqa: E402
from experiments.runner import collect, report, run_study  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the studies, with how many of their runs are stored")
    for name, help_text in (("run", "run what is missing from the store, then report"),
                            ("report", "write results.json, table.md and figures from the store alone")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("study", choices=sorted(STUDIES))
        command.add_argument("--quick", action="store_true",
                             help="the reduced protocol (minutes), into results/<study>/quick/")
        command.add_argument("--seeds", type=int, nargs="+", help="default: the study's seeds")
        command.add_argument("--out", type=Path, help="results folder (default: results/<study>)")
        if name == "run":
            command.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                                 help="runs in parallel, one process and one torch thread each (default: cores)")
            command.add_argument("--backend", choices=("local", "ray"), default="local")
            command.add_argument("--address", help="Ray cluster address for --backend ray (auto, HOST:PORT)")
            command.add_argument("--populations", action="store_true",
                                 help="train each point's missing seeds at once as one population where the "
                                      "network allows it (each seed is still stored as its own run)")
            command.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name in STUDIES:
            s = study(name)
            results, missing = collect(s)
            print(f"{name:22s} {len(results):4d}/{len(results) + len(missing):<4d} runs stored  {s.title}")
        return 0
    chosen = study(args.study)
    if args.command == "run":
        try:
            counts = run_study(chosen, args.quick, args.seeds, args.workers, args.out, args.backend, args.address,
                               progress=not args.no_progress, populations=args.populations)
        except RunFailed as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except RayUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"ran {counts['ran']}, skipped {counts['skipped']} already stored")
    print(report(chosen, args.quick, args.seeds, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
