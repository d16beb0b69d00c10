"""One SimCLR epoch: ours (Trainer path) vs a plain loop in the style of the reference notebook.

The reference notebook augments row by row in Python (mean, ``polyfit`` trend, ``roll``, slope and offset drawn
per row) and trains a plain PyTorch loop. Ours is what ``configs/simclr.yaml`` runs: ``SimCLR`` (batched
augmentation on the device, online probes at every layer, their extra forward pass) + ``MNIST1DDataModule`` +
``Trainer``, timed over a whole ``fit`` of one epoch, Trainer setup included. Same data (the 4,000 training
rows), same network, batch 100, Adam lr 1e-2. The sides alternate over the repetitions; the reported number is
the median of the per-repetition time ratios (ours / reference loop). Target: at most 1.0.

    python bench/simclr_epoch.py [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from alternating import alternate, bench_parser, parse_and_configure, report, timed
from lightning_modules.data import MNIST1DDataModule
from lightning_modules.nets import ConvStack
from lightning_modules.ssl import SimCLR


def augment_row_by_row(x: np.ndarray, rng: np.random.RandomState, max_shift: int = 10, slope_std: float = 0.04,
                       offset_std: float = 0.3) -> np.ndarray:
    """The notebook's augmentation: one Python iteration per row."""
    t = np.arange(x.shape[1]) - (x.shape[1] - 1) / 2
    out = np.empty_like(x)
    for i, row in enumerate(x):
        row = row - row.mean()
        row = row - np.polyfit(t, row, 1)[0] * t
        row = np.roll(row, rng.randint(0, max_shift))
        out[i] = row + rng.randn() * slope_std * t + rng.randn() * offset_std
    return out


def reference_epoch(x_train: np.ndarray, batch_size: int = 100, temperature: float = 0.5) -> float:
    """One epoch of the notebook-style loop; returns the last batch's loss."""
    rng = np.random.RandomState(0)
    backbone = ConvStack()
    projector = nn.Sequential(nn.Linear(125, 125), nn.ReLU(), nn.Linear(125, 16))
    optimizer = torch.optim.Adam([*backbone.parameters(), *projector.parameters()], lr=1e-2)
    order = rng.permutation(len(x_train))
    for start in range(0, len(x_train), batch_size):
        batch = x_train[order[start:start + batch_size]]
        views = [torch.tensor(augment_row_by_row(batch, rng), dtype=torch.float32) for _ in range(2)]
        z1, z2 = (F.normalize(projector(backbone(v)), dim=1) for v in views)
        loss = F.cross_entropy(z1 @ z2.T / temperature, torch.arange(len(z1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def our_epoch() -> float:
    """One epoch of ``SimCLR`` through the Trainer, as ``configs/simclr.yaml`` trains it; returns the epoch loss."""
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0)
    trainer.fit(SimCLR(evaluate_at_fit_end=False), MNIST1DDataModule(batch_size=100, ordered=False))
    return trainer.callback_metrics["train/ssl_loss"].item()


def main() -> None:
    args = parse_and_configure(bench_parser(__doc__, repeats=5))

    data = MNIST1DDataModule()
    data.prepare_data()
    data.setup("fit")
    x_train = data.split("train")[0].numpy().astype(np.float64)
    timed(our_epoch)  # warm-up: imports, first-call allocations
    times = alternate(("ours", our_epoch, ()), ("reference", reference_epoch, (x_train,)), args.repeats,
                      lambda name, seconds, loss: f"{name:9s} {seconds:.2f} s/epoch (loss {loss:.3f})")
    report("simclr_epoch", "ours / reference loop time per epoch", times, "<= 1.0")

if __name__ == "__main__":
    main()
