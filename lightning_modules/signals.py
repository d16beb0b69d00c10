"""Stopping a fit on Ctrl-C or SIGTERM without losing it: finish the step, save ``last.ckpt``, exit 130 or 143.

Lightning's own handling loses work and hides the stop: Ctrl-C raises wherever the program happens to be (in
the middle of an optimizer step, whose state is then unfit to save) and ends in ``sys.exit(1)``; SIGTERM ends
the fit at the next loop boundary with exit code 0, as if training had finished. ``StopOnSignal`` turns the first
SIGINT or SIGTERM into a request that is honoured at the end of the current training step, where the state is
exactly that of a periodic checkpoint: it saves ``last.ckpt`` there (atomically, ``checkpoint_io``) and raises
``StoppedBySignal``, a ``SystemExit`` with the shell's code for that signal. A second Ctrl-C stops at once; the
previous ``last.ckpt`` stays whole because every checkpoint is written aside and renamed.

Under DDP (more than one process) the handlers are left to Lightning, which stops every rank together; the
callback only records the signal so that the CLI exits with its code.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from mnist1d_hf.errors import Terminated


class StoppedBySignal(SystemExit):
    """The fit stopped at a step's end on ``signum``; ``checkpoint`` is the ``last.ckpt`` saved there (or None
    when checkpointing is off). Its exit code is the shell's: 128 + the signal's number."""

    def __init__(self, signum: int, step: int, checkpoint: Path | None) -> None:
        super().__init__(128 + signum)
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class StopOnSignal(L.Callback):
    """Turn the first SIGINT or SIGTERM during training into a clean stop after the current step (see module)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.checkpoint: Path | None = None  # after an abrupt stop: the run's last complete checkpoint, if any

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # after Lightning registered its own handlers, which it restores when the fit ends
        self.received = None
        if trainer.world_size == 1 and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._request_stop)
            signal.signal(signal.SIGTERM, self._request_stop)

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: stop now (the last complete checkpoint stays whole)
        self.received = self.received or signum

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        if self.received is not None:
            raise StoppedBySignal(self.received, trainer.global_step, save_last(trainer))

    def on_exception(self, trainer: L.Trainer, module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.received = self.received or signal.SIGINT
        elif isinstance(exception, (SIGTERMException, Terminated)):
            self.received = self.received or signal.SIGTERM
        path = last_checkpoint_path(trainer)
        self.checkpoint = path if path is not None and path.is_file() else None


def last_checkpoint_path(trainer: L.Trainer) -> Path | None:
    """Where the trainer's checkpoint callback keeps ``last.ckpt`` for this run (None without one)."""
    callback = trainer.checkpoint_callback
    if not isinstance(callback, ModelCheckpoint) or not callback.dirpath:
        return None
    return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"


def save_last(trainer: L.Trainer) -> Path | None:
    """Save the state after the current step as the run's ``last.ckpt``, which ``--ckpt_path last`` resumes."""
    path = last_checkpoint_path(trainer)
    if path is not None:
        trainer.save_checkpoint(path, weights_only=False)
    return path
