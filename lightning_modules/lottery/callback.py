"""``LotteryTicket``: iterative pruning with rewinding, as a Lightning callback for any LightningModule.

One ``fit`` runs every round back to back: round ``r`` is global steps ``[r * S, (r + 1) * S)``. At the first
step of a round the callback prunes to the round's sparsity, rewinds the survivors to the rewind point (or
draws a new initialization) and rebuilds the optimizers and LR schedulers from ``configure_optimizers``, so
each round is a fresh run from the rewind point. Pruning happens at the start of a round, not at the end of the
last one, so that the validation Lightning runs after a round's last step still sees the round's network.

The callback prunes, rewinds and keeps its state; the masks on the model and their enforcement are
``lottery.ticket``'s, and reports are the study's (``lottery.summary`` turns the history into tables).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn

from lightning_modules.lottery.masks import prune, sparsity, sparsity_schedule
from lightning_modules.lottery.ticket import (MASK_SUFFIX, apply_masks, attach_masks, mask_gradients,
                                              model_masks, prunable_layers)

NEVER_PRUNED = torch.iinfo(torch.int16).max  # ``pruning_round`` of a weight that survives every round


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
        pruning: how the next round's masks are chosen: ``magnitude`` keeps the largest weights (the ticket);
            ``random`` prunes at random to the same sparsities (the control).
        score_at_step: score the weights this many steps into each round (1 .. ``steps_per_round``) instead
            of its last weights; the paper scored step 1000 of its 1501-step rounds.
        reinit: keep the masks but give every round a new random initialization instead of rewinding (the
            other control).
        seed: seeds the random masks and the new initializations (round ``r`` draws from ``seed`` and ``r``).
        monitor: the validation metric whose final and best value each round records.

    The masks are buffers ``<param>_mask`` of the pruned modules (see ``lottery.ticket``); masks the module
    already carries (a ticket loaded for retraining) are kept and enforced from the first step. The rewind point,
    the round, the weights scored and the history are the callback's checkpoint state, so a run resumed from any
    checkpoint continues exactly; the masks and random draws of a round depend only on ``seed`` and the round.
    Per round it logs ``lottery/sparsity`` (total and per layer), ``lottery/final`` and ``lottery/best``.
    """

    def __init__(self, steps_per_round: int, rounds: int | None = None,
                 schedule: Literal["geometric", "linear", "explicit"] = "geometric", prune_fraction: float = 0.2,
                 final_sparsity: float | None = None, sparsities: list[float] | None = None,
                 scope: Literal["layerwise", "global"] = "layerwise", prune_biases: bool = False,
                 layers: list[str] | None = None, rewind_step: int = 0,
                 pruning: Literal["magnitude", "random"] = "magnitude", score_at_step: int | None = None,
                 reinit: bool = False, seed: int = 0, monitor: str = "val/acc") -> None:
        if steps_per_round < 1:
            raise ValueError(f"steps_per_round={steps_per_round} is invalid: allowed an integer >= 1")
        if not 0 <= rewind_step < steps_per_round:
            raise ValueError(f"rewind_step={rewind_step} is invalid: allowed 0 <= rewind_step < steps_per_round "
                             f"({steps_per_round})")
        if scope not in ("layerwise", "global"):
            raise ValueError(f"scope={scope!r} is invalid: allowed 'layerwise' or 'global'")
        if pruning not in ("magnitude", "random"):
            raise ValueError(f"pruning={pruning!r} is invalid: allowed 'magnitude' or 'random'")
        if score_at_step is not None and not 1 <= score_at_step <= steps_per_round:
            raise ValueError(f"score_at_step={score_at_step} is invalid: allowed None or 1 <= score_at_step <= "
                             f"steps_per_round ({steps_per_round})")
        self.sparsities = sparsity_schedule(schedule, rounds, prune_fraction, final_sparsity, sparsities)
        if len(self.sparsities) >= NEVER_PRUNED:
            raise ValueError(f"rounds={len(self.sparsities)} is invalid: allowed fewer than {NEVER_PRUNED}")
        self.steps_per_round = steps_per_round
        self.scope, self.prune_biases, self.layers = scope, prune_biases, layers
        self.rewind_step, self.pruning, self.reinit, self.seed = rewind_step, pruning, reinit, seed
        self.score_at_step = None if score_at_step == steps_per_round else score_at_step
        self.monitor = monitor

        self.round = 0
        self.history: list[dict[str, Any]] = []
        self._val_scores: list[list[float]] = []  # [global step, value] of the current round's validations
        self._rewind_state: dict[str, torch.Tensor] | None = None
        self._scored_weights: dict[str, torch.Tensor] | None = None  # the weights at score_at_step of this round
        self._pruning_round: dict[str, torch.Tensor] = {}  # per weight: the first round it is pruned in
        self._layers: dict[str, list[str]] = {}  # layer name -> names of its pruned parameters

    # -- what the search found -----------------------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        return len(self.sparsities) * self.steps_per_round

    @property
    def rewind_state(self) -> dict[str, torch.Tensor] | None:
        """The weights every round restarts from (no mask buffers): a ticket's initialization."""
        return self._rewind_state

    @property
    def pruning_round(self) -> dict[str, torch.Tensor]:
        """Per pruned parameter, the first round each entry is pruned in (``NEVER_PRUNED`` if it survives): every
        round's masks in one int16 tensor per parameter (``masks_at_round``)."""
        return self._pruning_round

    @property
    def groups(self) -> list[list[str]]:
        """The parameter names ranked together when pruning: one list per layer (``layerwise``) or one in all."""
        return list(self._layers.values()) if self.scope == "layerwise" else [self.parameter_names()]

    def parameter_names(self) -> list[str]:
        return [name for names in self._layers.values() for name in names]

    def masks_at_round(self, round_index: int) -> dict[str, torch.Tensor]:
        """The masks round ``round_index`` trained with (float ones and zeros on the CPU), by parameter name."""
        return masks_at_round(self._pruning_round, round_index, self.round)

    # -- setup -------------------------------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._layers = prunable_layers(pl_module, self.layers, self.prune_biases)
        attach_masks(pl_module, self.parameter_names())
        if stage == "fit" and trainer.max_steps != self.total_steps:
            raise ValueError(f"trainer.max_steps={trainer.max_steps} is invalid: LotteryTicket trains "
                             f"{len(self.sparsities)} rounds of {self.steps_per_round} steps, set max_steps to "
                             f"{self.total_steps}")

    def _masks(self, pl_module: nn.Module) -> dict[str, torch.Tensor]:
        return model_masks(pl_module, self.parameter_names())

    # -- training hooks ------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        apply_masks(pl_module, self._masks(pl_module))
        if trainer.global_step == 0 and self.round == 0:
            if self.rewind_step == 0:
                self._rewind_state = self._snapshot(pl_module)
            self._pruning_round = {name: torch.where(mask.cpu() > 0, NEVER_PRUNED, 0).to(torch.int16)
                                   for name, mask in self._masks(pl_module).items()}

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        target = trainer.global_step // self.steps_per_round
        if self.round < target < len(self.sparsities):
            self._finish_round(trainer)
            self._start_round(trainer, pl_module, target)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        mask_gradients(pl_module, self._masks(pl_module))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        apply_masks(pl_module, self._masks(pl_module))
        step = trainer.global_step
        if self.round == 0 and self.rewind_step > 0 and step == self.rewind_step:
            self._rewind_state = self._snapshot(pl_module)
        if self.score_at_step is not None and step == self.round * self.steps_per_round + self.score_at_step:
            self._scored_weights = {name: pl_module.get_parameter(name).detach().cpu().clone()
                                    for name in self.parameter_names()}

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
                           f"{self.total_steps}; the history holds the {len(self.history)} finished rounds")

    # -- one round to the next -----------------------------------------------------------------------------------
    def _finish_round(self, trainer: L.Trainer) -> None:
        """Record the round that just ended: its sparsity and its validation scores, final and best."""
        masks = self._masks(trainer.lightning_module)
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

    def scores(self, pl_module: nn.Module, new_round: int) -> dict[str, torch.Tensor]:
        """What ``prune`` ranks for ``new_round``: weight magnitudes (at ``score_at_step``), or seeded noise."""
        if self.pruning == "random":
            generator = torch.Generator().manual_seed(self._round_seed(new_round))
            return {name: torch.rand(pl_module.get_parameter(name).shape, generator=generator)
                    for name in self.parameter_names()}
        if self.score_at_step is not None:
            if self._scored_weights is None:
                raise RuntimeError(f"LotteryTicket has no weights of step {self.score_at_step} of round "
                                   f"{self.round} to score")
            return {name: w.abs() for name, w in self._scored_weights.items()}
        return {name: pl_module.get_parameter(name).detach().abs().cpu() for name in self.parameter_names()}

    def _start_round(self, trainer: L.Trainer, pl_module: L.LightningModule, new_round: int) -> None:
        """Prune to the new round's sparsity, restart the weights and rebuild the optimizers."""
        masks = self._masks(pl_module)
        new_masks = prune(self.scores(pl_module, new_round), {n: m.cpu() for n, m in masks.items()}, self.groups,
                          self.sparsities[new_round])
        new_masks = trainer.strategy.broadcast(new_masks, src=0)  # one source of truth for every rank
        attach_masks(pl_module, new_masks)
        for name, mask in new_masks.items():
            newly = (mask == 0) & (self._pruning_round[name] == NEVER_PRUNED)
            self._pruning_round[name][newly] = new_round
        self._restart_weights(trainer, pl_module, new_round)
        apply_masks(pl_module, self._masks(pl_module))
        trainer.strategy.setup_optimizers(trainer)  # fresh optimizer state and LR schedulers
        self.round, self._val_scores, self._scored_weights = new_round, [], None

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
        return {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items() if k not in mask_names}

    def _round_seed(self, round_index: int) -> int:
        return self.seed * 1_000_003 + round_index

    # -- checkpoint state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"sparsities": self.sparsities, "steps_per_round": self.steps_per_round, "round": self.round,
                "history": self.history, "val_scores": self._val_scores, "rewind_state": self._rewind_state,
                "scored_weights": self._scored_weights, "pruning_round": self._pruning_round}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = (state_dict["sparsities"], state_dict["steps_per_round"])
        if not (len(saved[0]) == len(self.sparsities) and saved[1] == self.steps_per_round
                and all(math.isclose(a, b) for a, b in zip(saved[0], self.sparsities))):
            raise ValueError(f"the checkpoint's schedule (sparsities={saved[0]}, steps_per_round={saved[1]}) "
                             f"differs from this LotteryTicket's ({self.sparsities}, {self.steps_per_round})")
        self.round, self.history = state_dict["round"], state_dict["history"]
        self._val_scores, self._rewind_state = state_dict["val_scores"], state_dict["rewind_state"]
        self._scored_weights, self._pruning_round = state_dict["scored_weights"], state_dict["pruning_round"]


