"""Checkpoints are written whole or not at all: a failed save keeps the previous file, and the CLI's trainers use
the atomic writer unless configured with a checkpoint plugin of their own."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from lightning_modules.checkpoint_io import SiblingCheckpointIO
from lightning_modules.cli import build_cli

ROOT = Path(__file__).resolve().parents[1]


def test_a_save_that_fails_half_way_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    io, path = SiblingCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"step": 1, "weights": torch.arange(1000.0)}, path)
    assert io.load_checkpoint(path)["step"] == 1

    def half_then_fail(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(OSError, match="last.ckpt"):
        io.save_checkpoint({"step": 2, "weights": torch.arange(1000.0)}, path)
    assert io.load_checkpoint(path)["step"] == 1  # the previous checkpoint, whole
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left
    monkeypatch.undo()
    io.save_checkpoint({"step": 3}, path)
    assert io.load_checkpoint(path) == {"step": 3}


def test_the_cli_trainer_writes_checkpoints_atomically_and_keeps_a_plugin_of_the_users(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    monkeypatch.chdir(tmp_path)
    config = ["--config", str(ROOT / "configs" / "logistic.yaml"), "--trainer.max_steps", "2",
              "--trainer.logger", "false", "--trainer.enable_checkpointing", "true",
              "--trainer.default_root_dir", str(tmp_path)]
    cli = build_cli(config, run=False)
    assert type(cli.trainer.strategy.checkpoint_io) is SiblingCheckpointIO
    cli.trainer.fit(cli.model, cli.datamodule)
    saved = list(tmp_path.rglob("*.ckpt"))
    assert saved and torch.load(saved[0], weights_only=False)["global_step"] == 2
    own = build_cli(config + ["--trainer.plugins", "lightning.fabric.plugins.io.torch_io.TorchCheckpointIO"],
                    run=False)
    assert type(own.trainer.strategy.checkpoint_io) is TorchCheckpointIO  # a user's choice is left alone
