"""``SimCLR`` on MNIST-1D: a backbone learns from two augmented views, linear probes watch every layer.

Batches are ``(x, y)``; the contrastive loss never sees ``y``. ``y`` trains only the online probes, which read
detached features of the un-augmented batch, so they cannot steer the backbone. Under DDP the batch size is per
process: the global batch is ``batch_size * devices``, and with ``gather_distributed`` every anchor is contrasted
with the whole global batch, as on one device.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules.nets import ConvStack
from lightning_modules.ssl.augment import augment, view_generator
from lightning_modules.ssl.loss import LOSSES
from lightning_modules.ssl.probes import OnlineProbes, dead_fraction, evaluate_layers, format_table
from mnist1d_hf.atomic import write_text

Batch = tuple[torch.Tensor, torch.Tensor]


def backbone_layer_names(backbone: nn.Module, input_size: int) -> list[str]:
    """Names of the backbone's probed layers: ``conv1..`` for a ``ConvStack``, ``backbone1..`` for another
    backbone with ``feature_maps``, ``backbone`` for one that only has ``forward``."""
    if not hasattr(backbone, "feature_maps"):
        return ["backbone"]
    with torch.no_grad():
        count = len(backbone.feature_maps(torch.zeros(1, input_size)))
    prefix = "conv" if isinstance(backbone, ConvStack) else "backbone"
    return [f"{prefix}{i + 1}" for i in range(count)]


def projector_layer_names(projector_dims: Sequence[int]) -> list[str]:
    """Names of the projector's probed layers: its hidden layers, then its output."""
    hidden = [f"projector_hidden{i + 1}" for i in range(len(projector_dims) - 1)]
    return [*hidden, *(["projector_output"] if projector_dims else [])]


