"""Progress that suits where it goes: a bar in a terminal, a line now and then in a file.

A redrawn bar sent to a file (a cluster job's log, ``> run.log``) writes every redraw: megabytes for a
one-minute run. ``LineProgress`` writes one line at every tenth of the training and at least every minute.
In a terminal, ``TerminalProgress`` is Lightning's tqdm bar. Neither shows the logger's ``v_num`` (the run's
folder says it), and neither is Lightning's rich bar, which shows ``Epoch N/-2`` for step-bounded training.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar


def without_version(metrics: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in metrics.items() if name != "v_num"}


class TerminalProgress(TQDMProgressBar):
    """Lightning's tqdm bar without ``v_num``."""

    def get_metrics(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        return without_version(super().get_metrics(trainer, module))


class LineProgress(ProgressBar):
    """One line per ``1/parts`` of the training steps, and at least every ``interval`` seconds, on ``stream``:
    ``step 1200/6000 (20%)  12 s  train/loss 0.512  val/acc 0.851`` (the metrics logged with ``prog_bar``)."""

    def __init__(self, parts: int = 10, interval: float = 60.0, stream: TextIO | None = None) -> None:
        super().__init__()
        self.parts, self.interval, self.stream = parts, interval, stream
        self._enabled = True
        self._start = self._last_time = 0.0
        self._last_part = self._last_step = -1

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def get_metrics(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        return without_version(super().get_metrics(trainer, module))

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._start = self._last_time = time.monotonic()
        self._last_step = trainer.global_step  # a resumed run counts from its checkpoint's step
        self._last_part = self._part(trainer.global_step, self._total(trainer))

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        step, total, now = trainer.global_step, self._total(trainer), time.monotonic()
        if step >= total:  # the last step's line waits for its validation (on_train_end)
            return
        part = self._part(step, total)
        if part > self._last_part or now - self._last_time >= self.interval:
            self._last_part, self._last_time = part, now
            self._write(trainer, module, step, total, now)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.global_step != self._last_step:  # the final numbers, validation included
            self._write(trainer, module, trainer.global_step, self._total(trainer), time.monotonic())

    def _total(self, trainer: L.Trainer) -> float:
        return trainer.max_steps if trainer.max_steps > 0 else float(trainer.estimated_stepping_batches)

    def _part(self, step: int, total: float) -> int:
        return int(step * self.parts // total) if math.isfinite(total) and total > 0 else -1

    def _write(self, trainer: L.Trainer, module: L.LightningModule, step: int, total: float, now: float) -> None:
        if not self.is_enabled or not trainer.is_global_zero:
            return
        self._last_step = step
        of = f"/{int(total)} ({100 * step / total:.0f}%)" if math.isfinite(total) and total > 0 else ""
        metrics = "  ".join(f"{name} {_number(value)}" for name, value in self.get_metrics(trainer, module).items())
        line = f"step {step}{of}  {now - self._start:.0f} s  {metrics}".rstrip()
        print(line, file=self.stream or sys.stdout, flush=True)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def progress_for(stream: TextIO) -> ProgressBar:
    """The progress callback for output going to ``stream``: a bar on a terminal, lines otherwise."""
    is_terminal = getattr(stream, "isatty", lambda: False)()
    return TerminalProgress() if is_terminal else LineProgress()
