"""``MNIST1DCLI``: the LightningCLI behind ``cli.py``, importable so that studies build runs from the same configs.

Models are picked by class path in the config (``lightning_modules.Classifier`` with any ``nets`` network, or any
other LightningModule); the data is always ``MNIST1DDataModule``.

``main`` is ``cli.py``: a user error (a bad option or value, a path that cannot be written, a checkpoint that
does not exist, data too large for memory) prints one line, ``error: ...``, and exits with the codes of
``mnist1d_hf.errors`` (2 bad input, 3 I/O, 4 too large, 130 Ctrl-C, 143 SIGTERM); anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import lightning_utilities.core.rank_zero as rank_zero
import torch
from jsonargparse import ArgumentError
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from mnist1d_hf.errors import (EXIT_BAD_INPUT, ConfigError, Terminated, TooLargeError, exit_code, one_line,
                               terminate_on_sigterm)

from .checkpoint_io import use_sibling_checkpoints
from .data import MNIST1DDataModule
from .member_batches import MemberBatchesData
from .progress import progress_for
from .renamed import renamed_option
from .resume import resolve_ckpt_path, shown
from .signals import StopOnSignal, StoppedBySignal, last_checkpoint_path


class MNIST1DCLI(LightningCLI):
    """LightningCLI with a ``torch_threads`` option, where ``--ckpt_path last``/``best`` mean the latest run's.

    Local checkpoints are written atomically (``checkpoint_io.SiblingCheckpointIO``): a run killed while saving
    keeps its previous ``last.ckpt``. ``last`` and ``best`` are resolved to a file of the latest run of the config
    (``resume``). Run from the command line (a subcommand), the trainer also stops cleanly on Ctrl-C and SIGTERM
    (``signals``), shows progress as suits the output (``progress``), and ``fit`` ends by saying where its
    checkpoints and logs are. A study's trainer (``run=False``) gets none of these: they are the command line's.
    """

    def __init__(self, *args: Any, stop_on_signal: StopOnSignal | None = None, **kwargs: Any) -> None:
        self.stop_on_signal = stop_on_signal or StopOnSignal()
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--torch_threads", type=int | None, default=1,
                            help="CPU threads for torch ops; these networks are so small that one thread is "
                                 "fastest, and more contend for the cores (null: torch's default)")

    def before_instantiate_classes(self) -> None:
        threads = self.config.get(self.subcommand, self.config).get("torch_threads")
        if threads is not None:
            torch.set_num_threads(threads)

    def instantiate_classes(self) -> None:
        """The configured classes; a population whose members have batch orders of their own (``batch_seeds``)
        gets the data module wrapped so that member k trains on its own single run's batches
        (``member_batches``)."""
        super().instantiate_classes()
        batch_seeds = getattr(self.model, "batch_seeds", None)
        if batch_seeds is not None:
            self.datamodule = MemberBatchesData(self.datamodule, batch_seeds)

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The configured Trainer, whose local checkpoints are written atomically (``checkpoint_io``); from the
        command line, with the signal handling and progress display of a command line run, and its
        ``--ckpt_path`` resolved (``resume``). The Trainer's lines about devices wait until the checkpoint is
        found, so that a missing one is the only line printed."""
        if self.subcommand is None:
            trainer = super().instantiate_trainer(**kwargs)
            use_sibling_checkpoints(trainer)
            return trainer
        kwargs.setdefault("callbacks", self._command_line_callbacks())
        with held_back(rank_zero.log) as records:
            trainer = super().instantiate_trainer(**kwargs)
            use_sibling_checkpoints(trainer)
            self._resolve_ckpt_path(trainer)
        for record in records:
            rank_zero.log.handle(record)
        return trainer

    def _command_line_callbacks(self) -> list[L.Callback]:
        config = self._get(self.config_init, "trainer", default={})
        callbacks = config.get("callbacks") or []
        callbacks = list(callbacks) if isinstance(callbacks, list) else [callbacks]
        callbacks.append(self.stop_on_signal)
        if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(progress_for(sys.stdout))
        return callbacks

    def _resolve_ckpt_path(self, trainer: L.Trainer) -> None:
        """``--ckpt_path last``/``best`` become the latest run's file, also in the run's saved config.yaml."""
        requested = self.config_init[self.subcommand].get("ckpt_path")
        resolved = resolve_ckpt_path(requested, trainer)
        if resolved != requested:
            self.config_init[self.subcommand]["ckpt_path"] = resolved
            self.config[self.subcommand]["ckpt_path"] = resolved
            if trainer.is_global_zero:
                print(f"--ckpt_path {requested}: {shown(resolved)}", flush=True)

    def after_fit(self) -> None:
        if self.trainer.is_global_zero:
            print("\n".join(run_outputs(self.trainer)), flush=True)


