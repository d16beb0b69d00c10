"""Classifier: the reference loop's updates exactly, metrics, optimizers, checkpoints, predictions."""

import copy
import logging

import lightning as L
import pytest
import torch
from torch.nn import functional as F

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.nets import CNN, MLP, Logistic

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


def trainer(steps: int, **kwargs) -> L.Trainer:
    options = dict(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                   check_val_every_n_epoch=None, val_check_interval=steps)
    return L.Trainer(**(options | kwargs))


def reference_loop(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float = 1e-2) -> None:
    """The paper's training loop, written out: Adam, ordered cycling slices of 100."""
    optimizer = torch.optim.Adam(net.parameters(), lr)
    for step in range(steps):
        bix = (step * 100) % len(x)
        F.cross_entropy(net(x[bix:bix + 100]), y[bix:bix + 100]).backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.mark.parametrize("make_net", [MLP, CNN])
def test_training_makes_exactly_the_reference_loops_updates(make_net):
    torch.manual_seed(0)
    net = make_net()
    plain = copy.deepcopy(net)
    dm = MNIST1DDataModule(train_subset=1000)
    trainer(120).fit(Classifier(net), dm)  # three passes over the 1000 examples
    reference_loop(plain, *dm.split("train"), steps=120)
    for ours, theirs in zip(net.parameters(), plain.parameters()):
        assert torch.allclose(ours, theirs, atol=1e-6)


def test_loss_decreases_and_accuracies_are_logged():
    torch.manual_seed(0)
    model, dm = Classifier(MLP()), MNIST1DDataModule(eval_train=True)
    before = trainer(1).validate(model, dm, verbose=False)[0]["val/loss"]
    t = trainer(200)
    t.fit(model, dm)
    after = t.callback_metrics
    assert after["val/loss"] < 0.7 * before
    x, y = dm.split("test")
    with torch.no_grad():
        expected = (model(x).argmax(-1) == y).float().mean()
    assert after["val/acc"] == pytest.approx(expected.item())
    x, y = dm.split("train")
    with torch.no_grad():
        assert after["train_eval/acc"] == pytest.approx((model(x).argmax(-1) == y).float().mean().item())
    assert after["val/acc"] > 0.5


def test_default_optimizer_is_the_papers_adam_and_others_come_from_config():
    default = Classifier(Logistic()).configure_optimizers()
    assert isinstance(default, torch.optim.Adam) and default.defaults["lr"] == 1e-2
    sgd = Classifier(Logistic(), optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))
    chosen = sgd.configure_optimizers()
    assert isinstance(chosen, torch.optim.SGD) and chosen.defaults["momentum"] == 0.9


def test_checkpoint_reloads_to_the_same_test_accuracy(tmp_path):
    torch.manual_seed(0)
    model, dm = Classifier(MLP()), MNIST1DDataModule()
    t = trainer(80, default_root_dir=tmp_path, enable_checkpointing=True)
    t.fit(model, dm)
    tested = t.test(model, dm, verbose=False)[0]["test/acc"]
    path = t.checkpoint_callback.best_model_path
    reloaded = Classifier.load_from_checkpoint(path, net=MLP())
    again = trainer(1).test(reloaded, MNIST1DDataModule(), verbose=False)[0]["test/acc"]
    assert again == tested
    assert 0.2 < tested < 1.0


def test_predict_returns_class_probabilities_for_the_test_split():
    model, dm = Classifier(Logistic()), MNIST1DDataModule()
    probabilities = torch.cat(trainer(1).predict(model, dm))
    assert probabilities.shape == (1000, 10)
    assert torch.allclose(probabilities.sum(-1), torch.ones(1000))
    assert torch.allclose(probabilities, model(dm.split("test")[0]).softmax(-1))


@pytest.mark.slow
def test_cnn_reaches_90_percent_at_6000_steps():
    from experiments.table1 import Table1, final_test_acc
    from experiments.tasks import fit

    run = next(r for r in Table1().runs(quick=False, seeds=[0]) if r.tags == {"model": "cnn", "variant": "standard",
                                                                              "seed": 0})
    result = fit(run.config)
    assert result["final"]["step"] == 6000
    assert final_test_acc(result) >= 90.0


def test_lightnings_hook_bookkeeping_skips_the_module_attribute_checks(monkeypatch):
    """The hook name Lightning sets around every hook is stored directly (the per-step cost this saves is in
    ``bench/lightning_overhead.py``); parameters and submodules still register through ``nn.Module``."""
    checked = []
    module_setattr = torch.nn.Module.__setattr__

    def counting(self, name, value):
        checked.append(name)
        module_setattr(self, name, value)

    monkeypatch.setattr(torch.nn.Module, "__setattr__", counting)
    torch.manual_seed(0)
    model = Classifier(Logistic())
    trainer(5).fit(model, MNIST1DDataModule(train_subset=500))
    assert "_current_fx_name" not in checked and "net" in checked
    assert model._current_fx_name is None  # restored after the last hook
    model.extra = torch.nn.Linear(2, 2)
    assert "extra" in dict(model.named_children())
