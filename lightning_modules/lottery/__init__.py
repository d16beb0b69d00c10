"""Lottery tickets: the ``LotteryTicket`` search, the masks on a model, the pruning arithmetic beneath them, and the
spatial structure of a mask."""

from lightning_modules.lottery.adjacency import adjacency
from lightning_modules.lottery.callback import LotteryTicket, checkpoint_state, checkpoint_ticket, masks_at_round
from lightning_modules.lottery.masks import prune, random_masks, sparsity, sparsity_schedule
from lightning_modules.lottery.ticket import (KeepMasks, LoadTicket, RandomMask, apply_masks, attach_masks,
                                              load_ticket, mask_gradients, model_masks, prunable_layers,
                                              read_ticket, save_ticket)

__all__ = ["KeepMasks", "LoadTicket", "LotteryTicket", "RandomMask", "adjacency", "apply_masks", "attach_masks",
           "checkpoint_state", "checkpoint_ticket", "load_ticket", "mask_gradients", "masks_at_round", "model_masks",
           "prunable_layers", "prune", "random_masks", "read_ticket", "save_ticket", "sparsity",
           "sparsity_schedule"]
