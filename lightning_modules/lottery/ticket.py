"""A ticket on a model: masks as buffers beside their parameters, their enforcement, and loading a ticket.

A ticket is a set of masks (by parameter name, ones kept and zeros pruned) and the initialization its survivors
start from. The masks live in the model as buffers ``<parameter>_mask`` of the parameter's module, so they
travel with the model's state dict and checkpoints. These functions serve ``LotteryTicket`` (the search) and any
run that retrains a ticket on new data, from a new initialization or on permuted inputs: ``save_ticket`` writes
one to a file and the ``LoadTicket`` callback of a config trains it (``KeepMasks`` keeps it pruned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from mnist1d_hf.atomic import write_file

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
MASK_SUFFIX = "_mask"


def prunable_layers(model: nn.Module, layers: Sequence[str] | None = None,
                    prune_biases: bool = False) -> dict[str, list[str]]:
    """The parameters to prune, grouped by layer: ``{layer name: [layer.weight, (layer.bias)]}``.

    ``layers=None`` takes every Linear and Conv layer of ``model``; otherwise the named submodules, each of
    which must have a ``weight`` parameter.
    """
    modules = dict(model.named_modules())
    if layers is None:
        names = [n for n, m in modules.items() if isinstance(m, PRUNABLE)]
        if not names:
            raise ValueError("layers=None found no Linear or Conv layer to prune: name the layers to prune")
    else:
        names = list(layers)
        for name in names:
            if not isinstance(getattr(modules.get(name), "weight", None), nn.Parameter):
                raise ValueError(f"layers contains {name!r}, which is not a submodule with a weight; "
                                 f"allowed names: {[n for n, m in modules.items() if n and hasattr(m, 'weight')]}")
    groups = {}
    for name in names:
        params = [f"{name}.weight"]
        if prune_biases and isinstance(getattr(modules[name], "bias", None), nn.Parameter):
            params.append(f"{name}.bias")
        groups[name] = params
    return groups


def _parameter(model: nn.Module, name: str) -> nn.Parameter:
    module_name, _, attr = name.rpartition(".")
    try:
        module = model.get_submodule(module_name)
    except AttributeError:
        module = None
    param = getattr(module, attr, None) if module is not None else None
    if not isinstance(param, nn.Parameter):
        raise ValueError(f"{name!r} is not a parameter of {type(model).__name__} (is torch.nn.utils.prune applied "
                         "to it?); masks belong to parameters")
    return param


def attach_masks(model: nn.Module, names: Sequence[str] | Mapping[str, torch.Tensor]) -> None:
    """Give each named parameter a mask buffer: all ones if it has none, or the given mask (copied in place).

    A mask the model already carries and that no value is given for is kept (a ticket loaded before training).
    """
    values = names if isinstance(names, Mapping) else {}
    for name in names:
        param = _parameter(model, name)
        module_name, _, attr = name.rpartition(".")
        module = model.get_submodule(module_name)
        mask = dict(module.named_buffers(recurse=False)).get(attr + MASK_SUFFIX)
        value = values.get(name)
        if value is not None and tuple(value.shape) != tuple(param.shape):
            raise ValueError(f"the mask of {name!r} has shape {tuple(value.shape)}, not the parameter's "
                             f"{tuple(param.shape)}")
        if mask is None:
            fresh = torch.ones_like(param.detach()) if value is None else value.detach().to(param)
            module.register_buffer(attr + MASK_SUFFIX, fresh.clone())
        elif mask.shape != param.shape:
            raise ValueError(f"{name + MASK_SUFFIX!r} has shape {tuple(mask.shape)}, not the parameter's "
                             f"{tuple(param.shape)}")
        elif value is not None:
            with torch.no_grad():
                mask.copy_(value)  # in place: DDP and the state dict hold this very tensor


def model_masks(model: nn.Module, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """The mask buffers of ``model`` by parameter name: the given names, or every ``*_mask`` buffer it carries."""
    if names is None:
        names = [key[:-len(MASK_SUFFIX)] for key, _ in model.named_buffers() if key.endswith(MASK_SUFFIX)]
    return {name: model.get_buffer(name + MASK_SUFFIX) for name in names}


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor] | None = None) -> None:
    """Zero the pruned weights in place: ``parameter *= mask`` (default: every mask the model carries)."""
    for name, mask in (model_masks(model) if masks is None else masks).items():
        param = _parameter(model, name)
        param.mul_(mask.to(param.device))


def mask_gradients(model: nn.Module, masks: Mapping[str, torch.Tensor] | None = None) -> None:
    """Zero the gradients of pruned weights, so optimizer state (Adam's moments) of a pruned weight stays zero."""
    for name, mask in (model_masks(model) if masks is None else masks).items():
        grad = _parameter(model, name).grad
        if grad is not None:
            grad.mul_(mask)


@torch.no_grad()
def load_ticket(model: nn.Module, masks: Mapping[str, torch.Tensor], init_state: Mapping[str, torch.Tensor],
                strict: bool = True) -> None:
    """Put a ticket into ``model``: the mask buffers ``masks`` and the weights ``init_state``, masked.

    ``init_state`` is a state dict without mask buffers (``LotteryTicket.rewind_state``); mask entries in it are
    ignored, ``masks`` decides. Every key of ``init_state`` must name a tensor of ``model`` of the same shape, and
    with ``strict`` every tensor of ``model`` must be given: a key mismatch raises, it never loads silently.
    With ``strict=False`` the tensors not given keep the model's values (e.g. a new initialization of a head).
    """
    attach_masks(model, masks)
    state = model.state_dict()
    mask_keys = {name + MASK_SUFFIX for name in model_masks(model)}
    given = {k: v for k, v in init_state.items() if k not in mask_keys}
    expected = [k for k in state if k not in mask_keys]
    unexpected = sorted(set(given) - set(expected))
    if unexpected:
        raise ValueError(f"init_state has keys {unexpected} that {type(model).__name__} does not have; its keys "
                         f"are {expected}")
    missing = [k for k in expected if k not in given]
    if strict and missing:
        raise ValueError(f"init_state lacks {missing} of {type(model).__name__} (strict=True); pass them, or "
                         "strict=False to keep the model's own values for them")
    for key, value in given.items():
        if tuple(value.shape) != tuple(state[key].shape):
            raise ValueError(f"init_state[{key!r}] has shape {tuple(value.shape)}, the model's "
                             f"{tuple(state[key].shape)}")
        state[key].copy_(value)  # state dict tensors share storage with the parameters and buffers
    apply_masks(model, masks)


class KeepMasks(Callback):
    """Keep a ticket's pruned weights at zero during any training: the masks the module carries are enforced.

    Gradients of pruned weights are zeroed before every optimizer step and the weights are masked again after
    every step (which holds for any optimizer, weight decay included). After each validation it logs
    ``masks/pruned_nonzero``, the pruned weights that are not zero (0 while the masks hold), so a run's own
    history shows that they held.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not model_masks(pl_module):
            raise ValueError(f"KeepMasks found no '*{MASK_SUFFIX}' buffer in {type(pl_module).__name__}: load a "
                             "ticket first (lightning_modules.lottery.load_ticket)")
        apply_masks(pl_module)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        mask_gradients(pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        apply_masks(pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        nonzero = sum(int(((_parameter(pl_module, name).detach() != 0) & (mask == 0)).sum())
                      for name, mask in model_masks(pl_module).items())
        pl_module.log("masks/pruned_nonzero", float(nonzero))


def save_ticket(path: str | Path, masks: Mapping[str, torch.Tensor],
                init_state: Mapping[str, torch.Tensor] | None = None) -> Path:
    """Write a ticket for ``LoadTicket``: its masks (stored as booleans) and, unless None, the initialization its
    survivors start from; atomically."""
    payload = {"masks": {name: m.detach().cpu() != 0 for name, m in masks.items()}}
    if init_state is not None:
        payload["init"] = {name: t.detach().cpu() for name, t in init_state.items()}
    return write_file(path, lambda tmp: torch.save(payload, tmp))


def read_ticket(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """``(masks, init_state)`` of a file written by ``save_ticket``: float masks, and None without an init."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("masks"), dict):
        raise ValueError(f"{path} is not a ticket file: expected a dict with 'masks' (written by save_ticket)")
    return {name: m.float() for name, m in payload["masks"].items()}, payload.get("init")


class LoadTicket(KeepMasks):
    """Train a ticket from a file (``save_ticket``): at setup its masks, and its initialization if the file holds
    one, go into the module through a strict ``load_ticket``; without one the module keeps its own weights (a new
    initialization), masked. Then, as ``KeepMasks``, the pruned weights stay at zero. Outside ``fit`` only the
    mask buffers are attached, so the run's checkpoints load.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        masks, init_state = read_ticket(self.path)
        if stage != "fit":  # validate or test: the weights are the fit's or a checkpoint's, never the init again
            attach_masks(pl_module, masks)
            return
        if init_state is None:
            init_state = {name: t.detach().clone() for name, t in pl_module.state_dict().items()}
        load_ticket(pl_module, masks, init_state, strict=True)


class RandomMask(KeepMasks):
    """Train with a random mask: at setup the prunable layers of the module (``prunable_layers``) are pruned at
    uniformly random places to ``sparsity``, each layer to exactly ``floor(sparsity * size + 0.5)`` zeros
    (``layerwise``, as ``LotteryTicket`` prunes, so the counts of its ticket at that sparsity) or over all of them
    together (``global``); then, as ``KeepMasks``, the pruned weights stay at zero.

    The draws depend only on ``seed`` and the layers' shapes, never on the weights (``masks.random_masks`` given
    a ticket's masks draws the same): the random-mask control of a ticket, from the module's own initialization.
    """

    def __init__(self, sparsity: float, seed: int = 0, scope: Literal["layerwise", "global"] = "layerwise",
                 prune_biases: bool = False, layers: list[str] | None = None) -> None:
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"sparsity={sparsity} is invalid: allowed a value in [0, 1]")
        if scope not in ("layerwise", "global"):
            raise ValueError(f"scope={scope!r} is invalid: allowed 'layerwise' or 'global'")
        self.sparsity, self.seed, self.scope = sparsity, seed, scope
        self.prune_biases, self.layers = prune_biases, layers

    def masks(self, pl_module: nn.Module) -> dict[str, torch.Tensor]:
        """The random masks of ``pl_module``'s prunable parameters (float ones and zeros on the CPU)."""
        from lightning_modules.lottery.masks import prune

        layers = list(prunable_layers(pl_module, self.layers, self.prune_biases).values())
        names = [name for group in layers for name in group]
        shapes = {name: _parameter(pl_module, name).shape for name in names}
        generator = torch.Generator().manual_seed(self.seed)
        scores = {name: torch.rand(shapes[name], generator=generator) for name in names}
        return prune(scores, {name: torch.ones(shapes[name]) for name in names},
                     layers if self.scope == "layerwise" else [names], self.sparsity)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        masks = self.masks(pl_module)
        attach_masks(pl_module, masks)
        if stage == "fit":
            apply_masks(pl_module, masks)