@contextmanager
def held_back(logger: logging.Logger) -> Iterator[list[logging.LogRecord]]:
    """Collect what ``logger`` emits in the block instead of printing it; the caller replays it or drops it."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def run_outputs(trainer: L.Trainer) -> list[str]:
    """Where a fit put its checkpoints and logs, one line each, with the files there."""
    lines = []
    checkpoint = last_checkpoint_path(trainer)
    if checkpoint is not None:
        lines.append(f"checkpoints: {shown(checkpoint.parent)}{_files_in(checkpoint.parent, '*.ckpt')}")
    log_dir = getattr(trainer.logger, "log_dir", None)  # not Trainer.log_dir: a collective under DDP
    if log_dir is not None:
        lines.append(f"logs: {shown(log_dir)}{_files_in(Path(log_dir), '*')}")
    return lines


def _files_in(folder: Path, pattern: str) -> str:
    names = sorted(p.name for p in folder.glob(pattern) if p.is_file())
    return f" ({', '.join(names)})" if names else ""


def build_cli(args: list[str] | dict[str, Any] | None = None, run: bool = True,
              exit_on_error: bool = True, stop_on_signal: StopOnSignal | None = None) -> MNIST1DCLI:
    """The project's CLI on ``args`` (a command line, or a config dict when ``run=False``).

    ``exit_on_error=False`` raises jsonargparse's ``ArgumentError`` for a bad argument instead of printing the
    usage and exiting, and a ``ConfigError`` naming the new option for an option that was renamed (``renamed``).
    ``stop_on_signal`` lets the caller see which signal stopped a run.
    """
    parser_kwargs: dict[str, Any] = {"exit_on_error": exit_on_error}
    parser_kwargs.update({name: {"exit_on_error": exit_on_error} for name in MNIST1DCLI.subcommands()})
    try:
        return MNIST1DCLI(L.LightningModule, MNIST1DDataModule, subclass_mode_model=True,
                          seed_everything_default=0, save_config_kwargs={"overwrite": True}, args=args, run=run,
                          parser_kwargs=parser_kwargs, stop_on_signal=stop_on_signal)
    except ArgumentError as err:
        renamed = renamed_option(str(err))
        if renamed is None:
            raise
        raise ConfigError(renamed.message()) from None


USER_ERRORS = (ArgumentError, ConfigError, TooLargeError, OSError)


def _not_the_litlogger_tip(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()


def silence_third_party_noise() -> None:
    """For the command line only (a user's own program keeps its warnings): the "Seed set to 0" line (the seed
    is in the saved config), Lightning's advertisement for its cloud logger, and a deprecation inside Lightning
    that its users cannot act on."""
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    if _not_the_litlogger_tip not in rank_zero.log.filters:
        rank_zero.log.addFilter(_not_the_litlogger_tip)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def _last_saved(stop: StopOnSignal) -> str:
    return f"; the last checkpoint: {shown(stop.checkpoint)} (resume with --ckpt_path last)" if stop.checkpoint else ""


def main(args: list[str] | None = None) -> int:
    """``cli.py``: run the command line; a user error becomes one line on stderr and its exit code; Ctrl-C and
    SIGTERM stop a fit after saving its step (exit 130 and 143)."""
    silence_third_party_noise()
    stop = StopOnSignal()
    try:
        with terminate_on_sigterm():
            build_cli(args, exit_on_error=False, stop_on_signal=stop)
    except StoppedBySignal as stopped:
        saved = f"saved {shown(stopped.checkpoint)}; " if stopped.checkpoint else ""
        print(f"stopped by {signal.Signals(stopped.signum).name} after step {stopped.step}: {saved}"
              "resume with --ckpt_path last", file=sys.stderr)
        return int(stopped.code)
    except (KeyboardInterrupt, Terminated) as err:
        print(f"error: {one_line(err)}{_last_saved(stop)}", file=sys.stderr)
        return int(exit_code(err))
    except SystemExit:  # Lightning ends an interrupted run with sys.exit(1)
        if stop.received is None:
            raise
        signalled = KeyboardInterrupt() if stop.received == signal.SIGINT else Terminated()
        print(f"error: {one_line(signalled)}{_last_saved(stop)}", file=sys.stderr)
        return int(exit_code(signalled))
    except USER_ERRORS as err:
        if isinstance(err, ArgumentError):
            reason = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
            print(f"error: {reason} (see: python cli.py SUBCOMMAND --help)", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"error: {one_line(err)}", file=sys.stderr)
        return exit_code(err)
    if stop.received is not None:  # the signal came as the run finished: it is complete
        print(f"{signal.Signals(stop.received).name} received as the run ended; it is complete", file=sys.stderr)
        return 128 + stop.received
    return 0
