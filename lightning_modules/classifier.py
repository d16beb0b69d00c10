"""``Classifier``: any network from ``nets`` trained with cross-entropy (or MSE), logging the paper's curves."""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

Batch = tuple[torch.Tensor, torch.Tensor]
PAPER_LR = 1e-2
LOSSES = ("cross_entropy", "mse")
LossName = Literal["cross_entropy", "mse"]
# Lightning's own bookkeeping, set on the module around every hook (about 45 times a training step)
HOOK_BOOKKEEPING = frozenset({"_current_fx_name"})


def classification_loss(logits: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy",
                        reduction: Literal["mean", "none"] = "mean") -> torch.Tensor:
    """The training loss of (N, C) logits against (N,) labels: the batch mean, or one value per example.

    ``cross_entropy`` is ``F.cross_entropy``; ``mse`` is the squared error of the logits against one-hot
    targets, averaged over the C outputs and the N examples (``F.mse_loss(logits, one_hot(y))``), the loss whose
    interpolation threshold the double-descent study compares with cross-entropy's.
    """
    if loss == "cross_entropy":
        return F.cross_entropy(logits, y, reduction=reduction)
    if loss == "mse":
        squared = F.mse_loss(logits, F.one_hot(y, logits.shape[-1]).to(logits.dtype), reduction=reduction)
        return squared if reduction == "mean" else squared.mean(-1)
    raise ValueError(f"loss={loss!r} is invalid: allowed one of {list(LOSSES)}")


def check_loss(loss: str) -> str:
    """``loss`` if it names one of ``LOSSES``; raises at construction rather than at the first step."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is invalid: allowed one of {list(LOSSES)}")
    return loss


class Classifier(L.LightningModule):
    """A network composed into a LightningModule: one loss, micro-averaged accuracy, one optimizer.

    Args:
        net: the ``nn.Module`` mapping (N, L) signals to (N, classes) logits, e.g. ``nets.CNN()``.
        optimizer: builds the optimizer from the parameters; ``None`` is the paper's Adam with lr 1e-2.
        num_classes: number of classes for the accuracy metrics.
        loss: ``cross_entropy`` (the paper's default) or ``mse`` (squared error against one-hot targets on the
            logits, see ``classification_loss``); the accuracy does not depend on it.

    Logged: ``train/loss`` and ``train/acc`` every ``log_every_n_steps`` steps (batch values); on each
    evaluated split ``<split>/loss`` (the training loss, over the whole split), ``<split>/acc`` and
    ``<split>/error`` (= 1 - acc), where the split is ``val`` (the validation split: the test split in the
    paper's protocol), ``train_eval`` (the full training set, when the data module adds that second validation
    loader) or ``test``. So a study reads the training error as ``train_eval/error``, the test error as
    ``val/error`` (or ``test/error``) and the test loss as ``val/loss`` (or ``test/loss``).
    ``predict_step`` returns class probabilities.
    """

    def __init__(self, net: nn.Module, optimizer: OptimizerCallable | None = None, num_classes: int = 10,
                 loss: LossName = "cross_entropy") -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.optimizer = optimizer
        self.loss = check_loss(loss)
        accuracy = lambda: MulticlassAccuracy(num_classes, average="micro")  # noqa: E731
        self.train_acc, self.val_acc, self.train_eval_acc, self.test_acc = (accuracy() for _ in range(4))

    def __setattr__(self, name: str, value: object) -> None:
        """Lightning's per-hook bookkeeping (a hook's name, a plain string) stored directly: ``nn.Module.__setattr__``
        would check every such assignment against the parameters, buffers and submodules (``isinstance`` through
        their metaclasses), some 45 times a training step. Numerics are untouched."""
        if name in HOOK_BOOKKEEPING:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self.net(x)
        loss = classification_loss(logits, y, self.loss)
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
        self.log(f"{split}/loss", classification_loss(logits, y, self.loss), batch_size=len(y), sync_dist=True,
                 add_dataloader_idx=False, prog_bar=split == "val")
        self.log(f"{split}/acc", metric, add_dataloader_idx=False, prog_bar=split == "val")
        self.log(f"{split}/error", (logits.argmax(-1) != y).float().mean(), batch_size=len(y), sync_dist=True,
                 add_dataloader_idx=False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            return torch.optim.Adam(self.parameters(), lr=PAPER_LR)
        return self.optimizer(self.parameters())
