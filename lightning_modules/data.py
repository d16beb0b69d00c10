"""``MNIST1DDataModule``: MNIST-1D as float32 tensors on the training device, batched the way the paper trains.

The whole dataset is a few hundred kilobytes, so it lives on the device and a batch is a slice: no DataLoader,
no workers, no per-example Python. Two batch orders: ``ordered`` replays the reference training loop (batch
``i`` is rows ``(i * B) % N`` to ``+ B`` of the already shuffled training set, cycled, never reshuffled);
otherwise every epoch draws a fresh seeded permutation. Under DDP each rank trains on a disjoint, equally sized
shard and evaluates a disjoint part of each split; every rank applies the same column permutation. Ordered
shards interleave the rows, so the ranks' batches at one step together are the reference loop's batch of
``world_size * B`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

import lightning as L
import numpy as np
import torch

from mnist1d_hf import generate, variant as named_variant
from mnist1d_hf.config import require

Batch = tuple[torch.Tensor, torch.Tensor]
PERMUTATIONS = ("none", "shuffle", "reverse", "swap_halves")
VALIDATIONS = ("test", "holdout")


def position_permutation(kind: str, length: int, seed: int = 0) -> np.ndarray:
    """Indices that reorder a signal's ``length`` positions: ``x[:, perm]``.

    ``shuffle`` is a seeded random permutation, ``reverse`` reads the signal backwards and ``swap_halves`` puts
    the second half (``length - length // 2`` points) before the first.
    """
    if kind == "none":
        return np.arange(length)
    if kind == "shuffle":
        return np.random.default_rng(seed).permutation(length)
    if kind == "reverse":
        return np.arange(length)[::-1].copy()
    if kind == "swap_halves":
        return np.roll(np.arange(length), -(length // 2))
    raise ValueError(f"permutation={kind!r} is invalid: allowed one of {list(PERMUTATIONS)}")


class OrderedBatches:
    """The reference loop's batches: batch ``i`` is rows ``(i * B) % N`` to ``+ B``, short at the end of the data.

    That order repeats every ``lcm(N, B) / B`` batches, which is this iterable's length, so consecutive epochs
    continue the reference sequence exactly for any ``N`` and ``B``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.lcm(len(self.x), self.batch_size) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        n, b = len(self.x), self.batch_size
        for i in range(len(self)):
            start = (i * b) % n
            yield self.x[start:start + b], self.y[start:start + b]


class ShuffledBatches:
    """A fresh permutation every epoch (seeded by ``seed`` and the epoch), sharded by rank after permuting.

    Every rank draws the same permutation, keeps the first ``world_size * (N // world_size)`` indices and takes
    every ``world_size``-th one from its rank, so shards are disjoint and of equal size.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0

    @property
    def shard_size(self) -> int:
        return len(self.x) // self.world_size

    def __len__(self) -> int:
        return math.ceil(self.shard_size / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.x), generator=generator)
        shard = order[:self.shard_size * self.world_size][self.rank::self.world_size].to(self.x.device)
        for start in range(0, len(shard), self.batch_size):
            rows = shard[start:start + self.batch_size]
            yield self.x[rows], self.y[rows]


class WholeBatches:
    """Evaluation batches over a split, in order (the whole split in one batch by default)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int | None) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size or max(len(x), 1)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        for start in range(0, len(self.x), self.batch_size):
            yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]


