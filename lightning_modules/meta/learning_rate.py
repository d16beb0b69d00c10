"""``MetaLearningRate``: metalearn the inner SGD learning rate by gradient descent through the whole unroll
(paper Fig. 5). One training step of the Trainer is one outer step: a full inner run, its meta-gradient, an update.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mnist1d_hf.config import require

from .history import OuterStepHistory
from .inner import learning_rate_inner_run, seeded_inner_mlp


class MetaLearningRate(OuterStepHistory):
    """The scalar inner learning rate is the only trainable parameter.

    Every outer step trains the tanh MLP ``input_size -> hidden_size -> classes`` from the same ``theta0``
    (PyTorch's default init after ``torch.manual_seed(theta_seed)``, built once and kept as buffers) with plain
    SGD for ``inner_steps`` sequential batches of the training split from row 0; the meta-objective is the mean
    of those minibatch losses (each taken before its update), minimized by plain gradient descent with rate
    ``outer_lr``. The Trainer's batches are ignored: set ``max_steps`` to the number of outer steps.

    Logged per outer step: ``meta/lr`` (the rate this inner run used), ``meta/lr_next`` (after the update),
    ``meta/mean_inner_loss``, ``meta/final_inner_loss`` and ``meta/grad``; ``history`` keeps the same records
    and is saved in checkpoints.
    """

    def __init__(self, init_lr: float = 1.5, outer_lr: float = 0.3, inner_steps: int = 200, inner_batch_size: int = 50,
                 input_size: int = 40, hidden_size: int = 50, classes: int = 10, theta_seed: int = 0) -> None:
        super().__init__()
        for name, value in (("inner_steps", inner_steps), ("inner_batch_size", inner_batch_size),
                            ("input_size", input_size), ("hidden_size", hidden_size), ("classes", classes)):
            require(value >= 1, name, value, "an integer >= 1")
        require(outer_lr > 0, "outer_lr", outer_lr, "a rate > 0")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.inner_lr = nn.Parameter(torch.tensor(float(init_lr)))
        _, theta0 = seeded_inner_mlp(input_size, hidden_size, classes, theta_seed)
        self.theta_names = list(theta0)
        for name, value in theta0.items():
            self.register_buffer(self._buffer(name), value)

    @staticmethod
    def _buffer(name: str) -> str:
        return "theta0_" + name.replace(".", "_")

    @property
    def theta0(self) -> dict[str, torch.Tensor]:
        """The inner network's starting parameters (the same for every outer step)."""
        return {name: getattr(self, self._buffer(name)) for name in self.theta_names}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD([self.inner_lr], lr=self.hparams.outer_lr)

    def inner_losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The minibatch losses of one inner run at the current rate, differentiable with respect to it."""
        hp = self.hparams
        return learning_rate_inner_run(self.inner_lr, self.theta0, x, y, hp.inner_steps, hp.inner_batch_size)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = self.trainer.datamodule.split("train")
        optimizer = self.optimizers()
        losses = self.inner_losses(x, y)
        meta_loss = losses.mean()
        optimizer.zero_grad()
        self.manual_backward(meta_loss)
        record = {"meta/lr": self.inner_lr.item(), "meta/grad": self.inner_lr.grad.item()}
        optimizer.step()
        record |= {"meta/lr_next": self.inner_lr.item(), "meta/mean_inner_loss": meta_loss.item(),
                   "meta/final_inner_loss": losses[-1].item()}
        self.record_outer_step(record)
