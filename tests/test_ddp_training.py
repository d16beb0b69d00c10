"""Two CPU processes under DDP (gloo): disjoint training shards, one permutation, synced weights and metrics.

The processes are forked (``ddp_fork``): spawned ones would each import torch and Lightning again, for seconds,
and the launcher is not what this test is about (``test_ssl_ddp`` and ``test_multinode`` start real ``cli.py``
processes)."""

import logging

import lightning as L
import torch

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.nets import MLP

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


class RecordRank(L.Callback):
    """Saves, per rank, the rows it trained on, its permutation, its final weights and its metrics."""

    def __init__(self, folder: str) -> None:
        self.folder, self.rows = folder, []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.rows.append(batch[0].clone())

    def on_fit_end(self, trainer, module):
        dm = trainer.datamodule
        x, y = dm.split("test")
        with torch.no_grad():
            full_test_acc = (module(x).argmax(-1) == y).float().mean().item()
        torch.save({"rows": torch.cat(self.rows), "permutation": torch.as_tensor(dm.permutation),
                    "weights": torch.cat([p.detach().flatten() for p in module.parameters()]),
                    "val_acc": trainer.callback_metrics["val/acc"].item(), "full_test_acc": full_test_acc},
                   f"{self.folder}/rank{trainer.global_rank}.pt")


def test_two_processes_train_disjoint_shards_of_one_permuted_dataset(tmp_path):
    data = dict(permutation="shuffle", permutation_seed=3)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_fork", max_steps=20, val_check_interval=20,
                        check_val_every_n_epoch=None, num_sanity_val_steps=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[RecordRank(str(tmp_path))])
    trainer.fit(Classifier(MLP()), MNIST1DDataModule(**data))
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    single = MNIST1DDataModule(**data)
    single.prepare_data()
    single.setup("fit")
    index = {tuple(row): i for i, row in enumerate(single.split("train")[0].tolist())}
    seen = [[index[tuple(row)] for row in rank["rows"].tolist()] for rank in ranks]
    # 20 steps of 100 on a 2000-row shard: each rank sees its own shard once, the reference order within it
    assert seen[0] == list(range(0, 4000, 2)) and seen[1] == list(range(1, 4000, 2))
    assert torch.equal(ranks[0]["permutation"], ranks[1]["permutation"])
    assert torch.equal(ranks[0]["permutation"], torch.as_tensor(single.permutation))
    assert torch.equal(ranks[0]["weights"], ranks[1]["weights"])
    # validation ran on half of the test split per rank; the synced metric is the full split's accuracy
    for rank in ranks:
        assert abs(rank["val_acc"] - ranks[0]["full_test_acc"]) < 1e-6
