"""``MNIST1DCLI``: the LightningCLI behind ``cli.py``, importable so that studies build runs from the same configs.

Models are picked by class path in the config (``lightning_modules.Classifier`` with any ``nets`` network, or any
other LightningModule); the data is always ``MNIST1DDataModule``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from .data import MNIST1DDataModule


class MNIST1DCLI(LightningCLI):
    """LightningCLI with a ``torch_threads`` option, where ``--ckpt_path best`` also works in a new process.

    A fresh Trainer does not know which checkpoint was best, so when the checkpoint callback writes to a fixed
    ``dirpath`` and ``filename`` (as ``cli.yaml`` does), that file is the best checkpoint.
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


def build_cli(args: list[str] | dict[str, Any] | None = None, run: bool = True) -> MNIST1DCLI:
    """The project's CLI on ``args`` (a command line, or a config dict when ``run=False``)."""
    return MNIST1DCLI(L.LightningModule, MNIST1DDataModule, subclass_mode_model=True, seed_everything_default=0,
                      save_config_kwargs={"overwrite": True}, args=args, run=run)
