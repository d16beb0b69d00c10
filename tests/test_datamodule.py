"""MNIST1DDataModule: the paper's data and batch order, permutations, splits, shards, Hub-layout sources."""

import itertools

import numpy as np
import pytest
import torch

from lightning_modules import MNIST1DDataModule
from lightning_modules.data import OrderedBatches, ShuffledBatches, position_permutation
from mnist1d_hf import generate, variant_config


@pytest.fixture(scope="module")
def paper():
    return generate(variant_config("standard"))


def ready(**kwargs) -> MNIST1DDataModule:
    dm = MNIST1DDataModule(**kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def reference_batches(x: np.ndarray, y: np.ndarray, steps: int, batch_size: int = 100):
    """The reference loop: ``bix = (step * batch_size) % len(x_train)``, batch = ``x_train[bix:bix + B]``."""
    for step in range(steps):
        bix = (step * batch_size) % len(x)
        yield x[bix:bix + batch_size], y[bix:bix + batch_size]


def cycled(loader, steps: int):
    """What Lightning does with the loader across epochs: iterate it again and again."""
    return itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)), steps)


def test_nothing_is_built_in_init_or_prepare_data():
    """Lightning runs prepare_data on one process only: it must leave the module as it found it."""
    dm = MNIST1DDataModule()
    before = dict(vars(dm))
    dm.prepare_data()
    assert vars(dm) == before
    with pytest.raises(RuntimeError, match="setup"):
        dm.split("train")


def test_holds_the_paper_data_as_float32_tensors(paper):
    dm = ready()
    x, y = dm.split("train")
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.device.type == "cpu"
    assert torch.equal(x, torch.as_tensor(paper.x_train, dtype=torch.float32))
    assert torch.equal(y, torch.as_tensor(paper.y_train))
    assert torch.equal(dm.split("test")[0], torch.as_tensor(paper.x_test, dtype=torch.float32))


@pytest.mark.parametrize("train_subset, batch_size", [(None, 100), (250, 100), (1000, 64)])
def test_ordered_batches_replay_the_reference_loop(paper, train_subset, batch_size):
    dm = ready(train_subset=train_subset, batch_size=batch_size)
    n = train_subset or len(paper.x_train)
    x, y = paper.x_train[:n].astype(np.float32), paper.y_train[:n]
    steps = 3 * len(dm.train_dataloader()) + 7  # across several epoch boundaries
    ours = list(cycled(dm.train_dataloader(), steps))
    assert len(ours) == steps
    for (xb, yb), (xr, yr) in zip(ours, reference_batches(x, y, steps, batch_size)):
        assert np.array_equal(xb.numpy(), xr) and np.array_equal(yb.numpy(), yr)


def test_ordered_epoch_length_is_the_period_of_the_reference_order():
    x, y = torch.zeros(250, 4), torch.zeros(250)
    assert len(OrderedBatches(x, y, 100)) == 5  # offsets 0, 100, 200, 50, 150, then 0 again
    assert len(OrderedBatches(torch.zeros(4000, 4), torch.zeros(4000), 100)) == 40


def test_shuffled_epochs_cover_every_row_once_in_a_new_order():
    dm = ready(ordered=False, batch_size=128)
    loader = dm.train_dataloader()
    labels = dm.split("train")[1]
    epochs = [torch.cat([yb for _, yb in loader]) for _ in range(2)]
    for epoch in epochs:
        assert len(epoch) == 4000
        assert torch.equal(torch.bincount(epoch, minlength=10), torch.bincount(labels, minlength=10))
    first_rows = [next(iter(loader))[0] for _ in range(2)]
    assert not torch.equal(first_rows[0], first_rows[1])
    again = ready(ordered=False, batch_size=128).train_dataloader()
    assert torch.equal(next(iter(again))[0], next(iter(ready(ordered=False, batch_size=128).train_dataloader()))[0])


