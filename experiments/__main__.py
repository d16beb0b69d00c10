"""``python -m experiments list | keys | run NAME|all | report NAME|all | status NAME|all`` (``--help`` of each).

Also runs as ``python path/to/checkout/experiments ...`` from any working directory.

Exit codes: 0 success; 1 a run failed (the others are stored); 2 bad input; 3 the results folder cannot be
written; 130 interrupted by Ctrl-C and 143 by SIGTERM (the workers are stopped; the stored runs are kept, and the
same command resumes the sweep).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a folder: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "experiments"

from experiments import STUDIES, study  # noqa: E402
from experiments.backends import RunFailed  # noqa: E402
from experiments.ray_backend import RayUnavailable  # noqa: E402
from experiments.runner import KEYS, collect, protocol_keys, report, run_study, status  # noqa: E402
from experiments.runs import ROOT  # noqa: E402
from mnist1d_hf.atomic import write_text  # noqa: E402

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_IO, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 3, 130, 143


class Terminated(BaseException):
    """SIGTERM, raised in the driver so that it stops its workers and exits like Ctrl-C does."""


def _terminated(signum, frame) -> None:
    raise Terminated


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the studies, with how many of their runs are stored")
    commands.add_parser("keys", help=f"write {KEYS.relative_to(ROOT)}: the run keys of every study's protocol")
    for name, help_text in (("run", "run what is missing from the store, then report"),
                            ("report", "write results.json, table.md, README.md and figures from the store alone"),
                            ("status", "which runs are stored, by which code, and which are missing")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("study", choices=sorted(STUDIES) + ["all"], help="a study, or all of them in turn")
        command.add_argument("--quick", action="store_true",
                             help="the reduced protocol (minutes), into results/<study>/adhoc/quick/")
        command.add_argument("--seeds", type=int, nargs="+",
                             help="default: the study's seeds; others report into results/<study>/adhoc/seeds-.../")
        command.add_argument("--out", type=Path, help="results folder (default: results/<study>)")
        if name == "run":
            command.add_argument("--workers", type=positive, default=None,
                                 help="runs in parallel, one process and one torch thread each (default: the "
                                      "cores; with --backend ray: as many as the cluster takes)")
            command.add_argument("--backend", choices=("local", "ray"), default="local")
            command.add_argument("--address", help="Ray cluster address for --backend ray (auto, HOST:PORT)")
            command.add_argument("--populations", action=argparse.BooleanOptionalAction, default=False,
                                 help="train each point's missing seeds at once as one population where the "
                                      "network allows it, each member on its own seed's batches (each seed is "
                                      "still stored as its own run, under its own key). Off by default: a "
                                      "member matches its single run only to float rounding, which long runs "
                                      "amplify (docs/populations.md)")
            command.add_argument("--rerun-before", metavar="COMMIT",
                                 help="also run again the stored runs made by code older than this git commit "
                                      "(and those whose code is unknown)")
            command.add_argument("--no-progress", action="store_true", help="no progress bar")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "list":
        for name in STUDIES:
            s = study(name)
            results, missing = collect(s)
            print(f"{name:22s} {len(results):4d}/{len(results) + len(missing):<4d} runs stored  {s.title}")
        return 0
    if args.command == "keys":
        write_text(KEYS, json.dumps(protocol_keys(), indent=1) + "\n")
        print(f"wrote {KEYS}")
        return 0
    if args.out is not None and args.study == "all":
        return _error("--out names one study's folder: give a study, not 'all'", EXIT_BAD_INPUT)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        for name in STUDIES if args.study == "all" else [args.study]:
            code = _one(study(name), args)
            if code:
                return code
        return 0
    except KeyboardInterrupt:
        return _error("interrupted: the finished runs are stored; run the same command to resume",
                      EXIT_INTERRUPTED)
    except Terminated:
        return _error("terminated (SIGTERM): the workers are stopped, the finished runs are stored; run the same "
                      "command to resume", EXIT_TERMINATED)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one(chosen, args: argparse.Namespace) -> int:
    """Run, report or show the status of one study; an exit code."""
    try:
        if args.command == "status":
            print(status(chosen, args.quick, args.seeds, args.out))
            return 0
        if args.command == "run":
            counts = run_study(chosen, args.quick, args.seeds, args.workers, args.out, args.backend, args.address,
                               progress=not args.no_progress, populations=args.populations,
                               rerun_before=args.rerun_before)
            print(f"ran {counts['ran']}, skipped {counts['skipped']} already stored")
        print(report(chosen, args.quick, args.seeds, args.out))
        return 0
    except RunFailed as err:
        return _error(str(err), EXIT_FAILED)
    except RayUnavailable as err:
        return _error(str(err), EXIT_BAD_INPUT)
    except ValueError as err:
        return _error(str(err), EXIT_BAD_INPUT)
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        return _error(f"cannot write the results{where}: {err.strerror or err}", EXIT_IO)


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
