"""One run across two nodes: two ``cli.py fit`` launchers with node ranks 0 and 1 (master on 127.0.0.1, gloo), as a
cluster scheduler would start them, train exactly like one process on the global batch — the classifier, and
SimCLR with its negatives gathered across the nodes. The one process is a fit in the test's own process, through
the same CLI class as ``cli.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port
from resume_helpers import fit_in_process
import torch
import yaml

from experiments.runs import load_config, override

ROOT = Path(__file__).resolve().parents[1]
STEPS = 6


def write_config(base: str, folder: Path, batch_size: int, nodes: int, **changes) -> Path:
    """``base`` with a short run, no logger, and the last checkpoint written to ``folder``."""
    config = override(load_config(base), **{
        "trainer.max_steps": STEPS, "trainer.logger": False, "trainer.enable_progress_bar": False,
        "trainer.accelerator": "cpu", "trainer.devices": 1, "trainer.num_nodes": nodes,
        "trainer.strategy": "ddp" if nodes > 1 else "auto", "trainer.check_val_every_n_epoch": None,
        "trainer.val_check_interval": STEPS, "trainer.default_root_dir": str(folder),
        "trainer.callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                               "init_args": {"dirpath": str(folder), "filename": "last", "save_top_k": 1,
                                             "enable_version_counter": False}}],
        "data.batch_size": batch_size, "data.train_subset": 400, "data.ordered": True, **changes})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def launch(config: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(config)],
                            cwd=config.parent, env={**os.environ, "OMP_NUM_THREADS": "1", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    try:
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr[-3000:]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "last.ckpt", weights_only=False)["state_dict"]


@pytest.mark.parametrize("base, changes", [
    ("configs/mlp.yaml", {}),
    # deterministic views, so that the two nodes' augmentations equal the one process's. Slow: the default run
    # covers SimCLR's negatives gathered across processes (test_ssl_ddp) and two nodes (the classifier above)
    pytest.param("configs/simclr.yaml", {"model.init_args.max_shift": 1, "model.init_args.slope_std": 0.0,
                                         "model.init_args.offset_std": 0.0,
                                         "model.init_args.evaluate_at_fit_end": False, "trainer.max_epochs": -1},
                 marks=pytest.mark.slow),
], ids=["classifier", "simclr"])
def test_two_nodes_train_like_one_process_on_the_global_batch(base, changes, tmp_path):
    single = tmp_path / "single"
    fit_in_process(write_config(base, single, batch_size=100, nodes=1, **changes))

    port = str(free_port())
    nodes = []
    for rank in (0, 1):
        config = write_config(base, tmp_path / f"node{rank}", batch_size=50, nodes=2, **changes)
        nodes.append(launch(config, {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NODE_RANK": str(rank),
                                     "LOCAL_RANK": "0", "WORLD_SIZE": "2", "PL_TORCH_DISTRIBUTED_BACKEND": "gloo"}))
    for node in nodes:
        finish(node)

    expected, got = weights(single), weights(tmp_path / "node0")  # global rank 0 writes the checkpoint
    assert set(expected) == set(got)
    for key in expected:
        # summation order differs across processes; Adam's 1/sqrt(v) magnifies it for near-zero gradients,
        # so a few 1e-5 remain after 6 steps, against changes of order 1e-2 if the nodes trained differently
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-4, msg=key)
    assert not (tmp_path / "node1" / "last.ckpt").exists()
