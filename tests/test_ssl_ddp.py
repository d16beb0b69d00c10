"""SimCLR under DDP on CPU: two processes train exactly like one process on the global batch, and the real
``ddp`` launcher runs ``configs/simclr.yaml`` through the command line."""

import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from lightning_modules.data import MNIST1DDataModule
from lightning_modules.ssl import SimCLR

ROOT = Path(__file__).resolve().parents[1]
DETERMINISTIC_VIEWS = {"max_shift": 1, "slope_std": 0.0, "offset_std": 0.0}


def train(devices: int, batch_size: int, loss: str, strategy: str = "auto") -> dict[str, torch.Tensor]:
    """Three steps on the first 400 training rows; the model's parameters afterwards (and before, as 'init.')."""
    L.seed_everything(0, verbose=False)
    model = SimCLR(loss=loss, evaluate_at_fit_end=False, **DETERMINISTIC_VIEWS)
    initial = {f"init.{k}": v.clone() for k, v in model.state_dict().items()}
    data = MNIST1DDataModule(batch_size=batch_size, train_subset=400, ordered=True)
    trainer = L.Trainer(max_steps=3, accelerator="cpu", devices=devices, strategy=strategy, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(model, data)
    return {**initial, **{k: v.detach().clone() for k, v in model.state_dict().items()}}


@pytest.mark.parametrize("loss", ["info_nce", "nt_xent"])
def test_two_gloo_processes_match_one_process_on_the_global_batch(loss):
    single = train(devices=1, batch_size=200, loss=loss)
    double = train(devices=2, batch_size=100, loss=loss, strategy="ddp_fork")
    trained = [k for k in single if not k.startswith("init.")]
    assert {k for k in trained if k.split(".")[0] in ("backbone", "projector", "probes")} == set(trained)
    for key in trained:
        assert not torch.equal(single[key], single[f"init.{key}"]), key          # every parameter moved
        torch.testing.assert_close(double[key], single[key], rtol=1e-4, atol=1e-5, msg=key)


def test_ddp_launcher_through_the_command_line(tmp_path):
    command = [sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs/simclr.yaml"),
               "--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.accelerator=cpu",
               "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false", "--trainer.log_every_n_steps=1",
               "--data.batch_size=50", "--data.train_subset=400", "--model.probe_max_iter=50",
               "--data.overrides={num_samples: 1000}"]  # the evaluation at the end of fit on 400 + 200 examples
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    logs = tmp_path / "lightning_logs" / "simclr"
    assert "projector_output" in (logs / "version_0" / "layerwise.json").read_text()
    restored = SimCLR.load_from_checkpoint(logs / "version_0" / "checkpoints" / "last.ckpt")
    assert restored.hparams.gather_distributed and restored.layer_names[-1] == "projector_output"
    assert "train/ssl_loss" in (logs / "version_0" / "metrics.csv").read_text()
