"""``MNIST1DCLI``: the LightningCLI behind ``cli.py``, importable so that studies build runs from the same configs.

Models are picked by class path in the config (``lightning_modules.Classifier`` with any ``nets`` network, or any
other LightningModule); the data is always ``MNIST1DDataModule``.

``main`` is ``cli.py``: a user error (a bad option or value, a path that cannot be written, data too large for
memory) prints one line, ``error: ...``, and exits with the codes of ``mnist1d_hf.errors`` (2 bad input, 3 I/O,
4 too large); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from jsonargparse import ArgumentError
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from mnist1d_hf.errors import EXIT_BAD_INPUT, ConfigError, TooLargeError, exit_code, one_line

from .checkpoint_io import use_sibling_checkpoints
from .data import MNIST1DDataModule


class MNIST1DCLI(LightningCLI):
    """LightningCLI with a ``torch_threads`` option, where ``--ckpt_path best`` also works in a new process.

    Local checkpoints are written atomically (``checkpoint_io.SiblingCheckpointIO``): a run killed while saving
    keeps its previous ``last.ckpt``. A fresh Trainer does not know which checkpoint was best, so when the
    checkpoint callback writes to a fixed ``dirpath`` and ``filename`` (as ``cli.yaml`` does), that file is the
    best checkpoint.
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--torch_threads", type=int | None, default=1,
                            help="CPU threads for torch ops; these networks are so small that one thread is "
                                 "fastest, and more contend for the cores (null: torch's default)")

    def before_instantiate_classes(self) -> None:
        threads = self.config.get(self.subcommand, self.config).get("torch_threads")
        if threads is not None:
            torch.set_num_threads(threads)

    def _find_best_checkpoint(self) -> None:
        callback = self.trainer.checkpoint_callback
        if callback is None or callback.best_model_path or not callback.dirpath or not callback.filename:
            return
        saved = Path(callback.dirpath) / f"{callback.filename}{callback.FILE_EXTENSION}"
        if saved.is_file():
            callback.best_model_path = str(saved)

    before_validate = before_test = before_predict = _find_best_checkpoint

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The configured Trainer, whose local checkpoints are written atomically (``checkpoint_io``)."""
        trainer = super().instantiate_trainer(**kwargs)
        use_sibling_checkpoints(trainer)
        return trainer


def build_cli(args: list[str] | dict[str, Any] | None = None, run: bool = True,
              exit_on_error: bool = True) -> MNIST1DCLI:
    """The project's CLI on ``args`` (a command line, or a config dict when ``run=False``).

    ``exit_on_error=False`` raises jsonargparse's ``ArgumentError`` for a bad argument instead of printing the
    usage and exiting.
    """
    parser_kwargs: dict[str, Any] = {"exit_on_error": exit_on_error}
    parser_kwargs.update({name: {"exit_on_error": exit_on_error} for name in MNIST1DCLI.subcommands()})
    return MNIST1DCLI(L.LightningModule, MNIST1DDataModule, subclass_mode_model=True, seed_everything_default=0,
                      save_config_kwargs={"overwrite": True}, args=args, run=run, parser_kwargs=parser_kwargs)


USER_ERRORS = (ArgumentError, ConfigError, TooLargeError, OSError)


def main(args: list[str] | None = None) -> int:
    """``cli.py``: run the command line; a user error becomes one line on stderr and its exit code."""
    # "Seed set to 0" on stderr would precede an error line; the seed is in the saved config anyway
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    try:
        build_cli(args, exit_on_error=False)
    except USER_ERRORS as err:
        if isinstance(err, ArgumentError):
            reason = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
            print(f"error: {reason} (see: python cli.py SUBCOMMAND --help)", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"error: {one_line(err)}", file=sys.stderr)
        return exit_code(err)
    return 0
