"""``PopulationClassifier``: K seeds of one network trained at once, with stacked parameters in one vectorized step.

These networks are so small that much of a training step is per-step overhead (Python, the Trainer, launching
tiny kernels). Stacking the K members' parameters (``torch.func.stack_module_state``) and running the network on
them under ``vmap`` (``BoundNetwork``) pays that overhead once for all K; the arithmetic still grows with K.

Member k is the single run with seed ``seeds[k]``: its network is built by calling ``net()`` right after
``L.seed_everything(seeds[k])`` (what LightningCLI does before it builds a single run's net when the config says
``seed_everything: seeds[k]``), it trains on that run's batches (shared by all members, or with ``batch_seeds``
member k's own: those of the data module with batch-order seed ``batch_seeds[k]``, see ``member_batches``), and
the loss is the sum of the members' losses, so member k's gradient is its own loss's gradient. With an
elementwise optimizer (``ELEMENTWISE_OPTIMIZERS``) every member then follows its independent run's trajectory
on its batches, up to floating-point rounding: vmap's batched matrix products round in their own order, so an
MLP member and its single run differ in the last bits (1e-7 after 200 SGD steps in our tests), and vmap batches
convolutions differently, so over thousands of Adam steps a CNN member's rounding differences grow into a
different (equally distributed) run.
A population of one uses no vmap and is the single run exactly. What would couple members is refused:

- optimizers that are not elementwise (LBFGS's line search, Adafactor's factored moments, ...);
- gradient clipping by norm (``gradient_clip_val`` with the default ``norm`` algorithm: one norm over all
  members; clipping by ``value`` is elementwise and allowed);
- ``16-mixed`` precision (its gradient scaler skips a step for all members when one overflows);
- networks ``vmap`` cannot batch: recurrent layers (``nn.GRU`` has no batching rule) and batch norm (running
  statistics are updated in place). Train those seeds as separate runs.

Logged names (``<split>`` is ``val``, ``train_eval`` or ``test``, ``<metric>`` is ``loss``, ``acc`` or ``error``):
``<split>/<metric>`` is the mean over members, ``<split>/<metric>_std`` their sample standard deviation (0 for one
member), ``<split>/<metric>/member_<k>`` member k's value, which is what the single run with seed ``seeds[k]``
logs as ``<split>/<metric>``. Training: ``train/loss`` and ``train/acc`` (member means of the batch values) and
``train/loss/member_<k>``, ``train/acc/member_<k>``, every ``log_every_n_steps`` steps. ``member_metrics`` turns
a logged row back into one seed's metrics under the single run's names.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import os
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.func import stack_module_state, vmap
from torchmetrics import Metric

from .classifier import PAPER_LR, Batch, LossName, check_loss, classification_loss
from .member_batches import member_batches_refusal

ELEMENTWISE_OPTIMIZERS: tuple[type[torch.optim.Optimizer], ...] = (
    torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.Adagrad,
    torch.optim.Adamax, torch.optim.NAdam, torch.optim.RAdam, torch.optim.Rprop)
SPLITS = ("val", "train_eval", "test")
METRICS = ("loss", "acc", "error")
MEMBER_NAME = re.compile(r"^(?P<metric>.+)/member_(?P<k>\d+)$")
# callbacks that neither act on the network nor decide on one monitored value, so they serve a population as
# they serve a single run
SAFE_CALLBACKS = ("ModelCheckpoint", "LearningRateMonitor", "TQDMProgressBar", "RichProgressBar", "ModelSummary",
                  "RichModelSummary", "Timer")
SEPARATE_RUNS = "train its seeds as separate runs (one `cli.py fit` with `seed_everything: k` per seed)"


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body right after ``L.seed_everything(seed)``, then give back every random state it changed."""
    states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    env = os.environ.get("PL_GLOBAL_SEED")
    try:
        L.seed_everything(seed, verbose=False)
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if env is None:
            os.environ.pop("PL_GLOBAL_SEED", None)
        else:
            os.environ["PL_GLOBAL_SEED"] = env


def build_member(net: Callable[[], nn.Module], seed: int) -> nn.Module:
    """The network a single run with seed ``seed`` starts from: ``net()`` right after ``seed_everything(seed)``."""
    with seeded(seed):
        return net()