def test_shuffled_shards_are_disjoint_equal_and_cover_the_data():
    x = torch.arange(1001, dtype=torch.float32).unsqueeze(1)
    shards = [torch.cat([xb for xb, _ in ShuffledBatches(x, x.squeeze(1), 50, seed=3, rank=r, world_size=2)])
              for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 500
    rows = torch.cat(shards).squeeze(1)
    assert len(set(rows.tolist())) == 1000


@pytest.mark.parametrize("kind, expected", [
    ("none", list(range(40))),
    ("reverse", list(range(39, -1, -1))),
    ("swap_halves", list(range(20, 40)) + list(range(20))),
])
def test_fixed_permutations_reorder_every_split(paper, kind, expected):
    dm = ready(permutation=kind)
    assert dm.permutation.tolist() == expected
    for split, source in (("train", paper.x_train), ("test", paper.x_test)):
        assert np.array_equal(dm.split(split)[0].numpy(), source[:, expected].astype(np.float32))


def test_shuffle_permutation_is_a_seeded_permutation(paper):
    a, b, c = (ready(permutation="shuffle", permutation_seed=s) for s in (1, 1, 2))
    assert sorted(a.permutation.tolist()) == list(range(40))
    assert a.permutation.tolist() != list(range(40))
    assert np.array_equal(a.permutation, b.permutation)
    assert not np.array_equal(a.permutation, c.permutation)
    assert np.array_equal(a.split("test")[0].numpy(), paper.x_test[:, a.permutation].astype(np.float32))
    assert position_permutation("swap_halves", 5).tolist() == [2, 3, 4, 0, 1]


def test_validation_on_test_split_or_seeded_holdout(paper):
    assert torch.equal(ready().split("val")[0], ready().split("test")[0])
    dm = ready(validation="holdout", holdout_size=300, shuffle_seed=5)
    x_val, x_train = dm.split("val")[0], dm.split("train")[0]
    assert len(x_val) == 300 and len(x_train) == 3700
    every = {tuple(row) for row in paper.x_train.astype(np.float32).tolist()}
    val_rows = {tuple(row) for row in x_val.tolist()}
    train_rows = {tuple(row) for row in x_train.tolist()}
    assert not val_rows & train_rows and val_rows | train_rows == every
    assert torch.equal(x_val, ready(validation="holdout", holdout_size=300, shuffle_seed=5).split("val")[0])
    assert not torch.equal(x_val, ready(validation="holdout", holdout_size=300, shuffle_seed=6).split("val")[0])


def test_eval_train_adds_the_full_training_set_as_a_second_validation_loader():
    dm = ready(eval_train=True)
    val, train = dm.val_dataloader()
    assert [len(b[0]) for b in val] == [1000] and [len(b[0]) for b in train] == [4000]
    assert [len(b[0]) for b in ready(eval_batch_size=300).test_dataloader()] == [300, 300, 300, 100]


def test_overrides_reach_the_generator(paper):
    dm = ready(overrides={"label_noise": 0.5})
    changed = (dm.split("train")[1].numpy() != paper.y_train).mean()
    assert 0.35 < changed < 0.55  # half resampled uniformly: about 45% end up different


@pytest.mark.parametrize("kwargs, field", [
    ({"permutation": "sideways"}, "permutation"), ({"validation": "train"}, "validation"),
    ({"batch_size": 0}, "batch_size"), ({"train_subset": 0}, "train_subset"),
    ({"variant": "nope"}, "nope"), ({"overrides": {"colour": 1}}, "colour"),
    ({"source": "some/repo", "overrides": {"seed": 1}}, "overrides"),
])
def test_bad_options_fail_at_construction_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MNIST1DDataModule(**kwargs)


def test_sizes_beyond_the_data_fail_in_setup_naming_the_field():
    with pytest.raises(ValueError, match="train_subset=5000"):
        ready(train_subset=5000)
    with pytest.raises(ValueError, match="holdout_size=4000"):
        ready(validation="holdout", holdout_size=4000)


def test_source_reads_a_local_hub_layout_folder(tmp_path, paper):
    import datasets

    features = datasets.Features({"x": datasets.List(datasets.Value("float32"), length=40),
                                  "y": datasets.ClassLabel(names=[str(i) for i in range(10)])})
    for split, x, y in (("train", paper.x_train, paper.y_train), ("test", paper.x_test, paper.y_test)):
        (tmp_path / "standard").mkdir(exist_ok=True)
        datasets.Dataset.from_dict({"x": x.astype(np.float32), "y": y}, features=features).to_parquet(
            tmp_path / "standard" / f"{split}-00000-of-00001.parquet")
    (tmp_path / "README.md").write_text(
        "---\nconfigs:\n- config_name: standard\n  data_files:\n  - split: train\n"
        "    path: standard/train-*.parquet\n  - split: test\n    path: standard/test-*.parquet\n---\n")
    dm = ready(source=str(tmp_path), variant="standard", permutation="reverse")
    generated = ready(permutation="reverse")
    for split in ("train", "test"):
        assert torch.equal(dm.split(split)[0], generated.split(split)[0])
        assert torch.equal(dm.split(split)[1], generated.split(split)[1])
