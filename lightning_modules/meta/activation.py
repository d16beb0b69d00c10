"""``MetaActivation``: metalearn an activation function through an unrolled RMSprop training run (paper Fig. 6).
One training step of the Trainer is one outer step: a full inner run, its meta-gradient, a clipped SGD update.
"""

from __future__ import annotations

from typing import Any

import torch

from mnist1d_hf.config import require

from .activations import LearnedActivation
from .history import OuterStepHistory
from .inner import activation_inner_run


class MetaActivation(OuterStepHistory):
    """The weights of ``activation`` (``elu(x) + scale * g(x)``, see ``LearnedActivation``) are the only
    trainable parameters.

    Every outer step runs ``activation_inner_run``: the MLP ``40 -> hidden_size -> 10`` with hidden noise,
    trained by hand-written RMSprop (squared-gradient average from ones, ``decay``, ``inner_lr``, ``eps``) for
    ``inner_steps`` sequential batches from row 0. The meta-loss is the mean of the last ``meta_window`` inner
    losses; its gradient is clipped elementwise to ``+-clip`` and applied by SGD with rate ``outer_lr``.

    Exact and resumable: every inner run starts from ``seed`` (the init as after ``torch.manual_seed(seed)``,
    the noise from a private generator seeded with ``seed``), so an outer step is a pure function of the
    activation's weights and no random generator state has to survive a checkpoint; the weights, the optimizer
    and ``history`` are checkpointed. The Trainer's batches are ignored: set ``max_steps`` to the outer steps.

    Logged per outer step: ``meta/loss``, ``meta/test_acc`` (first ``test_rows`` test rows, after the inner
    run), ``meta/grad_norm`` (L2 norm of the clipped meta-gradient, the one applied), ``meta/grad_norm_raw``
    (before clipping), ``meta/mean_inner_loss`` and ``meta/final_inner_loss``.
    """

    def __init__(self, outer_lr: float = 0.3, clip: float = 0.1, meta_window: int = 200, inner_steps: int = 301,
                 inner_batch_size: int = 100, hidden_size: int = 128, inner_lr: float = 1e-2, decay: float = 0.4,
                 eps: float = 1e-8, noise: float = 0.1, seed: int = 0, test_rows: int = 500,
                 activation_hidden: int = 100, activation_scale: float = 0.2, activation_init_seed: int = 0,
                 reference_eval_draws: bool = True) -> None:
        super().__init__()
        require(1 <= meta_window <= inner_steps, "meta_window", meta_window,
                f"an integer in [1, inner_steps={inner_steps}]")
        require(clip > 0, "clip", clip, "a bound > 0")
        require(outer_lr > 0, "outer_lr", outer_lr, "a rate > 0")
        require(test_rows >= 1, "test_rows", test_rows, "an integer >= 1")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.activation = LearnedActivation(activation_hidden, activation_scale, noise, activation_init_seed)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.activation.parameters(), lr=self.hparams.outer_lr)

    def inner_run(self, activation: Any = None) -> Any:
        """One inner run on the data module's splits with ``activation`` (default: the learned one)."""
        hp = self.hparams
        data = self.trainer.datamodule
        return activation_inner_run(self.activation if activation is None else activation, *data.split("train"),
                                    *data.split("test"), steps=hp.inner_steps, batch_size=hp.inner_batch_size,
                                    hidden_size=hp.hidden_size, lr=hp.inner_lr, decay=hp.decay, eps=hp.eps,
                                    noise=hp.noise, seed=hp.seed, test_rows=hp.test_rows,
                                    reference_eval_draws=hp.reference_eval_draws)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        optimizer = self.optimizers()
        run = self.inner_run()
        meta_loss = run.losses[-self.hparams.meta_window:].mean()
        optimizer.zero_grad()
        self.manual_backward(meta_loss)
        grads = [p.grad for p in self.activation.parameters()]
        raw_norm = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))
        torch.nn.utils.clip_grad_value_(self.activation.parameters(), self.hparams.clip)
        norm = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))
        optimizer.step()
        record = {"meta/loss": meta_loss.item(), "meta/test_acc": run.test_acc, "meta/grad_norm": norm.item(),
                  "meta/grad_norm_raw": raw_norm.item(), "meta/mean_inner_loss": run.losses.mean().item(),
                  "meta/final_inner_loss": run.losses[-1].item()}
        self.record_outer_step(record)
