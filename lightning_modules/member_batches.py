"""Per-member batch orders for a population: member k trains on exactly the batches of the single run whose data
module has the batch-order seed ``seeds[k]``.

Most studies seed a run's batch order with its seed (``seed_everything: S`` and the data module's seed S), so the
seeds of one point differ in more than their initialization. ``MemberBatchesData`` wraps the run's data module:
its training batches are (K, B, ...) signals and (K, B) labels whose row k is the batch member k's single run
draws at that step, made by the wrapped data module's own ``train_dataloader`` with its seed set to ``seeds[k]``
(so whatever that loader does with the seed, the member does too); validation, test and predict batches are the
wrapped module's, shared by all members. ``PopulationClassifier(batch_seeds=...)`` feeds row k to member k
(``vmap`` with ``in_dims=0``); ``MNIST1DCLI`` wraps the data module for it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import torch

from mnist1d_hf.errors import ConfigError

from .data import MNIST1DDataModule

# The MNIST1DDataModule argument that seeds the shuffled batch order (and the holdout carve-out): the one place
# that names it, for the studies runner too.
BATCH_ORDER_SEED = "shuffle_seed"


def data_default(name: str) -> Any:
    """The default of ``MNIST1DDataModule``'s argument ``name`` (what a config without it gets)."""
    return inspect.signature(MNIST1DDataModule).parameters[name].default


def batch_order_seed(data_config: Mapping[str, Any] | None) -> int:
    """The batch-order seed of a LightningCLI ``data:`` section (the data module's default if it sets none)."""
    return int((data_config or {}).get(BATCH_ORDER_SEED, data_default(BATCH_ORDER_SEED)))


def member_batches_refusal(data_config: Mapping[str, Any] | None, seeds: Sequence[int]) -> str | None:
    """Why members with batch-order seeds ``seeds`` cannot share this data config's evaluation, or None if they
    can: the seeds must change only the training batches."""
    data_config = data_config or {}
    ordered = data_config.get("ordered", data_default("ordered"))
    validation = data_config.get("validation", data_default("validation"))
    if ordered:
        return (f"data.ordered={ordered}: the reference loop's batches do not depend on data.{BATCH_ORDER_SEED}, "
                f"so per-member batch seeds {list(seeds)} would mean nothing; allowed: ordered=false")
    if validation == "holdout" and len(set(seeds)) > 1:
        return (f"data.validation='holdout' carves each member's validation set with its own data."
                f"{BATCH_ORDER_SEED} ({list(seeds)}), so the members would not share one validation split; "
                "allowed: validation='test', or train these seeds as separate runs")
    return None


@contextlib.contextmanager
def seeded_batch_order(data: L.LightningDataModule, seed: int) -> Iterator[None]:
    """``data`` with its batch-order seed set to ``seed`` for the body, then given back."""
    saved = data.hparams[BATCH_ORDER_SEED]
    data.hparams[BATCH_ORDER_SEED] = int(seed)
    try:
        yield
    finally:
        data.hparams[BATCH_ORDER_SEED] = saved


class MemberBatches:
    """K training iterables in lockstep, their batches stacked: step i yields (K, B, ...) signals and (K, B)
    labels, row k being the i-th batch of ``loaders[k]``. Resumable: its state is every member's state."""

    def __init__(self, loaders: Sequence[Any]) -> None:
        lengths = {len(loader) for loader in loaders}
        if len(lengths) != 1:
            raise ValueError(f"member loaders of lengths {sorted(lengths)}: the members must take the same number "
                             "of batches per epoch")
        self.loaders = list(loaders)

    def __len__(self) -> int:
        return len(self.loaders[0])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batches in zip(*self.loaders):
            yield torch.stack([x for x, _ in batches]), torch.stack([y for _, y in batches])

    def state_dict(self) -> dict[str, Any]:
        return {"members": [loader.state_dict() for loader in self.loaders]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        members = state.get("members")
        if not isinstance(members, list) or len(members) != len(self.loaders):
            raise ValueError(f"checkpoint loader state for {len(members) if isinstance(members, list) else None} "
                             f"members: expected {len(self.loaders)}, one per member of this population")
        for loader, member in zip(self.loaders, members):
            loader.load_state_dict(member)


class MemberBatchesData(L.LightningDataModule):
    """``data`` with per-member training batches (``MemberBatches``): member k's are those ``data`` gives with
    its batch-order seed set to ``seeds[k]``. Everything else (preparation, setup, evaluation and predict
    loaders, ``split``) is ``data``'s own, shared by every member."""

    def __init__(self, data: MNIST1DDataModule, seeds: Sequence[int]) -> None:
        super().__init__()
        refusal = member_batches_refusal(data.hparams, seeds)
        if refusal:
            raise ConfigError(refusal)
        self.data, self.seeds = data, [int(s) for s in seeds]
        self.save_hyperparameters(dict(data.hparams))  # a checkpoint records the wrapped module's options

    def prepare_data(self) -> None:
        self.data.prepare_data()

    def setup(self, stage: str) -> None:
        self.data.trainer = self.trainer
        self.data.setup(stage)

    def teardown(self, stage: str) -> None:
        self.data.teardown(stage)

    def split(self, name: str):
        return self.data.split(name)

    def train_dataloader(self) -> MemberBatches:
        self.data.trainer = self.trainer
        loaders = []
        for seed in self.seeds:
            with seeded_batch_order(self.data, seed):
                loaders.append(self.data.train_dataloader())
        return MemberBatches(loaders)

    def val_dataloader(self):
        return self.data.val_dataloader()

    def test_dataloader(self):
        return self.data.test_dataloader()

    def predict_dataloader(self):
        return self.data.predict_dataloader()
