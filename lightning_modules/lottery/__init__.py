"""Lottery tickets: the ``LotteryTicket`` search, the masks on a model, and the pruning arithmetic beneath them."""

from lightning_modules.lottery.callback import LotteryTicket, checkpoint_state, checkpoint_ticket, masks_at_round
from lightning_modules.lottery.masks import prune, sparsity, sparsity_schedule
from lightning_modules.lottery.ticket import (KeepMasks, apply_masks, attach_masks, load_ticket, mask_gradients,
                                              model_masks, prunable_layers)

__all__ = ["KeepMasks", "LotteryTicket", "apply_masks", "attach_masks", "checkpoint_state", "checkpoint_ticket",
           "load_ticket", "mask_gradients", "masks_at_round", "model_masks", "prunable_layers", "prune", "sparsity",
           "sparsity_schedule"]
