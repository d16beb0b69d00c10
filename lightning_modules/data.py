"""``MNIST1DDataModule``: MNIST-1D as float32 tensors on the training device, batched the way the paper trains.

The whole dataset is a few hundred kilobytes, so it lives on the device and a batch is a slice: no DataLoader,
no workers, no per-example Python. Two batch orders: ``ordered`` replays the reference training loop (batch
``i`` is rows ``(i * B) % N`` to ``+ B`` of the already shuffled training set, cycled, never reshuffled);
otherwise every epoch draws a fresh seeded permutation. Under DDP each rank trains on a disjoint, equally sized
shard and evaluates a disjoint part of each split; every rank applies the same column permutation. Ordered
shards interleave the rows, so the ranks' batches at one step together are the reference loop's batch of
``world_size * B`` rows. Both training orders keep their position (and the shuffled order its epoch) in the
checkpoint through Lightning's stateful-loader protocol, so a fit resumed from any checkpoint, mid-epoch
included, sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import lightning as L
import numpy as np
import torch

from mnist1d_hf import VARIANTS, generate, variant_config
from mnist1d_hf.config import require
from mnist1d_hf.errors import ConfigError

Batch = tuple[torch.Tensor, torch.Tensor]
PERMUTATIONS = ("none", "shuffle", "reverse", "swap_halves")
VALIDATIONS = ("test", "holdout")


def position_permutation(kind: str | Sequence[int], length: int, seed: int = 0) -> np.ndarray:
    """Indices that reorder a signal's ``length`` positions: ``x[:, perm]``.

    ``shuffle`` is a seeded random permutation, ``reverse`` reads the signal backwards and ``swap_halves`` puts
    the second half (``length - length // 2`` points) before the first. A list of indices is the order itself
    (a permutation of ``0 .. length - 1``), for an order drawn elsewhere, such as a notebook's.
    """
    if not isinstance(kind, str):
        order = [int(i) for i in kind]
        if sorted(order) != list(range(length)):
            raise ConfigError(f"permutation={list(kind)} is invalid: allowed a permutation of 0..{length - 1} "
                              f"(the signal has {length} positions)")
        return np.asarray(order)
    if kind == "none":
        return np.arange(length)
    if kind == "shuffle":
        return np.random.default_rng(seed).permutation(length)
    if kind == "reverse":
        return np.arange(length)[::-1].copy()
    if kind == "swap_halves":
        return np.roll(np.arange(length), -(length // 2))
    raise ConfigError(f"permutation={kind!r} is invalid: allowed one of {list(PERMUTATIONS)}")


class _ResumableBatches:
    """The position part of Lightning's stateful-loader protocol, shared by the two training orders.

    Lightning checkpoints ``state_dict()`` of every training iterable that has one and, when it resumes a fit,
    calls ``load_state_dict`` before the first ``iter``: the pass then continues at the saved batch, so a run
    killed mid-epoch and resumed from its last checkpoint sees exactly the batches of an uninterrupted run.
    ``position`` counts the batches already yielded in the current pass: Lightning does not prefetch from a sized
    iterable, so after training step ``k`` of a pass it is ``k + 1``. A pass starts at its first batch, not at
    ``iter()``: Lightning calls ``iter()`` once just to check that a loader is iterable, before restoring states.
    """

    x: torch.Tensor
    batch_size: int

    def __init__(self) -> None:
        self._position = 0  # batches yielded in the current pass
        self._resume_at = 0  # where the next pass starts (set by load_state_dict)

    def __len__(self) -> int:
        raise NotImplementedError

    def _start(self) -> int:
        start, self._resume_at = self._resume_at, 0
        self._position = start
        return start

    def _position_state(self) -> dict[str, int]:
        return {"position": self._position, "batch_size": self.batch_size, "num_examples": len(self.x)}

    def _check_state(self, state: dict[str, Any]) -> int:
        """The saved position, after checking the checkpoint was written for the same batches."""
        for key in ("batch_size", "num_examples"):
            mine = self.batch_size if key == "batch_size" else len(self.x)
            require(state.get(key) == mine, f"checkpoint {key}", state.get(key),
                    f"{mine}, the value of this run (a mid-epoch position means other batches otherwise)")
        position = state.get("position")
        require(isinstance(position, int) and 0 <= position <= len(self), "checkpoint position", position,
                f"a batch index in [0, {len(self)}]")
        return position


class OrderedBatches(_ResumableBatches):
    """The reference loop's batches: batch ``i`` is rows ``(i * B) % N`` to ``+ B``, short at the end of the data.

    That order repeats every ``lcm(N, B) / B`` batches, which is this iterable's length, so consecutive epochs
    continue the reference sequence exactly for any ``N`` and ``B``. Its state is the position in that period.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.lcm(len(self.x), self.batch_size) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        n, b = len(self.x), self.batch_size
        for i in range(self._start(), len(self)):
            offset = (i * b) % n
            self._position = i + 1
            yield self.x[offset:offset + b], self.y[offset:offset + b]

    def state_dict(self) -> dict[str, int]:
        return self._position_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        position = self._check_state(state)
        self._resume_at = position if position < len(self) else 0


class ShuffledBatches(_ResumableBatches):
    """A fresh permutation every epoch (seeded by ``seed`` and the epoch), sharded by rank after permuting.

    Every rank draws the same permutation, keeps the first ``world_size * (N // world_size)`` indices and takes
    every ``world_size``-th one from its rank, so shards are disjoint and of equal size. The epoch of a pass is
    ``current_epoch()`` when given (the Trainer's epoch: Lightning may start a pass more than once per epoch,
    so counting passes would drift), else the count of passes started. The state holds the epoch of the current
    pass and the position in it, so a resumed run redraws that epoch's permutation and continues it.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, current_epoch: Callable[[], int] | None = None) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.current_epoch = current_epoch
        self.epoch = 0  # the epoch of the next pass, when no current_epoch is given
        self._pass_epoch = 0  # the epoch of the pass in progress
        self._resume_epoch: int | None = None  # set by load_state_dict for the next pass

    @property
    def shard_size(self) -> int:
        return len(self.x) // self.world_size

    def __len__(self) -> int:
        return math.ceil(self.shard_size / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        start = self._start()
        if self._resume_epoch is not None:
            epoch, self._resume_epoch = self._resume_epoch, None
        else:
            epoch = self.current_epoch() if self.current_epoch is not None else self.epoch
        self._pass_epoch, self.epoch = epoch, epoch + 1
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.x), generator=generator)
        shard = order[:self.shard_size * self.world_size][self.rank::self.world_size].to(self.x.device)
        for i in range(start, len(self)):
            rows = shard[i * self.batch_size:(i + 1) * self.batch_size]
            self._position = i + 1
            yield self.x[rows], self.y[rows]

    def state_dict(self) -> dict[str, int]:
        return {**self._position_state(), "epoch": self._pass_epoch, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        position = self._check_state(state)
        require(state.get("world_size") == self.world_size, "checkpoint world_size", state.get("world_size"),
                f"{self.world_size}, the number of processes of this run")
        epoch = state.get("epoch")
        require(isinstance(epoch, int) and epoch >= 0, "checkpoint epoch", epoch, "an integer >= 0")
        finished = position >= len(self)
        self._resume_epoch = epoch + 1 if finished else epoch
        self._resume_at = 0 if finished else position


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
        shuffle_seed: seeds the shuffles of training rows: each epoch's batch order (``ordered=False``) and
            which rows the holdout takes. Not the data (``overrides={"seed": ...}``, the generator's seed), not
            the input positions (``permutation_seed``), not the initialization (``seed_everything``).
        permutation: reorder the input positions of every split: none, shuffle (seeded by
            ``permutation_seed``), reverse or swap_halves; or the order itself, a list of position indices.
        permutation_seed: the seed of ``permutation="shuffle"``.
        train_subset: train on only the first this many training examples (after any holdout is removed).
        validation: ``test`` validates on the test split (the paper's protocol); ``holdout`` carves
            ``holdout_size`` random training examples out as the validation set.
        holdout_size: size of the holdout carve-out.
        eval_train: add a second validation loader over the full training set (the paper's train curves).
        eval_batch_size: evaluation batch size; ``None`` evaluates each split in one batch.
    """

    def __init__(self, variant: str = "standard", overrides: dict[str, Any] | None = None,
                 source: str | None = None, batch_size: int = 100, ordered: bool = True, shuffle_seed: int = 0,
                 permutation: Literal["none", "shuffle", "reverse", "swap_halves"] | list[int] = "none",
                 permutation_seed: int = 0, train_subset: int | None = None,
                 validation: Literal["test", "holdout"] = "test", holdout_size: int = 500,
                 eval_train: bool = False, eval_batch_size: int | None = None) -> None:
        super().__init__()
        _check_arguments(locals())
        # the generator config, built once; building it here fails now, before a Trainer writes anything, on a
        # bad knob or size
        self.generator_config = None if source is not None else variant_config(variant, **(overrides or {}))
        if self.generator_config is not None:
            _check_sizes(self.generator_config.num_train, validation, holdout_size, train_subset)
            position_permutation(permutation, self.generator_config.final_seq_length, permutation_seed)
        self.save_hyperparameters()
        self._splits: dict[str, Batch] = {}

    # building and loading ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Fill the Hugging Face cache from ``source`` (once per machine); keeps no state, as Lightning runs it
        on one process only. Local generation needs no preparation: it is cheap and happens in ``setup``."""
        if self.hparams.source is not None:
            self._read()

    def _read(self) -> dict[str, np.ndarray]:
        hp = self.hparams
        if hp.source is None:
            data = generate(self.generator_config)
            return {"x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test, "y_test": data.y_test}
        return _read_source(hp.source, hp.variant)

    def setup(self, stage: str | None = None) -> None:
        """Turn the arrays into float32 tensors on the training device: permuted, split and sharded."""
        if self._splits:
            return
        arrays = self._read()
        hp = self.hparams
        length = arrays["x_train"].shape[1]
        self.permutation = position_permutation(hp.permutation, length, hp.permutation_seed)
        x_train, y_train = arrays["x_train"][:, self.permutation], arrays["y_train"]
        x_test, y_test = arrays["x_test"][:, self.permutation], arrays["y_test"]

        _check_sizes(len(x_train), hp.validation, hp.holdout_size, hp.train_subset)
        if hp.validation == "holdout":
            held = np.zeros(len(x_train), dtype=bool)
            rows = np.random.default_rng(hp.shuffle_seed).choice(len(x_train), hp.holdout_size, replace=False)
            held[rows] = True
            x_val, y_val = x_train[held], y_train[held]
            x_train, y_train = x_train[~held], y_train[~held]
        else:
            x_val, y_val = x_test, y_test
        if hp.train_subset is not None:
            x_train, y_train = x_train[:hp.train_subset], y_train[:hp.train_subset]

        rank, world = self._rank_and_world()
        require(len(x_train) >= world, "train_subset", hp.train_subset,
                f"at least one training example per process ({world} processes)")
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        splits = {"train": _tensors(x_train, y_train, device), "val": _tensors(x_val, y_val, device),
                  "test": _tensors(x_test, y_test, device)}
        shard = len(x_train) // world
        splits["train_shard"] = tuple(t[:shard * world][rank::world] for t in splits["train"])
        for name in ("train", "val", "test"):
            splits[f"{name}_eval_shard"] = tuple(t[rank::world] for t in splits[name])
        self._splits = splits

    def split(self, name: Literal["train", "val", "test"]) -> Batch:
        """The full ``name`` split as (signals, labels) tensors on the device, after ``setup``.

        ``train`` is what the model trains on (after any holdout and ``train_subset``), ``val`` what it validates
        on, ``test`` the test split; every process sees the whole split, not its shard.
        """
        require(name in ("train", "val", "test"), "split", name, "one of ['train', 'val', 'test']")
        if not self._splits:
            raise RuntimeError("MNIST1DDataModule.split() needs setup() first (the Trainer calls it)")
        return self._splits[name]

    def _rank_and_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    # loaders ----------------------------------------------------------------------------------------------
    def train_dataloader(self) -> OrderedBatches | ShuffledBatches:
        hp = self.hparams
        if hp.ordered:
            return OrderedBatches(*self._splits["train_shard"], hp.batch_size)
        rank, world = self._rank_and_world()
        # the Trainer's epoch, read at each pass: right also when a fit resumes from an end-of-epoch checkpoint,
        # where Lightning restores no loader state
        trainer = self.trainer
        current_epoch = (lambda: trainer.current_epoch) if trainer is not None else None
        return ShuffledBatches(*self._splits["train"], hp.batch_size, hp.shuffle_seed, rank, world, current_epoch)

    def val_dataloader(self) -> WholeBatches | list[WholeBatches]:
        val = WholeBatches(*self._splits["val_eval_shard"], self.hparams.eval_batch_size)
        if not self.hparams.eval_train:
            return val
        return [val, WholeBatches(*self._splits["train_eval_shard"], self.hparams.eval_batch_size)]

    def test_dataloader(self) -> WholeBatches:
        return WholeBatches(*self._splits["test_eval_shard"], self.hparams.eval_batch_size)

    def predict_dataloader(self) -> WholeBatches:
        return WholeBatches(*self._splits["test_eval_shard"], self.hparams.eval_batch_size)


def _tensors(x: np.ndarray, y: np.ndarray, device: torch.device) -> Batch:
    """float32 signals (MPS has no float64) and int64 labels on ``device``."""
    return (torch.as_tensor(np.asarray(x, dtype=np.float32), device=device),
            torch.as_tensor(np.asarray(y, dtype=np.int64), device=device))


def _read_source(source: str, config_name: str) -> dict[str, np.ndarray]:
    """A Hub repo id or local Hub-layout folder as numpy arrays, read through the ``datasets`` cache."""
    from datasets import load_dataset

    try:
        splits = load_dataset(source, config_name).with_format("numpy")
    except (FileNotFoundError, ConnectionError, OSError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"source={source!r} with variant={config_name!r} is invalid: allowed a Hub dataset repo "
                         f"id or a local folder laid out like one, holding that config ({reason})") from None
    columns = {split: splits[split][:] for split in ("train", "test")}  # whole split as numpy arrays
    return {f"{k}_{split}": columns[split][k] for split in ("train", "test") for k in ("x", "y")}


def _check_sizes(num_train: int, validation: str, holdout_size: int, train_subset: int | None) -> None:
    """The holdout and the training subset must fit in the ``num_train`` training examples."""
    if validation == "holdout":
        require(holdout_size < num_train, "holdout_size", holdout_size, f"fewer than the {num_train} training examples")
        num_train -= holdout_size
    require(train_subset is None or train_subset <= num_train, "train_subset", train_subset,
            f"at most the {num_train} training examples available")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_arguments(args: dict[str, Any]) -> None:
    """Every constructor argument's type and range, as one ``name=value is invalid: allowed ...`` error."""
    def integer(name: str, minimum: int, optional: bool = False, maximum: int | None = None) -> None:
        value = args[name]
        if optional and value is None:
            return
        allowed = f"{'None or ' if optional else ''}an integer >= {minimum}"
        allowed += f" and < {maximum}" if maximum is not None else ""
        require(_is_int(value) and value >= minimum and (maximum is None or value < maximum), name, value, allowed)

    require(isinstance(args["variant"], str), "variant", args["variant"], "a variant name (a string)")
    require(args["source"] is not None or args["variant"] in VARIANTS, "variant", args["variant"],
            f"one of {list(VARIANTS)} (or a config name of the dataset given as source)")
    overrides = args["overrides"]
    require(overrides is None or (isinstance(overrides, dict) and all(isinstance(k, str) for k in overrides)),
            "overrides", overrides, "None or a mapping of generator knob names to values")
    require(args["source"] is None or (isinstance(args["source"], str) and args["source"] != ""), "source",
            args["source"], "None or a Hub repo id / local folder (a non-empty string)")
    integer("batch_size", 1)
    for name in ("ordered", "eval_train"):
        require(isinstance(args[name], bool), name, args[name], "true or false")
    integer("shuffle_seed", 0, maximum=2**32)
    permutation = args["permutation"]
    require(permutation in PERMUTATIONS if isinstance(permutation, str) else
            isinstance(permutation, (list, tuple)) and all(_is_int(i) for i in permutation), "permutation",
            permutation, f"one of {list(PERMUTATIONS)} or a list of position indices")
    integer("permutation_seed", 0, maximum=2**32)
    integer("train_subset", 1, optional=True)
    require(args["validation"] in VALIDATIONS, "validation", args["validation"], f"one of {list(VALIDATIONS)}")
    integer("holdout_size", 1)
    integer("eval_batch_size", 1, optional=True)
    require(args["source"] is None or not overrides, "overrides", overrides,
            "only with source=None (a Hub dataset is already generated)")
