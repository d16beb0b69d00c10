"""Per-member batch orders: member k of a population trains on exactly the batches of its single run, whose data
module has batch-order seed ``batch_seeds[k]``; resumable; refused where the seed would change more than that."""

import functools
import logging

import lightning as L
import pytest
import torch

from lightning_modules import Classifier, MNIST1DDataModule, PopulationClassifier
from lightning_modules.member_batches import BATCH_ORDER_SEED, MemberBatches, MemberBatchesData
from lightning_modules.nets import MLP
from lightning_modules.population import population_config
from mnist1d_hf.errors import ConfigError

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
SGD_MOMENTUM = functools.partial(torch.optim.SGD, lr=1e-2, momentum=0.9)  # double descent's optimizer
SMALL_MLP = functools.partial(MLP, hidden_size=12)
SEEDS, BATCH_SEEDS = [3, 0], [3, 5]  # member 1: init seed 0, batch order 5 (not tied to k or to its init seed)


def data(seed: int = 0, **options) -> MNIST1DDataModule:
    """Double descent's batches in small: reshuffled every epoch, 400 examples in 4 batches."""
    return MNIST1DDataModule(train_subset=400, ordered=False, eval_train=True, **{BATCH_ORDER_SEED: seed}, **options)


def trainer(steps: int) -> L.Trainer:
    return L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                     check_val_every_n_epoch=None, val_check_interval=steps)


def test_member_k_trains_on_its_single_runs_batches_and_ends_where_that_run_ends(one_torch_thread):
    steps = 22  # five passes and a half: every epoch's reshuffle, and a pass cut short
    population = PopulationClassifier(SMALL_MLP, seeds=SEEDS, batch_seeds=BATCH_SEEDS, optimizer=SGD_MOMENTUM)
    t = trainer(steps)
    t.fit(population, MemberBatchesData(data(seed=0), BATCH_SEEDS))
    logged = t.callback_metrics
    for k, (seed, batch_seed) in enumerate(zip(SEEDS, BATCH_SEEDS)):
        L.seed_everything(seed, verbose=False)
        single = Classifier(SMALL_MLP(), optimizer=SGD_MOMENTUM)
        single_trainer = trainer(steps)
        single_trainer.fit(single, data(seed=batch_seed))
        member = population.member_state_dict(k)
        for name, value in single.net.state_dict().items():
            # vmap's batched matmuls round differently in the last bits (1.5e-8 here); another batch order would
            # be 2e-3 away
            torch.testing.assert_close(member[name], value, rtol=0, atol=1e-6)
        for split in ("val", "train_eval"):
            assert logged[f"{split}/acc/member_{k}"].item() == pytest.approx(
                single_trainer.callback_metrics[f"{split}/acc"].item(), abs=1e-6)
            assert logged[f"{split}/loss/member_{k}"].item() == pytest.approx(
                single_trainer.callback_metrics[f"{split}/loss"].item(), rel=1e-6)
    # and not the wrapped data module's own order: member 1 differs from the run with batch seed 0
    L.seed_everything(SEEDS[1], verbose=False)
    shared = Classifier(SMALL_MLP(), optimizer=SGD_MOMENTUM)
    trainer(steps).fit(shared, data(seed=0))
    assert (population.member_state_dict(1)["input.weight"] - shared.net.input.weight).abs().max() > 1e-3


def test_member_batches_stack_each_members_loader_and_resume_mid_epoch():
    module = data()
    module.setup("fit")
    wrapped = MemberBatchesData(module, [7, 8])
    loader = wrapped.train_dataloader()
    batches = list(loader)
    assert len(batches) == len(loader) == 4 and batches[0][0].shape == (2, 100, 40)
    assert batches[0][1].shape == (2, 100)
    for k, seed in enumerate([7, 8]):
        alone = data(seed=seed)
        alone.setup("fit")
        for (x, y), (x_alone, y_alone) in zip(batches, alone.train_dataloader()):
            assert torch.equal(x[k], x_alone) and torch.equal(y[k], y_alone)
    assert module.hparams[BATCH_ORDER_SEED] == 0  # the wrapped module's own seed is given back

    partial = wrapped.train_dataloader()
    iterator = iter(partial)
    next(iterator)
    state = partial.state_dict()
    resumed = wrapped.train_dataloader()
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == 3 and all(torch.equal(a[0], b[0]) for a, b in zip(rest, batches[1:]))
    with pytest.raises(ValueError, match="for 1 members: expected 2"):
        resumed.load_state_dict({"members": state["members"][:1]})
    with pytest.raises(ValueError, match="lengths"):
        MemberBatches([range(3), range(4)])


def test_seeds_that_would_change_more_than_the_batches_are_refused(one_torch_thread):
    with pytest.raises(ConfigError, match="ordered=True.*allowed: ordered=false"):
        MemberBatchesData(MNIST1DDataModule(ordered=True), [0, 1])
    with pytest.raises(ConfigError, match="holdout.*separate runs"):
        MemberBatchesData(data(validation="holdout", holdout_size=100), [0, 1])
    config = {"seed_everything": 0, "model": {"class_path": "lightning_modules.Classifier", "init_args": {
        "net": {"class_path": "lightning_modules.nets.MLP"}}}, "data": {"ordered": True}}
    with pytest.raises(ValueError, match="ordered=True"):
        population_config(config, [0, 1], batch_seeds=[0, 1])
    with pytest.raises(ValueError, match="repeats a seed"):
        population_config(config, [1, 1])
    with pytest.raises(ValueError, match="batch_seeds=\\[0\\] has 1 entries"):
        PopulationClassifier(SMALL_MLP, seeds=[0, 1], batch_seeds=[0])
    # a population told its members have their own batches refuses shared ones (the data module not wrapped)
    population = PopulationClassifier(SMALL_MLP, seeds=[0, 1], batch_seeds=[0, 1])
    with pytest.raises(ValueError, match="MemberBatchesData"):
        trainer(2).fit(population, data())
