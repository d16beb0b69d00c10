"""``Classifier``: any network from ``nets`` trained with cross-entropy, logging the paper's accuracy curves."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

Batch = tuple[torch.Tensor, torch.Tensor]
PAPER_LR = 1e-2


class Classifier(L.LightningModule):
    """A network composed into a LightningModule: cross-entropy, micro-averaged accuracy, one optimizer.

    Args:
        net: the ``nn.Module`` mapping (N, L) signals to (N, classes) logits, e.g. ``nets.CNN()``.
        optimizer: builds the optimizer from the parameters; ``None`` is the paper's Adam with lr 1e-2.
        num_classes: number of classes for the accuracy metrics.

    Logged: ``train/loss`` and ``train/acc`` every ``log_every_n_steps`` steps (batch values), ``val/loss``
    and ``val/acc`` on the validation split, ``train_eval/loss`` and ``train_eval/acc`` on the full training set
    when the data module adds that second validation loader, and ``test/loss``, ``test/acc``.
    ``predict_step`` returns class probabilities.
    """

    def __init__(self, net: nn.Module, optimizer: OptimizerCallable | None = None, num_classes: int = 10) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.optimizer = optimizer
        accuracy = lambda: MulticlassAccuracy(num_classes, average="micro")  # noqa: E731
        self.train_acc, self.val_acc, self.train_eval_acc, self.test_acc = (accuracy() for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        if self.trainer.logger is not None and (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            # the metric costs as much as a small network's step: compute it only on the steps the
            # trainer writes (its ``log_every_n_steps`` cadence)
            self.train_acc(logits, y)
            self.log("train/acc", self.train_acc, on_step=True, on_epoch=False)
            self.log("train/loss", loss.detach(), on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        split, metric = ("val", self.val_acc) if dataloader_idx == 0 else ("train_eval", self.train_eval_acc)
        self._evaluate(batch, split, metric)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_acc)

    def predict_step(self, batch: Batch | torch.Tensor, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.net(x).softmax(-1)

    def _evaluate(self, batch: Batch, split: str, metric: MulticlassAccuracy) -> None:
        x, y = batch
        logits = self.net(x)
        metric(logits, y)
        # weighted by batch size, so the epoch value is the exact split mean, also across DDP ranks
        self.log(f"{split}/loss", F.cross_entropy(logits, y), batch_size=len(y), sync_dist=True,
                 add_dataloader_idx=False, prog_bar=split == "val")
        self.log(f"{split}/acc", metric, add_dataloader_idx=False, prog_bar=split == "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            return torch.optim.Adam(self.parameters(), lr=PAPER_LR)
        return self.optimizer(self.parameters())
