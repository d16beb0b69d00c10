"""``OuterStepHistory``: the record of every outer step, logged and kept in the checkpoint, so a resumed run's
history is the uninterrupted run's."""

from __future__ import annotations

from typing import Any

import lightning as L


class OuterStepHistory(L.LightningModule):
    """A LightningModule base whose ``history`` lists one record per outer (training) step."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, float]] = []

    def record_outer_step(self, record: dict[str, float]) -> None:
        """Keep ``record`` for this outer step and log it."""
        self.history.append({"step": self.global_step - 1, **record})
        self.log_dict(record, on_step=True, on_epoch=False, prog_bar=False)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["meta_history"] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("meta_history", []))
