"""A run killed anywhere and resumed from its last checkpoint ends bit-identical to an uninterrupted run.

The subprocess tests do it the way it happens: ``cli.py fit`` is SIGKILLed mid-epoch after a checkpoint was
written and resumed with ``--ckpt_path last``. The in-process test resumes from EVERY checkpoint of a run (one per
step: every position in an epoch, the epoch boundaries included) and compares each end with the uninterrupted one.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.data import OrderedBatches, ShuffledBatches
from lightning_modules.nets import MLP
from resume_helpers import assert_identical, kill_and_resume

STEPS, SUBSET, BATCH = 20, 250, 50  # 5 batches an epoch: 4 epochs


def classifier_config(ordered: bool) -> dict:
    return {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_steps": STEPS, "log_every_n_steps": 1,
                    "val_check_interval": 4, "check_val_every_n_epoch": None},
        "model": {"class_path": "lightning_modules.Classifier",
                  "init_args": {"net": {"class_path": "lightning_modules.nets.MLP",
                                        "init_args": {"hidden_size": 32}}}},
        "data": {"variant": "standard", "overrides": {"num_samples": 1000}, "train_subset": SUBSET,
                 "batch_size": BATCH, "ordered": ordered, "shuffle_seed": 3},
    }


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "shuffled"])
def test_classifier_killed_mid_epoch_resumes_bit_identical(tmp_path, ordered):
    # a checkpoint every step; the kill lands after step 7's (position 2 of 5 in epoch 1) or a little later
    expected, resumed = kill_and_resume(classifier_config(ordered), tmp_path, kill_after_step=7, every=1)
    assert 7 <= resumed.killed_at < STEPS and resumed.killed_at % (SUBSET // BATCH) != 0, resumed.killed_at
    assert_identical(expected, resumed)


def _fit(ordered: bool, root, ckpt_path: str | None = None, checkpoint_every: dict | None = None,
         **limits) -> tuple[dict, list]:
    """In-process fit; returns the final weights and the per-step training losses."""
    L.seed_everything(0, verbose=False)
    model = Classifier(MLP(hidden_size=16))
    data = MNIST1DDataModule(overrides={"num_samples": 500}, train_subset=120, batch_size=50, ordered=ordered,
                             shuffle_seed=1)
    losses: list[tuple[int, float]] = []

    class RecordLoss(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            losses.append((trainer.global_step, outputs["loss"].item()))

    checkpoints = L.pytorch.callbacks.ModelCheckpoint(dirpath=root, filename="{step}", save_top_k=-1,
                                                      **(checkpoint_every or {"every_n_train_steps": 1}))
    trainer = L.Trainer(**(limits or {"max_steps": 14}), logger=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[checkpoints, RecordLoss()], limit_val_batches=0)
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return {k: v.clone() for k, v in model.state_dict().items()}, losses


@pytest.mark.parametrize("ordered, limits", [(True, {"max_steps": 14}), (False, {"max_steps": 14}),
                                             (False, {"max_epochs": 5})],
                         ids=["ordered", "shuffled", "shuffled-max_epochs"])
def test_resuming_from_every_checkpoint_gives_the_same_end(tmp_path, ordered, limits, one_torch_thread):
    # 120 examples in batches of 50: ordered passes are lcm(120, 50) / 50 = 12 batches, shuffled ones 3, so the
    # checkpoints cover every position of a pass and, shuffled, four epoch boundaries (where Lightning restores
    # no loader state when training is bounded by epochs)
    weights, losses = _fit(ordered, tmp_path / "full", **limits)
    assert len(losses) == 14 if "max_steps" in limits else 15
    for step in range(1, len(losses)):
        resumed, resumed_losses = _fit(ordered, tmp_path / f"from{step}", str(tmp_path / "full" / f"step={step}.ckpt"),
                                       **limits)
        assert all(torch.equal(weights[k], resumed[k]) for k in weights), f"weights differ resuming from {step}"
        assert resumed_losses == losses[step:], f"losses differ resuming from step {step}"


def test_resuming_from_end_of_epoch_checkpoints_gives_the_same_end(tmp_path, one_torch_thread):
    """Checkpoints written at the end of an epoch: Lightning restores no loader state from them, so the next
    epoch's permutation must come from the Trainer's epoch, not from counting passes."""
    every_epoch = {"every_n_epochs": 1}
    weights, losses = _fit(False, tmp_path / "full", checkpoint_every=every_epoch, max_epochs=4)
    saved = sorted(int(p.stem.split("=")[1]) for p in (tmp_path / "full").glob("step=*.ckpt"))
    assert saved == [3, 6, 9, 12]
    for step in saved[:-1]:
        resumed, resumed_losses = _fit(False, tmp_path / f"from{step}", str(tmp_path / "full" / f"step={step}.ckpt"),
                                       checkpoint_every=every_epoch, max_epochs=4)
        assert all(torch.equal(weights[k], resumed[k]) for k in weights), f"weights differ resuming from {step}"
        assert resumed_losses == losses[step:], f"losses differ resuming from step {step}"


@pytest.mark.parametrize("make", [lambda x, y: OrderedBatches(x, y, 10),
                                  lambda x, y: ShuffledBatches(x, y, 10, seed=4)], ids=["ordered", "shuffled"])
def test_a_saved_state_continues_the_sequence_in_a_new_loader(make):
    """Save after any number of batches (across passes), load into a fresh loader: the batches continue."""
    x, y = torch.arange(70.0).reshape(35, 2), torch.arange(35)
    per_pass = len(make(x, y))
    full = [yb.tolist() for loader in [make(x, y)] for _ in range(5) for _, yb in loader]
    for cut in range(2 * per_pass + 1):
        loader, seen = make(x, y), []
        while len(seen) < cut:
            for _, yb in loader:
                seen.append(yb.tolist())
                if len(seen) == cut:
                    break
        fresh = make(x, y)
        fresh.load_state_dict(loader.state_dict())
        rest = [yb.tolist() for _, yb in fresh] + [yb.tolist() for _, yb in fresh]
        assert len(rest) >= per_pass and seen + rest == full[:len(seen) + len(rest)], f"after {cut} batches"


def test_a_state_from_other_batches_is_refused():
    x, y = torch.zeros(30, 2), torch.zeros(30)
    state = OrderedBatches(x, y, 10).state_dict()
    with pytest.raises(ValueError, match="checkpoint batch_size=10 is invalid"):
        OrderedBatches(x, y, 5).load_state_dict(state)
    with pytest.raises(ValueError, match="checkpoint num_examples=30"):
        ShuffledBatches(torch.zeros(20, 2), torch.zeros(20), 10, seed=0).load_state_dict(
            ShuffledBatches(x, y, 10, seed=0).state_dict())