class SimCLR(L.LightningModule):
    """SimCLR with the paper's augmentation and a guillotine probe at every layer.

    Args:
        backbone: the network under study, (N, L) signals to (N, features); ``None`` is the paper's CNN conv
            stack (``nets.ConvStack()``). Its ``feature_maps(x)``, if it has one, lists the layers to probe
            (each flattened to (N, features), the last one being ``forward``'s output). In a config, pick it by
            class path like ``Classifier``'s ``net``; to load a checkpoint of another backbone, pass it again:
            ``SimCLR.load_from_checkpoint(path, backbone=...)``.
        input_size: points per signal.
        projector_dims: widths of the projector's linear layers (ReLU between them); ``[]`` puts the loss on the
            backbone output. The paper: ``[125, 16]``; its deep variant ``[125, 125, 125, 16]``.
        temperature: softmax temperature on cosine similarities.
        loss: ``info_nce`` (the reference: view 1 scored against view 2) or ``nt_xent`` (symmetric, 2N views).
        gather_distributed: contrast against the embeddings of all processes (gathered with gradients).
        max_shift: circular shifts are drawn from ``0..max_shift-1``.
        slope_std: std of the random slope added per view (per point of ``t = arange(L) - (L-1)/2``).
        offset_std: std of the random offset added per view.
        augment_seed: seeds the augmentations (mixed with the rank, epoch and batch); ``None`` takes
            ``torch.initial_seed()`` when training starts (``seed_everything``), kept in the checkpoint.
        lr: Adam learning rate of backbone and projector.
        probe_lr: Adam learning rate of the online probes.
        num_classes: classes the probes predict.
        knn_k: neighbours of the offline kNN evaluation.
        probe_max_iter: LBFGS iterations of each offline linear probe (the studies use 500; fewer is quicker and
            less converged).
        evaluate_at_fit_end: run the offline layer-wise evaluation when ``fit`` ends (``test`` always does).
        log_dead_units: at every validation, log ``val/dead_fraction/<layer>``, the share of each layer's units
            that output 0 for every training example (from the data module's ``split("train")``).

    The views of a training batch are drawn from ``view_generator(seed, rank, epoch, batch)``, so a run resumed
    from any checkpoint (mid-epoch too, with resumable batches) trains on the same views as an uninterrupted one.
    """

    def __init__(self, backbone: nn.Module | None = None, input_size: int = 40,
                 projector_dims: Sequence[int] = (125, 16), temperature: float = 0.5,
                 loss: Literal["info_nce", "nt_xent"] = "info_nce", gather_distributed: bool = True,
                 max_shift: int = 10, slope_std: float = 0.04, offset_std: float = 0.3,
                 augment_seed: int | None = None, lr: float = 1e-2, probe_lr: float = 1e-3, num_classes: int = 10,
                 knn_k: int = 10, probe_max_iter: int = 500, evaluate_at_fit_end: bool = True,
                 log_dead_units: bool = True) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is invalid: allowed one of {list(LOSSES)}")
        if any(d < 1 for d in projector_dims):
            raise ValueError(f"projector_dims={list(projector_dims)} is invalid: widths must be >= 1")
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} is invalid: allowed > 0")
        if probe_max_iter < 1:
            raise ValueError(f"probe_max_iter={probe_max_iter} is invalid: allowed an integer >= 1")
        if augment_seed is not None and augment_seed < 0:
            raise ValueError(f"augment_seed={augment_seed} is invalid: allowed None or an integer >= 0")
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = ConvStack() if backbone is None else backbone
        with torch.no_grad():
            maps = self._backbone_features(torch.zeros(1, input_size))
        if any(m.dim() != 2 for m in maps):
            raise ValueError(f"backbone={type(self.backbone).__name__} gives features of shapes "
                             f"{[tuple(m.shape) for m in maps]}: expected flat (N, features) tensors")
        sizes = [input_size, *(m.shape[1] for m in maps)]
        widths = [sizes[-1], *projector_dims]
        self.projector = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.layer_names = ["input", *backbone_layer_names(self.backbone, input_size),
                            *projector_layer_names(projector_dims)]
        self.probes = OnlineProbes(sizes + list(projector_dims), num_classes)
        self.val_accuracy = nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in self.layer_names)
        self.test_accuracy = nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in self.layer_names)
        self.augment_seed = augment_seed
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

    def _backbone_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.feature_maps(x) if hasattr(self.backbone, "feature_maps") else [self.backbone(x)]

    def layer_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every probed layer's (N, features): the input, each backbone layer, each projector layer."""
        maps = self._backbone_features(x)
        return [x, *maps, *self._project(maps[-1])]

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``layer_features`` by layer name: the ``feature_fn`` of ``probes.evaluate_layers``."""
        return dict(zip(self.layer_names, self.layer_features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding the loss is applied to (the projector output, or the backbone's without a projector)."""
        h = self.backbone(x)
        return self._project(h)[-1] if len(self.projector) else h

    def view_generator(self, batch_idx: int, device: torch.device | str) -> torch.Generator:
        """The generator of this process's views of batch ``batch_idx`` of the current epoch."""
        if self.augment_seed is None:
            self.augment_seed = torch.initial_seed()
        return view_generator(self.augment_seed, self.global_rank, self.current_epoch, batch_idx, device)

    def views(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent augmentations of the batch, drawn from ``generator``."""
        hp = self.hparams
        draw = lambda: augment(x, hp.max_shift, hp.slope_std, hp.offset_std, generator)  # noqa: E731
        return draw(), draw()

    # training -----------------------------------------------------------------------------------------------
    def contrastive_loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        view1, view2 = self.views(x, generator)
        z1, z2 = self(torch.cat([view1, view2])).chunk(2)
        hp = self.hparams
        return LOSSES[hp.loss](z1, z2, hp.temperature, hp.gather_distributed)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        ssl_loss = self.contrastive_loss(x, self.view_generator(batch_idx, x.device))
        with torch.no_grad():
            features = self.layer_features(x)
        probe_loss = self.probes.loss(features, y)
        # per step (every log_every_n_steps), not epoch means: an epoch mean is not exact across a mid-epoch resume
        self.log("train/ssl_loss", ssl_loss, on_step=True, on_epoch=False, prog_bar=True, sync_dist=True)
        self.log("train/probe_loss", probe_loss, on_step=True, on_epoch=False, sync_dist=True)
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

    def on_validation_epoch_end(self) -> None:
        if not self.hparams.log_dead_units or self.trainer.sanity_checking:
            return
        x_train, _ = self._full_split("train")
        with torch.no_grad():
            features = self.features(x_train)
        # every process reads the same full split, so syncing averages equal numbers
        self.log_dict({f"val/dead_fraction/{name}": dead_fraction(f) for name, f in features.items()
                       if name != "input"}, sync_dist=True)

    # offline evaluation -------------------------------------------------------------------------------------
    def evaluate_layers(self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                        y_test: torch.Tensor) -> dict[str, dict[str, float]]:
        """``probes.evaluate_layers`` on this model's layers: per layer ``linear`` and ``dead``, and ``knn`` on
        the embedding. Runs in eval mode and restores the mode after."""
        was_training = self.training
        self.eval()
        try:
            return evaluate_layers(self.features, (x_train, y_train), (x_test, y_test), self.hparams.num_classes,
                                   self.hparams.knn_k, max_iter=self.hparams.probe_max_iter)
        finally:
            self.train(was_training)

    def _full_split(self, name: Literal["train", "test"]) -> Batch:
        datamodule = self.trainer.datamodule
        if not callable(getattr(datamodule, "split", None)):
            raise RuntimeError(f"SimCLR reads the full {name!r} split through the data module's split({name!r}) "
                               f"(MNIST1DDataModule has it); {type(datamodule).__name__} does not. Set "
                               "evaluate_at_fit_end=False and log_dead_units=False to train without it")
        return datamodule.split(name)

    def _evaluate_datamodule(self) -> dict[str, dict[str, float]]:
        self.layerwise_results = self.evaluate_layers(*self._full_split("train"), *self._full_split("test"))
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
        self.log_dict({f"test/dead_fraction/{name}": r["dead"] for name, r in results.items() if name != "input"},
                      sync_dist=True)
        self.log(f"test/knn_acc/{self.layer_names[-1]}", results[self.layer_names[-1]]["knn"], sync_dist=True)

    # checkpoint state ---------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["augment_seed"] = self.augment_seed

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("augment_seed") is not None:
            self.augment_seed = checkpoint["augment_seed"]