class MNIST1DDataModule(L.LightningDataModule):
    """MNIST-1D for Lightning: generated locally (default) or loaded from the Hub, held on the device.

    Args:
        variant: a named variant of ``mnist1d_hf`` (standard, shuffled, large, double_descent, clean), or the
            config name on the Hub when ``source`` is set.
        overrides: generator knobs to change, e.g. ``{"label_noise": 0.15}`` (local generation only).
        source: ``None`` to generate locally, or a Hub repo id / local folder laid out like a Hub dataset repo,
            read with ``datasets.load_dataset(source, variant)``.
        batch_size: training batch size per process.
        ordered: the reference loop's cycling order (True) or a seeded reshuffle every epoch (False).
        seed: seeds the epoch shuffles and the holdout carve-out.
        permutation: reorder the input positions of every split: none, shuffle (seeded by
            ``permutation_seed``), reverse or swap_halves.
        permutation_seed: the seed of ``permutation="shuffle"``.
        train_subset: train on only the first this many training examples (after any holdout is removed).
        validation: ``test`` validates on the test split (the paper's protocol); ``holdout`` carves
            ``holdout_size`` random training examples out as the validation set.
        holdout_size: size of the holdout carve-out.
        eval_train: add a second validation loader over the full training set (the paper's train curves).
        eval_batch_size: evaluation batch size; ``None`` evaluates each split in one batch.
    """

    def __init__(self, variant: str = "standard", overrides: dict[str, Any] | None = None,
                 source: str | None = None, batch_size: int = 100, ordered: bool = True, seed: int = 0,
                 permutation: Literal["none", "shuffle", "reverse", "swap_halves"] = "none",
                 permutation_seed: int = 0, train_subset: int | None = None,
                 validation: Literal["test", "holdout"] = "test", holdout_size: int = 500,
                 eval_train: bool = False, eval_batch_size: int | None = None) -> None:
        super().__init__()
        require(batch_size >= 1, "batch_size", batch_size, "an integer >= 1")
        require(permutation in PERMUTATIONS, "permutation", permutation, f"one of {list(PERMUTATIONS)}")
        require(validation in VALIDATIONS, "validation", validation, f"one of {list(VALIDATIONS)}")
        require(train_subset is None or train_subset >= 1, "train_subset", train_subset, "None or >= 1")
        require(holdout_size >= 1, "holdout_size", holdout_size, "an integer >= 1")
        require(eval_batch_size is None or eval_batch_size >= 1, "eval_batch_size", eval_batch_size,
                "None or >= 1")
        require(source is None or not overrides, "overrides", overrides,
                "only with source=None (a Hub dataset is already generated)")
        if source is None:
            named_variant(variant, **(overrides or {}))  # fail now on an unknown variant or knob
        self.save_hyperparameters()
        self.arrays: dict[str, np.ndarray] | None = None
        self.splits: dict[str, Batch] = {}

    # building and loading ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate the data, or fill the Hugging Face cache from ``source`` (rank 0 only under DDP)."""
        self.arrays = self._read()

    def _read(self) -> dict[str, np.ndarray]:
        hp = self.hparams
        if hp.source is None:
            data = generate(named_variant(hp.variant, **(hp.overrides or {})))
            return {"x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test, "y_test": data.y_test}
        from datasets import load_dataset

        splits = load_dataset(hp.source, hp.variant).with_format("numpy")
        columns = {split: splits[split][:] for split in ("train", "test")}  # whole split as numpy arrays
        return {f"{k}_{split}": columns[split][k] for split in ("train", "test") for k in ("x", "y")}

    def setup(self, stage: str | None = None) -> None:
        """Turn the arrays into float32 tensors on the training device: permuted, split and sharded."""
        if self.splits:
            return
        arrays = self.arrays if self.arrays is not None else self._read()
        hp = self.hparams
        length = arrays["x_train"].shape[1]
        self.permutation = position_permutation(hp.permutation, length, hp.permutation_seed)
        x_train, y_train = arrays["x_train"][:, self.permutation], arrays["y_train"]
        x_test, y_test = arrays["x_test"][:, self.permutation], arrays["y_test"]

        if hp.validation == "holdout":
            require(hp.holdout_size < len(x_train), "holdout_size", hp.holdout_size,
                    f"fewer than the {len(x_train)} training examples")
            held = np.zeros(len(x_train), dtype=bool)
            held[np.random.default_rng(hp.seed).choice(len(x_train), hp.holdout_size, replace=False)] = True
            x_val, y_val = x_train[held], y_train[held]
            x_train, y_train = x_train[~held], y_train[~held]
        else:
            x_val, y_val = x_test, y_test
        if hp.train_subset is not None:
            require(hp.train_subset <= len(x_train), "train_subset", hp.train_subset,
                    f"at most the {len(x_train)} training examples available")
            x_train, y_train = x_train[:hp.train_subset], y_train[:hp.train_subset]

        rank, world = self._rank_and_world()
        require(len(x_train) >= world, "train_subset", hp.train_subset,
                f"at least one training example per process ({world} processes)")
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.splits = {"train": _tensors(x_train, y_train, device), "val": _tensors(x_val, y_val, device),
                       "test": _tensors(x_test, y_test, device)}
        shard = len(x_train) // world
        self.splits["train_shard"] = tuple(t[:shard * world][rank::world] for t in self.splits["train"])
        for name in ("train", "val", "test"):
            self.splits[f"{name}_eval_shard"] = tuple(t[rank::world] for t in self.splits[name])

    def split(self, name: Literal["train", "val", "test"]) -> Batch:
        """The full ``name`` split as (signals, labels) tensors on the device, after ``setup``.

        ``train`` is what the model trains on (after any holdout and ``train_subset``), ``val`` what it validates
        on, ``test`` the test split; every process sees the whole split, not its shard.
        """
        require(name in ("train", "val", "test"), "split", name, "one of ['train', 'val', 'test']")
        if not self.splits:
            raise RuntimeError("MNIST1DDataModule.split() needs setup() first (the Trainer calls it)")
        return self.splits[name]

    def _rank_and_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    # loaders ----------------------------------------------------------------------------------------------
    def train_dataloader(self) -> OrderedBatches | ShuffledBatches:
        hp = self.hparams
        if hp.ordered:
            return OrderedBatches(*self.splits["train_shard"], hp.batch_size)
        rank, world = self._rank_and_world()
        return ShuffledBatches(*self.splits["train"], hp.batch_size, hp.seed, rank, world)

    def val_dataloader(self) -> WholeBatches | list[WholeBatches]:
        val = WholeBatches(*self.splits["val_eval_shard"], self.hparams.eval_batch_size)
        if not self.hparams.eval_train:
            return val
        return [val, WholeBatches(*self.splits["train_eval_shard"], self.hparams.eval_batch_size)]

    def test_dataloader(self) -> WholeBatches:
        return WholeBatches(*self.splits["test_eval_shard"], self.hparams.eval_batch_size)

    def predict_dataloader(self) -> WholeBatches:
        return WholeBatches(*self.splits["test_eval_shard"], self.hparams.eval_batch_size)


def _tensors(x: np.ndarray, y: np.ndarray, device: torch.device) -> Batch:
    """float32 signals (MPS has no float64) and int64 labels on ``device``."""
    return (torch.as_tensor(np.asarray(x, dtype=np.float32), device=device),
            torch.as_tensor(np.asarray(y, dtype=np.int64), device=device))
