"""What the command line prints: a bar in a terminal and lines in a file, never the logger's ``v_num``; and the
third-party noise it silences stays silenced only in the command line, never in a program importing the package."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.nets import MLP
from lightning_modules.progress import LineProgress, TerminalProgress, progress_for

REPO = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fit(tmp_path: Path, bar, max_steps: int = 4) -> tuple[L.Trainer, Classifier]:
    L.seed_everything(0, verbose=False)
    model = Classifier(MLP(hidden_size=8))
    data = MNIST1DDataModule(overrides={"num_samples": 500}, train_subset=100, batch_size=50)
    trainer = L.Trainer(max_steps=max_steps, val_check_interval=2, check_val_every_n_epoch=None, callbacks=[bar],
                        logger=CSVLogger(tmp_path), enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(model, data)
    return trainer, model


def test_a_terminal_gets_a_bar_and_a_file_gets_lines():
    assert type(progress_for(Terminal())) is TerminalProgress
    assert type(progress_for(io.StringIO())) is LineProgress


def test_the_bar_does_not_show_the_loggers_version(tmp_path, one_torch_thread):
    trainer, model = fit(tmp_path, TerminalProgress())
    assert "v_num" in TQDMProgressBar().get_metrics(trainer, model)  # what Lightning's own bar shows
    shown = TerminalProgress().get_metrics(trainer, model)
    assert "v_num" not in shown and "val/acc" in shown


def test_lines_come_at_each_part_of_the_run_or_after_the_interval(tmp_path, one_torch_thread, capsys):
    fit(tmp_path / "parts", LineProgress(parts=2, interval=3600), max_steps=6)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["step 3/6 (50%)", "step 6/6 (100%)"]
    assert "v_num" not in "".join(lines) and "val/acc" in lines[-1]
    fit(tmp_path / "interval", LineProgress(parts=1, interval=0), max_steps=3)  # every step, when time is up
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["step 1/3 (33%)", "step 2/3 (67%)", "step 3/3 (100%)"]


def test_importing_the_package_changes_no_warning_filter_or_log_level():
    """The command line silences Lightning's litlogger tip and a LeafSpec deprecation; a user's program that
    imports the package keeps every warning and log record it had."""
    probe = ("import logging, warnings; import lightning_utilities.core.rank_zero as rank_zero; import lightning; "
             "before = (list(warnings.filters), logging.getLogger('lightning.fabric.utilities.seed').level); "
             "import mnist1d_hf, mnist1d_hf.cli, lightning_modules, lightning_modules.cli; "
             "after = (list(warnings.filters), logging.getLogger('lightning.fabric.utilities.seed').level); "
             "print(before == after and not rank_zero.log.filters)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.stdout.strip() == "True", done.stderr[-2000:]