def population_refusal(net: nn.Module) -> str | None:
    """Why ``net`` cannot be trained as a population (a message naming the alternative), or None if it can."""
    for name, module in net.named_modules():
        if isinstance(module, nn.RNNBase):
            return (f"net {type(net).__name__} has a recurrent layer {name!r} ({type(module).__name__}), "
                    f"which torch.func.vmap cannot batch; {SEPARATE_RUNS}")
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return (f"net {type(net).__name__} has batch norm {name!r}, whose running statistics are updated in "
                    f"place, which vmap cannot batch; {SEPARATE_RUNS}")
    return None


def optimizer_refusal(optimizer: torch.optim.Optimizer) -> str | None:
    """Why ``optimizer`` would couple members (it is not known to be elementwise), or None."""
    if isinstance(optimizer, ELEMENTWISE_OPTIMIZERS):
        return None
    allowed = [cls.__name__ for cls in ELEMENTWISE_OPTIMIZERS]
    return (f"optimizer={type(optimizer).__name__} is not elementwise, so it would couple the population's "
            f"members; allowed: {allowed}, or {SEPARATE_RUNS}")


class MemberMeans(Metric):
    """Per-member means of per-example values over a whole split, summed exactly across batches and processes."""

    full_state_update = False

    def __init__(self, members: int) -> None:
        super().__init__()
        self.add_state("sums", torch.zeros(members), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(()), dist_reduce_fx="sum")

    def update(self, values: torch.Tensor) -> None:
        """``values``: (members, N) per-example values of one batch."""
        self.sums += values.detach().sum(-1)
        self.count += values.shape[-1]

    def compute(self) -> torch.Tensor:
        return self.sums / self.count


