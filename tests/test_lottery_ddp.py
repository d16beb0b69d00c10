"""LotteryTicket under 2-process DDP on CPU (gloo): every rank ends with the same masks and weights.

DDP keeps the ranks' weights equal, so they would agree on the masks even without the callback's broadcasts.
To prove the broadcasts, the test makes the ranks disagree before them: rank 1's weights are scrambled at the
end of every round (magnitude pruning then ranks other weights there) and every rank gets its own seed (random
masks and new initializations differ). Only rank 0's choices, broadcast, can make the ranks end equal.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lightning_modules.lottery import LotteryTicket


class Small(L.LightningModule):
    """A 6 -> 16 -> 3 MLP whose ranks see different data (the distributed sampler) and different global RNGs."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))

    def setup(self, stage: str) -> None:
        torch.manual_seed(1000 + self.global_rank)  # nothing may depend on the global RNG being shared

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/acc", (self.net(x).argmax(1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.02)


class Disagree(Callback):
    """Makes the ranks' inputs to pruning differ: its own seed per rank, rank 1's weights scrambled before pruning.

    It records, per rank, the weights each round's pruning scores and the seed, to show that they differed."""

    def __init__(self, ticket: LotteryTicket) -> None:
        self.ticket, self.scored = ticket, []

    def setup(self, trainer, pl_module, stage):
        self.ticket.seed = 1000 + trainer.global_rank

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step % self.ticket.steps_per_round == 0 and step < self.ticket.total_steps:  # pruning comes next
            if trainer.global_rank == 1:
                generator = torch.Generator().manual_seed(step)
                for p in pl_module.parameters():
                    p.copy_(torch.randn(p.shape, generator=generator))
            self.scored.append(pl_module.net[0].weight.detach().clone())


class SaveRankState(Callback):
    def __init__(self, directory, disagree: Disagree) -> None:
        self.directory, self.disagree = directory, disagree

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
        torch.save({"state": state, "scored": self.disagree.scored, "seed": self.disagree.ticket.seed},
                   self.directory / f"rank{trainer.global_rank}.pt")


@pytest.mark.parametrize("pruning, reinit", [("magnitude", False), ("magnitude", True), ("random", False)])
def test_every_rank_ends_with_the_same_masks(tmp_path, pruning, reinit):
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 6, generator=generator), torch.randint(0, 3, (64,), generator=generator))
    ticket = LotteryTicket(steps_per_round=4, rounds=3, prune_fraction=0.5, pruning=pruning, reinit=reinit,
                           prune_biases=True)
    disagree = Disagree(ticket)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_fork", max_steps=ticket.total_steps,
                        max_epochs=-1, callbacks=[disagree, ticket, SaveRankState(tmp_path, disagree)], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, default_root_dir=tmp_path)
    trainer.fit(Small(), DataLoader(data, batch_size=8, shuffle=True), DataLoader(data, batch_size=32))

    saved0, saved1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    # the ranks did disagree before the broadcasts: other seeds, other weights scored at each round's end
    assert saved0["seed"] != saved1["seed"] and len(saved0["scored"]) == 2
    assert all(not torch.equal(a, b) for a, b in zip(saved0["scored"], saved1["scored"]))
    rank0, rank1 = saved0["state"], saved1["state"]
    mask_names = [k for k in rank0 if k.endswith("_mask")]
    assert len(mask_names) == 4
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    pruned = sum(int((rank0[n] == 0).sum()) for n in mask_names)
    assert pruned == round(0.75 * 16 * 7) + round(0.75 * 3 * 17)  # layerwise, weight and bias together
