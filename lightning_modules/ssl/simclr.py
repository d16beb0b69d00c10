"""``SimCLR`` on MNIST-1D: the CNN's conv stack learns from two augmented views, linear probes watch every layer.

Batches are ``(x, y)``; the contrastive loss never sees ``y``. ``y`` trains only the online probes, which read
detached features of the un-augmented batch, so they cannot steer the backbone. Under DDP the batch size is per
process: the global batch is ``batch_size * devices``, and with ``gather_distributed`` every anchor is contrasted
with the whole global batch, as on one device.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules.nets import ConvStack
from lightning_modules.ssl.augment import augment
from lightning_modules.ssl.loss import LOSSES
from lightning_modules.ssl.probes import OnlineProbes, knn_accuracy, linear_probe_accuracy
from mnist1d_hf.atomic import write_text


def rank_generator(seed: int, rank: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator for ``rank``'s augmentations: well-mixed from (seed, rank), so ranks and seeds never collide."""
    state = int(np.random.SeedSequence([seed, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator(device=device).manual_seed(state)


def layer_names(projector_dims: Sequence[int], conv_layers: int = 3) -> list[str]:
    """Names of the probed layers: input, conv1.., projector hidden layers, projector output."""
    hidden = [f"projector_hidden{i + 1}" for i in range(len(projector_dims) - 1)]
    return ["input", *(f"conv{i + 1}" for i in range(conv_layers)), *hidden,
            *(["projector_output"] if projector_dims else [])]


class SimCLR(L.LightningModule):
    """SimCLR with the paper's augmentation and a guillotine probe at every layer.

    Args:
        input_size: points per signal.
        channels: channels of each conv layer (the CNN's 25).
        projector_dims: widths of the projector's linear layers (ReLU between them); ``[]`` puts the loss on the
            backbone output. The paper: ``[125, 16]``; its deep variant ``[125, 125, 125, 16]``.
        temperature: softmax temperature on cosine similarities.
        loss: ``info_nce`` (the reference: view 1 scored against view 2) or ``nt_xent`` (symmetric, 2N views).
        gather_distributed: contrast against the embeddings of all processes (gathered with gradients).
        max_shift: circular shifts are drawn from ``0..max_shift-1``.
        slope_std: std of the random slope added per view (per point of ``t = arange(L) - (L-1)/2``).
        offset_std: std of the random offset added per view.
        augment_seed: seeds the augmentations (mixed with the process rank); ``None`` takes ``torch.initial_seed()``.
        lr: Adam learning rate of backbone and projector.
        probe_lr: Adam learning rate of the online probes.
        num_classes: classes the probes predict.
        knn_k: neighbours of the offline kNN evaluation.
        evaluate_at_fit_end: run the offline layer-wise evaluation when ``fit`` ends (``test`` always does).
    """

    def __init__(self, input_size: int = 40, channels: int = 25, projector_dims: Sequence[int] = (125, 16),
                 temperature: float = 0.5, loss: Literal["info_nce", "nt_xent"] = "info_nce",
                 gather_distributed: bool = True, max_shift: int = 10, slope_std: float = 0.04,
                 offset_std: float = 0.3, augment_seed: int | None = None, lr: float = 1e-2,
                 probe_lr: float = 1e-3, num_classes: int = 10, knn_k: int = 10,
                 evaluate_at_fit_end: bool = True) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is invalid: allowed one of {list(LOSSES)}")
        if any(d < 1 for d in projector_dims):
            raise ValueError(f"projector_dims={list(projector_dims)} is invalid: widths must be >= 1")
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} is invalid: allowed > 0")
        self.save_hyperparameters()
        self.backbone = ConvStack(channels)
        sizes = [input_size, *(m.shape[1] for m in self.backbone.feature_maps(torch.zeros(1, input_size)))]
        widths = [sizes[-1], *projector_dims]
        self.projector = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.layer_names = layer_names(projector_dims, len(self.backbone.blocks))
        self.probes = OnlineProbes(sizes + list(projector_dims), num_classes)
        self.val_accuracy = nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in self.layer_names)
        self.test_accuracy = nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in self.layer_names)
        self.generator: torch.Generator | None = None
        self.layerwise_results: dict[str, dict[str, float]] = {}

    # features -----------------------------------------------------------------------------------------------
    def _project(self, h: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for i, layer in enumerate(self.projector):
            h = layer(h)
            if i < len(self.projector) - 1:
                h = torch.relu(h)
            outputs.append(h)
        return outputs

    def layer_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every probed layer's (N, features): the input, each conv layer, each projector layer."""
        maps = self.backbone.feature_maps(x)
        return [x, *maps, *self._project(maps[-1])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding the loss is applied to (the projector output, or the backbone's without a projector)."""
        h = self.backbone(x)
        return self._project(h)[-1] if len(self.projector) else h

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent augmentations of the batch, drawn from this process's generator."""
        hp = self.hparams
        if self.generator is None or self.generator.device != x.device:
            seed = torch.initial_seed() if hp.augment_seed is None else hp.augment_seed
            self.generator = rank_generator(seed, self.global_rank, x.device)
        draw = lambda: augment(x, hp.max_shift, hp.slope_std, hp.offset_std, self.generator)  # noqa: E731
        return draw(), draw()

    # training -----------------------------------------------------------------------------------------------
    def contrastive_loss(self, x: torch.Tensor) -> torch.Tensor:
        view1, view2 = self.views(x)
        z1, z2 = self(torch.cat([view1, view2])).chunk(2)
        hp = self.hparams
        return LOSSES[hp.loss](z1, z2, hp.temperature, hp.gather_distributed)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        ssl_loss = self.contrastive_loss(x)
        with torch.no_grad():
            features = self.layer_features(x)
        probe_loss = self.probes.loss(features, y)
        self.log("train/ssl_loss", ssl_loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("train/probe_loss", probe_loss, on_step=False, on_epoch=True, sync_dist=True)
        return ssl_loss + probe_loss

    def _probe_accuracy(self, batch: tuple[torch.Tensor, torch.Tensor], metrics: nn.ModuleList, stage: str) -> None:
        x, y = batch
        for name, logits, metric in zip(self.layer_names, self.probes(self.layer_features(x)), metrics):
            metric(logits, y)
            self.log(f"{stage}/probe_acc/{name}", metric, on_step=False, on_epoch=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._probe_accuracy(batch, self.val_accuracy, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._probe_accuracy(batch, self.test_accuracy, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([
            {"params": [*self.backbone.parameters(), *self.projector.parameters()], "lr": self.hparams.lr},
            {"params": self.probes.parameters(), "lr": self.hparams.probe_lr},
        ])

    # offline evaluation -------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate_layers(self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                        y_test: torch.Tensor) -> dict[str, dict[str, float]]:
        """Per layer: test accuracy of logistic regression on standardized frozen features; kNN on the embedding."""
        train, test = self.layer_features(x_train), self.layer_features(x_test)
        results = {name: {"linear": linear_probe_accuracy(a, y_train, b, y_test, self.hparams.num_classes)}
                   for name, a, b in zip(self.layer_names, train, test)}
        results[self.layer_names[-1]]["knn"] = knn_accuracy(train[-1], y_train, test[-1], y_test,
                                                           self.hparams.knn_k, self.hparams.num_classes)
        return results

    def _evaluate_datamodule(self) -> dict[str, dict[str, float]]:
        datamodule = self.trainer.datamodule
        splits = getattr(datamodule, "splits", None)
        if not splits or "train" not in splits or "test" not in splits:
            raise RuntimeError("offline evaluation needs a datamodule exposing the full 'train' and 'test' splits "
                               f"as `splits` (MNIST1DDataModule does); {type(datamodule).__name__} does not")
        was_training = self.training
        self.eval()
        self.layerwise_results = self.evaluate_layers(*splits["train"], *splits["test"])
        self.train(was_training)
        rank_zero_info(format_table(self.layerwise_results))
        return self.layerwise_results

    def on_fit_end(self) -> None:
        """Evaluate every layer once (on the first process) and keep the table next to the logs."""
        if not self.hparams.evaluate_at_fit_end:
            return
        log_dir = self.trainer.log_dir if self.trainer.logger is not None else None  # collective: every rank
        if not self.trainer.is_global_zero:
            return
        results = self._evaluate_datamodule()
        if log_dir is not None:
            write_text(os.path.join(log_dir, "layerwise.json"), json.dumps(results, indent=2))

    def on_test_epoch_end(self) -> None:
        results = self._evaluate_datamodule()
        # every process evaluates the same full splits, so syncing averages equal numbers
        self.log_dict({f"test/linear_acc/{name}": r["linear"] for name, r in results.items()}, sync_dist=True)
        self.log(f"test/knn_acc/{self.layer_names[-1]}", results[self.layer_names[-1]]["knn"], sync_dist=True)


def format_table(results: dict[str, dict[str, float]]) -> str:
    """The layer-wise accuracies as a small Markdown table (percent)."""
    lines = ["| layer | linear % | kNN % |", "|---|---|---|"]
    for i, (name, r) in enumerate(results.items()):
        knn = f"{100 * r['knn']:.1f}" if "knn" in r else ""
        lines.append(f"| {i} {name} | {100 * r['linear']:.1f} | {knn} |")
    return "\n".join(lines)