class PopulationClassifier(L.LightningModule):
    """``Classifier`` for K seeds of one network at once: stacked parameters, one vectorized step, per-member metrics.

    Args:
        net: builds one member's network, e.g. ``nets.CNN`` or ``functools.partial(nets.MLP, hidden_size=47)``;
            in a LightningCLI config the same ``class_path``/``init_args`` as a ``Classifier``'s net.
        population: the number of members K (``None``: the length of ``seeds``, or 1); with ``seeds`` unset
            the seeds are 0, ..., K - 1.
        seeds: member k is the single run with seed ``seeds[k]`` (see the module docstring); its length must be
            ``population``.
        optimizer: builds the optimizer from the stacked parameters; ``None`` is the paper's Adam with lr 1e-2.
            It must be elementwise (``ELEMENTWISE_OPTIMIZERS``).
        num_classes: number of classes.
        loss: ``cross_entropy`` or ``mse``, as ``Classifier``'s ``loss``.
        batch_seeds: member k trains on the batches of the single run whose data module has batch-order seed
            ``batch_seeds[k]`` (``member_batches.MemberBatchesData``, which ``MNIST1DCLI`` puts around the data
            module); None: every member trains on the data module's own batches.

    ``forward`` returns (K, N, classes) logits, ``predict_step`` (K, N, classes) probabilities. The stacked
    parameters live in ``self.stacked``, a copy of the network whose every parameter has a leading member axis
    (so a checkpoint holds all members under the network's own names); ``member(k)`` takes one out as a plain
    network, ``member_state_dict(k)`` as a state dict for a single-run ``Classifier``.
    """

    def __init__(self, net: Callable[[], nn.Module], population: int | None = None, seeds: list[int] | None = None,
                 optimizer: OptimizerCallable | None = None, num_classes: int = 10,
                 loss: LossName = "cross_entropy", batch_seeds: list[int] | None = None) -> None:
        super().__init__()
        if isinstance(net, nn.Module):
            raise TypeError(f"net={type(net).__name__}(...) is a built network: pass what builds one (the class, "
                            "or functools.partial of it), so that each member is built after its own seed")
        population = (len(seeds) if seeds is not None else 1) if population is None else population
        if population < 1:
            raise ValueError(f"population={population} is invalid: allowed an integer >= 1")
        seeds = list(range(population)) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != population:
            raise ValueError(f"seeds={seeds} has {len(seeds)} entries: expected population={population}")
        seeds, batch_seeds = member_seeds(seeds, batch_seeds)
        # the builders are code, not data: a checkpoint keeps plain values (loadable with weights_only) and
        # load_from_checkpoint takes net= (and optimizer= to train on)
        self.save_hyperparameters(ignore=["net", "optimizer"])
        self.hparams["seeds"] = seeds
        self.batch_seeds = batch_seeds
        self.make_net, self.seeds, self.optimizer, self.loss = net, seeds, optimizer, check_loss(loss)

        members = [build_member(net, seed) for seed in seeds]
        refusal = population_refusal(members[0])
        if refusal:
            raise ValueError(refusal)
        if len(members) > 1 and all(torch.equal(a, b) for a, b in zip(members[0].parameters(),
                                                                       members[1].parameters())):
            raise ValueError(f"members with seeds {seeds[0]} and {seeds[1]} start from identical parameters: "
                             "the net fixes its own init (e.g. init_seed), so the seeds would not differ")
        self.stacked = _stacked_copy(members)
        self._bound = BoundNetwork(self.stacked)
        self.population = len(members)
        self.eval_metrics = nn.ModuleDict({f"{split}_{metric}": MemberMeans(self.population)
                                           for split in SPLITS for metric in ("loss", "acc")})
        self._evaluated: list[str] = []

    # the vectorized network ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, per_member: bool = False) -> torch.Tensor:
        """(K, N, classes) logits: every member on the same (N, L) inputs, or with ``per_member`` member k on
        ``x[k]`` of (K, N, L) inputs."""
        tensors = self._bound.tensors()
        if self.population == 1:  # one member needs no vmap, whose per-call cost a single run would not pay
            return self._bound({name: value[0] for name, value in tensors.items()},
                               x[0] if per_member else x).unsqueeze(0)
        return vmap(self._bound, in_dims=(0, 0 if per_member else None))(tensors, x)

    def per_member(self, fn: Callable[..., torch.Tensor], logits: torch.Tensor,
                   y: torch.Tensor | None = None) -> torch.Tensor:
        """``fn`` of each member's (N, classes) logits (and its (N,) labels: ``y[k]`` of (K, N) labels), stacked:
        computed as each single run computes it."""
        if y is None:
            return fn(logits[0]).unsqueeze(0) if self.population == 1 else vmap(fn)(logits)
        return fn(logits[0], y[0]).unsqueeze(0) if self.population == 1 else vmap(fn)(logits, y)

    def member_losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(K,) batch-mean losses against shared (N,) or per-member (K, N) labels."""
        if y.dim() == 2:
            return self.per_member(lambda member_logits, member_y: classification_loss(member_logits, member_y,
                                                                                      self.loss), logits, y)
        return self.per_member(lambda member_logits: classification_loss(member_logits, y, self.loss), logits)

    # members out -----------------------------------------------------------------------------------------
    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s parameters and buffers under the network's own names (copies)."""
        if not 0 <= k < self.population:
            raise IndexError(f"member k={k} is out of range: allowed 0 to {self.population - 1}")
        return {name: value[k].detach().clone() for name, value in self.stacked.state_dict().items()}

    def member(self, k: int) -> nn.Module:
        """Member ``k`` as a plain network, e.g. for ``Classifier(population.member(k))``."""
        state = self.member_state_dict(k)
        with seeded(self.seeds[k]):  # leaves the caller's random stream alone
            net = self.make_net()
        net.load_state_dict(state)
        return net.to(self.device)

    # training and evaluation -----------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        trainer = self.trainer
        algorithm = getattr(trainer.gradient_clip_algorithm, "value", trainer.gradient_clip_algorithm) or "norm"
        if stage == "fit" and trainer.gradient_clip_val and algorithm != "value":
            raise ValueError(f"gradient_clip_val={trainer.gradient_clip_val} with gradient_clip_algorithm="
                             f"{algorithm!r} clips one norm over all members, coupling them; "
                             "allowed: gradient_clip_algorithm='value' (elementwise) or no clipping")
        if "16-mixed" in str(trainer.precision):
            raise ValueError(f"precision={trainer.precision!r}: the gradient scaler skips a step for every member "
                             "when one overflows, coupling them; allowed: 32, 64, bf16-mixed")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            return torch.optim.Adam(self.parameters(), lr=PAPER_LR)
        optimizer = self.optimizer(self.parameters())
        refusal = optimizer_refusal(optimizer)
        if refusal:
            raise ValueError(refusal)
        return optimizer

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        per_member = self.batch_seeds is not None
        if per_member and (y.dim() != 2 or y.shape[0] != self.population):
            raise ValueError(f"batch_seeds={self.batch_seeds} needs per-member training batches of labels shaped "
                             f"({self.population}, N); got {tuple(y.shape)}: wrap the data module in "
                             "member_batches.MemberBatchesData(data, batch_seeds) (MNIST1DCLI does)")
        logits = self(x, per_member)
        losses = self.member_losses(logits, y)
        if self.trainer.logger is not None and (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            accuracies = (logits.detach().argmax(-1) == y).float().mean(-1)  # y: (N,) or (K, N)
            self._log_members("train/loss", losses.detach(), prog_bar=True)
            self._log_members("train/acc", accuracies)
        return losses.sum()  # each member's gradient is its own loss's

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(batch, "val" if dataloader_idx == 0 else "train_eval")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: Batch | torch.Tensor, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x).softmax(-1)

    def _evaluate(self, batch: Batch, split: str) -> None:
        x, y = batch
        logits = self(x)
        losses = self.per_member(lambda member_logits: classification_loss(member_logits, y, self.loss, "none"),
                                 logits)
        self.eval_metrics[f"{split}_loss"].update(losses)
        self.eval_metrics[f"{split}_acc"].update((logits.argmax(-1) == y).float())
        if split not in self._evaluated:
            self._evaluated.append(split)

    def on_validation_epoch_end(self) -> None:
        self._log_evaluated()

    def on_test_epoch_end(self) -> None:
        self._log_evaluated()

    def _log_evaluated(self) -> None:
        for split in self._evaluated:
            loss, acc = (self.eval_metrics[f"{split}_{name}"] for name in ("loss", "acc"))
            # torchmetrics returns a one-member result as a scalar: keep the member axis
            values = {"loss": loss.compute().reshape(-1), "acc": acc.compute().reshape(-1)}
            values["error"] = 1 - values["acc"]
            for name, per_member in values.items():
                self._log_members(f"{split}/{name}", per_member.float(), prog_bar=split == "val" and name == "acc")
            loss.reset()
            acc.reset()
        self._evaluated = []

    def _log_members(self, name: str, per_member: torch.Tensor, prog_bar: bool = False) -> None:
        """``name`` (member mean), ``name_std`` (sample std, 0 for one member), ``name/member_k`` (each member)."""
        spread = per_member.std() if len(per_member) > 1 else torch.zeros((), device=per_member.device)
        self.log(name, per_member.mean(), prog_bar=prog_bar)
        self.log(f"{name}_std", spread)
        for k, value in enumerate(per_member):
            self.log(f"{name}/member_{k}", value)


