"""The command line as a user runs it: fit from YAML in a subprocess with its output piped to a file, then test
the best checkpoint (in this process, through ``cli.py``'s ``main``), and every config parses."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.cli import build_cli
from lightning_modules.nets import CNN

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_fit_then_test_best_checkpoint_from_yaml(tmp_path, cli_main, capsys):
    """Output piped to a file, as a job's log: progress is a line per tenth of the run, not a redrawn bar, and
    fit ends by saying where its checkpoints and logs went."""
    short = ["--config", str(ROOT / "cli.yaml"), "--trainer.max_steps", "60", "--trainer.val_check_interval", "20"]
    fit = run_cli("fit", *short, cwd=tmp_path)
    run = tmp_path / "lightning_logs" / "cli" / "version_0"
    best = run / "checkpoints" / "best.ckpt"
    assert best.is_file() and (run / "checkpoints" / "last.ckpt").is_file() and (run / "config.yaml").is_file()
    with open(run / "metrics.csv") as f:
        val = [float(row["val/acc"]) for row in csv.DictReader(f) if row["val/acc"]]
    assert len(val) == 3

    lines = fit.stdout.splitlines()
    progress = [line for line in lines if line.startswith("step ")]
    assert [line.split()[1] for line in progress] == [f"{6 * k}/60" for k in range(1, 11)]
    assert f"val/acc {val[-1]:.4g}" in progress[-1]  # the last line has the final validation
    assert lines[-2:] == ["checkpoints: lightning_logs/cli/version_0/checkpoints (best.ckpt, last.ckpt)",
                          "logs: lightning_logs/cli/version_0 (config.yaml, hparams.yaml, metrics.csv)"]
    assert len(fit.stdout) < 5_000 and "\r" not in fit.stdout
    for noise in ("v_num", "/-2", "litlogger", "LeafSpec", "Traceback"):
        assert noise not in fit.stdout + fit.stderr, noise

    capsys.readouterr()
    assert cli_main("test", *short, "--ckpt_path", "best", cwd=tmp_path) == 0
    assert "--ckpt_path best: lightning_logs/cli/version_0/checkpoints/best.ckpt" in capsys.readouterr().out
    with open(tmp_path / "lightning_logs" / "cli" / "version_1" / "metrics.csv") as f:
        reported = [float(row["test/acc"]) for row in csv.DictReader(f) if row["test/acc"]]
    # the number the CLI reports is the best checkpoint's accuracy on the full test split
    model = Classifier.load_from_checkpoint(best, net=CNN())
    x, y = _test_split()
    with torch.no_grad():
        expected = (model(x).argmax(-1) == y).float().mean().item()
    assert reported == [pytest.approx(expected)]
    assert expected > 0.2


def _test_split():
    dm = MNIST1DDataModule()
    dm.prepare_data()
    dm.setup("test")
    return dm.split("test")


@pytest.mark.parametrize("config, net, params, variant", [
    ("cli.yaml", "CNN", 5_210, "standard"),
    ("configs/logistic.yaml", "Logistic", 410, "standard"),
    ("configs/mlp.yaml", "MLP", 15_210, "standard"),
    ("configs/cnn.yaml", "CNN", 5_210, "standard"),
    ("configs/gru.yaml", "GRU", 5_134, "standard"),
    ("configs/gru.yaml configs/shuffled.yaml", "GRU", 5_134, "shuffled"),
])
def test_configs_build_the_table1_models(config, net, params, variant, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    args = [arg for path in config.split() for arg in ("--config", str(ROOT / path))]
    threads = torch.get_num_threads()
    try:
        cli = build_cli(args, run=False)
        assert torch.get_num_threads() == 1  # the configs' torch_threads
    finally:
        torch.set_num_threads(threads)
    assert isinstance(cli.model, Classifier) and type(cli.model.net).__name__ == net
    assert sum(p.numel() for p in cli.model.net.parameters()) == params
    assert cli.datamodule.hparams.variant == variant
    optimizer = cli.model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 0.01
