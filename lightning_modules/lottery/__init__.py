"""Lottery tickets: the ``LotteryTicket`` callback and the pruning arithmetic it is built on."""

from lightning_modules.lottery.callback import LotteryTicket
from lightning_modules.lottery.masks import prune, sparsity, sparsity_schedule

__all__ = ["LotteryTicket", "prune", "sparsity", "sparsity_schedule"]