def masks_at_round(pruning_round: dict[str, torch.Tensor], round_index: int,
                   last_round: int | None = None) -> dict[str, torch.Tensor]:
    """Round ``round_index``'s masks from each weight's first pruned round (kept while ``pruning_round > r``)."""
    if round_index < 0 or (last_round is not None and round_index > last_round):
        raise ValueError(f"round_index={round_index} is invalid: allowed 0 .. {last_round} (the rounds started)")
    return {name: (first > round_index).float() for name, first in pruning_round.items()}


def checkpoint_state(checkpoint: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The ``LotteryTicket`` state saved in a Lightning checkpoint (a path or the loaded dict)."""
    if not isinstance(checkpoint, dict):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    states = [v for k, v in checkpoint.get("callbacks", {}).items() if k.startswith("LotteryTicket")]
    if len(states) != 1:
        raise ValueError(f"the checkpoint holds {len(states)} LotteryTicket states; expected exactly 1")
    return states[0]


def checkpoint_ticket(checkpoint: str | Path | dict[str, Any],
                      round_index: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The ticket of round ``round_index`` from a search's checkpoint: ``(masks, init_state)`` for ``load_ticket``."""
    state = checkpoint_state(checkpoint)
    if state["rewind_state"] is None:
        raise ValueError("the checkpoint has no rewind point yet (saved before rewind_step)")
    return masks_at_round(state["pruning_round"], round_index, state["round"]), state["rewind_state"]
