"""Checkpoints written whole or not at all: the bytes go to a temporary sibling of the target, then a rename.

Lightning's ``TorchCheckpointIO`` commits a local checkpoint through an fsspec transaction whose temporary file
lives in the system's temporary folder. When that folder is on another file system than the checkpoint (a
container's /tmp, a cluster's scratch disk), the commit copies into the target, and a kill during the copy
leaves a truncated ``last.ckpt`` that no resume can read. A sibling is on the same file system, so the rename is
atomic: a reader sees the old checkpoint or the new one.
"""

from __future__ import annotations

import io
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from mnist1d_hf.atomic import write_file


class SiblingCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are atomic (remote URLs keep Lightning's own writer)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_file(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def use_sibling_checkpoints(trainer: Any) -> None:
    """Give ``trainer`` atomic local checkpoints, unless it was configured with a checkpoint plugin of its own.

    A strategy creates its default ``TorchCheckpointIO`` on first use; until then ``_checkpoint_io`` is None,
    which is how a configured plugin (even a ``TorchCheckpointIO``) is told from the default."""
    if getattr(trainer.strategy, "_checkpoint_io", None) is None:
        trainer.strategy.checkpoint_io = SiblingCheckpointIO()