def _stacked_copy(members: Sequence[nn.Module]) -> nn.Module:
    """A copy of ``members[0]`` whose parameters and buffers are the members' stacked along a new first axis."""
    params, buffers = stack_module_state(list(members))
    stacked = copy.deepcopy(members[0])
    for name, value in params.items():
        owner, leaf = _owner(stacked, name)
        owner._parameters[leaf] = nn.Parameter(value.detach().clone())
    for name, value in buffers.items():
        owner, leaf = _owner(stacked, name)
        owner._buffers[leaf] = value.detach().clone()
    return stacked


def _owner(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, leaf = name.rpartition(".")
    return (module.get_submodule(path) if path else module), leaf


class BoundNetwork:
    """Calls a network with its parameters and buffers replaced by given tensors, as ``functional_call`` does.

    ``functional_call`` walks the module tree on every call to find each name's owner; for these small networks
    that costs a good part of a training step (a population of one ran 14% slower than ``Classifier``). The owners
    are found once here, and the network's own tensors are put back after each call.
    """

    def __init__(self, net: nn.Module) -> None:
        self.net = net
        self.slots = {name: _owner(net, name) for name, _ in (*net.named_parameters(), *net.named_buffers())}

    def tensors(self) -> dict[str, torch.Tensor]:
        """The network's own parameters and buffers by name (``named_parameters`` without the module walk)."""
        return {name: getattr(owner, leaf) for name, (owner, leaf) in self.slots.items()}

    def __call__(self, tensors: Mapping[str, torch.Tensor], *args: Any) -> Any:
        if tensors.keys() != self.slots.keys():
            raise KeyError(f"tensors for {sorted(tensors)}: expected exactly {sorted(self.slots)}")
        saved = []
        try:
            for name, (owner, leaf) in self.slots.items():
                table = owner._parameters if leaf in owner._parameters else owner._buffers
                saved.append((table, leaf, table[leaf]))
                table[leaf] = tensors[name]
            return self.net(*args)
        finally:
            for table, leaf, original in reversed(saved):
                table[leaf] = original


# for the studies runner -----------------------------------------------------------------------------------
def member_metrics(row: Mapping[str, Any], k: int) -> dict[str, Any]:
    """Member ``k``'s metrics from one logged row, under the single run's names (``val/acc/member_3`` -> ``val/acc``).

    Keys that are not per-member metrics (``step``, ``epoch``) are kept; means and spreads are dropped.
    """
    out: dict[str, Any] = {}
    metric_names = {match.group("metric") for key in row if (match := MEMBER_NAME.match(key))}
    for key, value in row.items():
        match = MEMBER_NAME.match(key)
        if match:
            if int(match.group("k")) == k:
                out[match.group("metric")] = value
        elif key not in metric_names and not any(key == f"{m}_std" for m in metric_names):
            out[key] = value
    return out


def member_results(result: Mapping[str, Any], seeds: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Split a population run's ``{"history": [rows], "final": row}`` into one such result per seed.

    Each seed's result holds the single run's metric names (``member_metrics``), so it can be stored and read
    exactly like the result of a separate run with that seed.
    """
    return {int(seed): {**{key: value for key, value in result.items() if key not in ("history", "final")},
                        "history": [member_metrics(row, k) for row in result.get("history", [])],
                        "final": member_metrics(result.get("final", {}), k)}
            for k, seed in enumerate(seeds)}


def member_seeds(seeds: Sequence[int], batch_seeds: Sequence[int] | None = None
                 ) -> tuple[list[int], list[int] | None]:
    """``seeds`` and ``batch_seeds`` as integers, checked as every population needs them: no seed twice (members
    with one seed would be identical) and, if given, one batch-order seed per member."""
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds} repeats a seed: members with one seed would be identical")
    if batch_seeds is not None:
        batch_seeds = [int(s) for s in batch_seeds]
        if len(batch_seeds) != len(seeds):
            raise ValueError(f"batch_seeds={batch_seeds} has {len(batch_seeds)} entries: expected {len(seeds)}, "
                             f"one per member (seeds={seeds})")
    return seeds, batch_seeds


def population_config(config: Mapping[str, Any], seeds: Sequence[int],
                      batch_seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """A LightningCLI config dict that trains ``seeds`` of a single-run ``Classifier`` config as one population.

    Member k of the result is the run of ``config`` with ``seed_everything: seeds[k]`` and, with ``batch_seeds``,
    the data module's batch-order seed ``batch_seeds[k]`` (``member_batches.BATCH_ORDER_SEED``); every other
    option as given (without ``batch_seeds`` the data module's own seed too: all members see the same batches).
    So these must be the only things that differ between the runs being merged. Raises ValueError when the runs
    cannot be one population: a network ``vmap`` cannot batch (``population_refusal``), repeated seeds, per-member
    batch seeds the data options do not allow (``member_batches_refusal``) or a callback that would act on one
    network (only ``SAFE_CALLBACKS`` are kept). ``member_results`` splits the run's result by seed.
    """
    seeds, batch_seeds = member_seeds(seeds, batch_seeds)
    model = config.get("model") or {}
    class_path = model.get("class_path", "")
    if class_path.rsplit(".", 1)[-1] != "Classifier":
        raise ValueError(f"model.class_path={class_path!r}: only lightning_modules.Classifier configs become "
                         "populations")
    callbacks = [str(c.get("class_path", "")) for c in (config.get("trainer") or {}).get("callbacks") or []]
    unsafe = [name for name in callbacks if name.rsplit(".", 1)[-1] not in SAFE_CALLBACKS]
    if unsafe:
        raise ValueError(f"trainer.callbacks {unsafe} act on a single network or on one monitored value, which a "
                         f"population does not have; allowed: {list(SAFE_CALLBACKS)}, or {SEPARATE_RUNS}")
    net = (model.get("init_args") or {}).get("net") or {}
    module_name, _, class_name = str(net.get("class_path", "")).rpartition(".")
    net_class = getattr(importlib.import_module(module_name), class_name)
    with seeded(0):  # building a probe must not move the caller's random stream
        probe = net_class(**(net.get("init_args") or {}))
    refusal = population_refusal(probe)
    if refusal:
        raise ValueError(refusal)
    init_args = {**model.get("init_args", {}), "population": len(seeds), "seeds": seeds}
    if batch_seeds is not None:
        refusal = member_batches_refusal(config.get("data"), batch_seeds)
        if refusal:
            raise ValueError(refusal)
        init_args["batch_seeds"] = batch_seeds
    return {**copy.deepcopy(dict(config)),
            "model": {"class_path": "lightning_modules.PopulationClassifier", "init_args": copy.deepcopy(init_args)}}
