"""``LotteryTicket``: iterative magnitude pruning with rewinding, as a Lightning callback for any LightningModule.

One ``fit`` runs every round back to back: round ``r`` is global steps ``[r * S, (r + 1) * S)``. At the first
step of a round the callback prunes to the round's sparsity, rewinds the survivors to the rewind point (or
draws a new initialization) and rebuilds the optimizers and LR schedulers from ``configure_optimizers``, so
each round is a fresh run from the rewind point. Pruning happens at the start of a round, not at the end of the
last one, so that the validation Lightning runs after a round's last step still sees the round's network.

How masks hold: the gradients of pruned weights are zeroed before every optimizer step (so Adam's moments of
a pruned weight stay exactly zero and it receives no update, weight decay included), and the weights are
multiplied by their masks again after every step, which keeps the invariant for any optimizer.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn

from lightning_modules.lottery.masks import prune, sparsity, sparsity_schedule
from lightning_modules.lottery.summary import write_summary
from mnist1d_hf.atomic import write_file

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
MASK_SUFFIX = "_mask"


class LotteryTicket(Callback):
    """Find lottery tickets (Frankle & Carbin, 2019) by iterative pruning, rewinding and retraining.

    Args:
        steps_per_round: optimizer steps per round; ``trainer.max_steps`` must be ``rounds * steps_per_round``.
        rounds: number of training rounds, the first one dense (``geometric`` and ``linear`` schedules).
        schedule: ``geometric`` prunes ``prune_fraction`` of the remaining weights each round; ``linear``
            steps evenly to ``final_sparsity`` in the last round (the paper's); ``explicit`` uses ``sparsities``.
        prune_fraction: share of the remaining weights pruned per round (``geometric``).
        final_sparsity: the last round's sparsity (``linear``).
        sparsities: every round's sparsity, starting at 0.0 (``explicit``).
        scope: ``layerwise`` prunes every layer to the target sparsity; ``global`` ranks all weights together.
        prune_biases: also prune biases (the paper does); in ``layerwise`` scope a layer's weight and bias are
            ranked together.
        layers: names of the submodules to prune (``pl_module.named_modules()``); default every Linear and
            Conv layer.
        rewind_step: rewind the survivors to the weights after this many steps of round 0 (0: the
            initialization; k > 0: late rewinding).
        masks: ``magnitude`` keeps the largest weights; ``random`` prunes at random to the same sparsities (the
            control).
        reinit: keep the masks but give every round a new random initialization instead of rewinding (the
            other control).
        seed: seeds the random masks and the new initializations (round ``r`` draws from ``seed`` and ``r``).
        monitor: the validation metric whose final and best value each round records.
        output_dir: where the summary (``lottery.json``, ``lottery.md``, ``lottery.png``) and the masks of
            every round go; default ``<trainer.log_dir>/lottery``.
        save_masks: write each round's masks to ``<output_dir>/masks/round_XXX.pt``.

    The masks are buffers ``<param>_mask`` of the pruned modules, so they travel with the model's state dict
    and checkpoints; the rewind point, the round and the history are the callback's checkpoint state. Masks the
    module already carries (a ticket loaded for retraining) are kept and enforced from the first step.
    """

    def __init__(self, steps_per_round: int, rounds: int | None = None,
                 schedule: Literal["geometric", "linear", "explicit"] = "geometric", prune_fraction: float = 0.2,
                 final_sparsity: float | None = None, sparsities: list[float] | None = None,
                 scope: Literal["layerwise", "global"] = "layerwise", prune_biases: bool = False,
                 layers: list[str] | None = None, rewind_step: int = 0,
                 masks: Literal["magnitude", "random"] = "magnitude", reinit: bool = False, seed: int = 0,
                 monitor: str = "val/acc", output_dir: str | None = None, save_masks: bool = True) -> None:
        if steps_per_round < 1:
            raise ValueError(f"steps_per_round={steps_per_round} is invalid: allowed an integer >= 1")
        if not 0 <= rewind_step < steps_per_round:
            raise ValueError(f"rewind_step={rewind_step} is invalid: allowed 0 <= rewind_step < steps_per_round "
                             f"({steps_per_round})")
        if scope not in ("layerwise", "global"):
            raise ValueError(f"scope={scope!r} is invalid: allowed 'layerwise' or 'global'")
        if masks not in ("magnitude", "random"):
            raise ValueError(f"masks={masks!r} is invalid: allowed 'magnitude' or 'random'")
        self.sparsities = sparsity_schedule(schedule, rounds, prune_fraction, final_sparsity, sparsities)
        self.steps_per_round = steps_per_round
        self.scope, self.prune_biases, self.layers = scope, prune_biases, layers
        self.rewind_step, self.masks, self.reinit, self.seed = rewind_step, masks, reinit, seed
        self.monitor, self.output_dir, self.save_masks = monitor, output_dir, save_masks

        self.round = 0
        self.history: list[dict[str, Any]] = []
        self._val_scores: list[list[float]] = []  # [global step, value] of the current round's validations
        self._rewind_state: dict[str, torch.Tensor] | None = None
        self._layers: dict[str, list[str]] = {}  # layer name -> names of its pruned parameters

    # -- the pruned parameters and their masks -----------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        return len(self.sparsities) * self.steps_per_round

    def parameter_names(self) -> list[str]:
        return [name for names in self._layers.values() for name in names]

    def get_masks(self, pl_module: nn.Module) -> dict[str, torch.Tensor]:
        """The mask buffer of every pruned parameter, by parameter name."""
        return {name: pl_module.get_buffer(name + MASK_SUFFIX) for name in self.parameter_names()}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._layers = self._find_layers(pl_module)
        for name in self.parameter_names():
            module_name, _, attr = name.rpartition(".")
            module = pl_module.get_submodule(module_name)
            param = getattr(module, attr, None)
            if not isinstance(param, nn.Parameter):
                raise ValueError(f"{name!r} is not a parameter (is torch.nn.utils.prune applied to it?); "
                                 "LotteryTicket keeps its own masks")
            mask = dict(module.named_buffers(recurse=False)).get(attr + MASK_SUFFIX)
            if mask is None:
                module.register_buffer(attr + MASK_SUFFIX, torch.ones_like(param.detach()))
            elif mask.shape != param.shape:
                raise ValueError(f"{name + MASK_SUFFIX!r} has shape {tuple(mask.shape)}, not the parameter's "
                                 f"{tuple(param.shape)}")
        if stage == "fit" and trainer.max_steps != self.total_steps:
            raise ValueError(f"trainer.max_steps={trainer.max_steps} is invalid: LotteryTicket trains "
                             f"{len(self.sparsities)} rounds of {self.steps_per_round} steps, set max_steps to "
                             f"{self.total_steps}")

    def _find_layers(self, pl_module: nn.Module) -> dict[str, list[str]]:
        modules = dict(pl_module.named_modules())
        if self.layers is None:
            names = [n for n, m in modules.items() if isinstance(m, PRUNABLE)]
            if not names:
                raise ValueError("layers=None found no Linear or Conv layer to prune: name the layers to prune")
        else:
            names = list(self.layers)
            for name in names:
                if not isinstance(getattr(modules.get(name), "weight", None), nn.Parameter):
                    raise ValueError(f"layers contains {name!r}, which is not a submodule with a weight; "
                                     f"allowed names: {[n for n, m in modules.items() if n and hasattr(m, 'weight')]}")
        layers = {}
        for name in names:
            params = [f"{name}.weight"]
            if self.prune_biases and isinstance(getattr(modules[name], "bias", None), nn.Parameter):
                params.append(f"{name}.bias")
            layers[name] = params
        return layers

    @torch.no_grad()
    def _apply_masks(self, pl_module: nn.Module) -> None:
        for name, mask in self.get_masks(pl_module).items():
            pl_module.get_parameter(name).mul_(mask)

    # -- training hooks ------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._apply_masks(pl_module)
        if trainer.global_step == 0 and self.round == 0:
            if self.rewind_step == 0:
                self._rewind_state = self._snapshot(pl_module)
            self._save_round_masks(trainer, pl_module)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        target = trainer.global_step // self.steps_per_round
        if self.round < target < len(self.sparsities):
            self._finish_round(trainer)
            self._start_round(trainer, pl_module, target)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        for name, mask in self.get_masks(pl_module).items():
            grad = pl_module.get_parameter(name).grad
            if grad is not None:
                grad.mul_(mask)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._apply_masks(pl_module)
        if self.round == 0 and self.rewind_step > 0 and trainer.global_step == self.rewind_step:
            self._rewind_state = self._snapshot(pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise ValueError(f"monitor={self.monitor!r} is invalid: the validation logged "
                             f"{sorted(trainer.callback_metrics)}")
        self._val_scores.append([trainer.global_step, float(value)])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step == self.total_steps and len(self.history) == self.round:  # not yet recorded
            self._finish_round(trainer)
        else:
            rank_zero_warn(f"LotteryTicket: training stopped at step {trainer.global_step} of "
                           f"{self.total_steps}; the summary holds the {len(self.history)} finished rounds")
        if trainer.is_global_zero:
            write_summary(self.history, self._output_dir(trainer), self.monitor)

    # -- one round to the next -----------------------------------------------------------------------------------
    def _finish_round(self, trainer: L.Trainer) -> None:
        """Record the round that just ended: its sparsity and its validation scores, final and best."""
        pl_module = trainer.lightning_module
        masks = self.get_masks(pl_module)
        end = (self.round + 1) * self.steps_per_round
        scores = self._val_scores
        if not scores or scores[-1][0] != end:
            rank_zero_warn(f"LotteryTicket: round {self.round} ends at step {end}, but its last validation ran at "
                           f"step {scores[-1][0] if scores else None}; make the validation interval divide "
                           f"steps_per_round={self.steps_per_round}")
        record = {
            "round": self.round,
            "target_sparsity": self.sparsities[self.round],
            "sparsity": sparsity(list(masks.values())),
            "layer_sparsity": {layer: sparsity([masks[n] for n in names]) for layer, names in self._layers.items()},
            "final": scores[-1][1] if scores else None,
            "best": max(s[1] for s in scores) if scores else None,
            "final_step": scores[-1][0] if scores else None,
            "scores": scores,
        }
        self.history.append(record)
        metrics = {"lottery/round": record["round"], "lottery/sparsity": record["sparsity"]}
        metrics |= {f"lottery/sparsity/{layer}": s for layer, s in record["layer_sparsity"].items()}
        if scores:
            metrics |= {"lottery/final": record["final"], "lottery/best": record["best"]}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        rank_zero_info(f"LotteryTicket round {record['round']}: sparsity {record['sparsity']:.4f}, "
                       f"final {self.monitor} {record['final']}, best {record['best']}")

    def _start_round(self, trainer: L.Trainer, pl_module: L.LightningModule, new_round: int) -> None:
        """Prune to the new round's sparsity, restart the weights and rebuild the optimizers."""
        masks = self.get_masks(pl_module)
        params = {name: pl_module.get_parameter(name) for name in masks}
        if self.masks == "magnitude":
            scores = {name: p.detach().abs().cpu() for name, p in params.items()}
        else:
            generator = torch.Generator().manual_seed(self._round_seed(new_round))
            scores = {name: torch.rand(p.shape, generator=generator) for name, p in params.items()}
        groups = list(self._layers.values()) if self.scope == "layerwise" else [self.parameter_names()]
        new_masks = prune(scores, {n: m.cpu() for n, m in masks.items()}, groups, self.sparsities[new_round])
        new_masks = trainer.strategy.broadcast(new_masks, src=0)  # one source of truth for every rank
        with torch.no_grad():
            for name, mask in masks.items():
                mask.copy_(new_masks[name])  # in place: DDP and the state dict hold these very tensors
        self._restart_weights(trainer, pl_module, new_round)
        self._apply_masks(pl_module)
        trainer.strategy.setup_optimizers(trainer)  # fresh optimizer state and LR schedulers
        self.round, self._val_scores = new_round, []
        self._save_round_masks(trainer, pl_module)

    @torch.no_grad()
    def _restart_weights(self, trainer: L.Trainer, pl_module: L.LightningModule, new_round: int) -> None:
        state = pl_module.state_dict()  # tensors sharing storage with the parameters and buffers
        if self.reinit:
            cuda = sorted({p.device.index or 0 for p in pl_module.parameters() if p.device.type == "cuda"})
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(self._round_seed(new_round))
                for module in pl_module.modules():
                    if module is not pl_module and callable(getattr(module, "reset_parameters", None)):
                        module.reset_parameters()
            fresh = {name: p.detach().cpu() for name, p in pl_module.named_parameters()}
            source = trainer.strategy.broadcast(fresh, src=0)
        elif self._rewind_state is None:
            raise RuntimeError(f"LotteryTicket has no rewind point: rewind_step={self.rewind_step} was never "
                               "reached in round 0 of this run")
        else:
            source = self._rewind_state
        for name, tensor in source.items():
            state[name].copy_(tensor)

    def _snapshot(self, pl_module: nn.Module) -> dict[str, torch.Tensor]:
        mask_names = {name + MASK_SUFFIX for name in self.parameter_names()}
        return {k: v.detach().clone() for k, v in pl_module.state_dict().items() if k not in mask_names}

    def _round_seed(self, round_index: int) -> int:
        return self.seed * 1_000_003 + round_index

    def _output_dir(self, trainer: L.Trainer) -> str:
        if self.output_dir is not None:
            return self.output_dir
        return os.path.join(trainer.log_dir or trainer.default_root_dir, "lottery")

    def _save_round_masks(self, trainer: L.Trainer, pl_module: nn.Module) -> None:
        if not (self.save_masks and trainer.is_global_zero):
            return
        masks = {name: mask.detach().bool().cpu() for name, mask in self.get_masks(pl_module).items()}
        path = os.path.join(self._output_dir(trainer), "masks", f"round_{self.round:03d}.pt")
        write_file(path, lambda tmp: torch.save(masks, tmp))

    # -- checkpoint state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"sparsities": self.sparsities, "steps_per_round": self.steps_per_round, "round": self.round,
                "history": self.history, "val_scores": self._val_scores, "rewind_state": self._rewind_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = (state_dict["sparsities"], state_dict["steps_per_round"])
        if not (len(saved[0]) == len(self.sparsities) and saved[1] == self.steps_per_round
                and all(math.isclose(a, b) for a, b in zip(saved[0], self.sparsities))):
            raise ValueError(f"the checkpoint's schedule (sparsities={saved[0]}, steps_per_round={saved[1]}) "
                             f"differs from this LotteryTicket's ({self.sparsities}, {self.steps_per_round})")
        self.round, self.history = state_dict["round"], state_dict["history"]
        self._val_scores, self._rewind_state = state_dict["val_scores"], state_dict["rewind_state"]
