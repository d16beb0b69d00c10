"""LightningCLI users switch the logger to TensorBoard from the command line; event files are written."""

from pathlib import Path

import pytest

pytest.importorskip("tensorboard")

ROOT = Path(__file__).resolve().parents[1]


def test_fit_with_the_tensorboard_logger_writes_event_files(tmp_path, cli_main):
    logs = tmp_path / "tb"
    args = ["fit", "--config", str(ROOT / "cli.yaml"), "--trainer.max_steps", "20",
            "--trainer.val_check_interval", "10", "--trainer.enable_progress_bar", "false",
            "--trainer.logger", "lightning.pytorch.loggers.TensorBoardLogger",
            "--trainer.logger.save_dir", str(logs)]
    assert cli_main(*args, cwd=tmp_path) == 0
    events = list(logs.rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert any(tag.startswith("val/") for tag in acc.Tags()["scalars"]), acc.Tags()["scalars"]
