"""Classifier's ``loss`` option: MSE against one-hot targets on the logits, computed directly; the logged errors."""

import copy
import logging

import lightning as L
import pytest
import torch

from lightning_modules import Classifier, MNIST1DDataModule
from lightning_modules.classifier import classification_loss
from lightning_modules.nets import MLP

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


def trainer(steps: int) -> L.Trainer:
    return L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                     check_val_every_n_epoch=None, val_check_interval=steps)


def looped_mse(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared error against one-hot targets, written out: sum over classes and examples / (N * C)."""
    n, c = logits.shape
    total = 0.0
    for i in range(n):
        for j in range(c):
            target = 1.0 if j == y[i] else 0.0
            total = total + (logits[i, j] - target) ** 2
    return total / (n * c)


def direct_mse(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same with rows of the identity as targets (fast enough for whole splits)."""
    n, c = logits.shape
    return ((logits - torch.eye(c)[y]) ** 2).sum() / (n * c)


def test_mse_equals_the_direct_computation_per_batch_and_per_example():
    torch.manual_seed(0)
    logits, y = torch.randn(7, 10, dtype=torch.float64), torch.randint(0, 10, (7,))
    assert classification_loss(logits, y, "mse").item() == pytest.approx(looped_mse(logits, y).item(), rel=1e-12)
    assert direct_mse(logits, y).item() == pytest.approx(looped_mse(logits, y).item(), rel=1e-12)
    per_example = classification_loss(logits, y, "mse", reduction="none")
    assert per_example.shape == (7,)
    for i in range(7):
        assert per_example[i].item() == pytest.approx(looped_mse(logits[i:i + 1], y[i:i + 1]).item(), rel=1e-12)
    assert torch.equal(classification_loss(logits, y), torch.nn.functional.cross_entropy(logits, y))


def test_mse_training_makes_the_updates_of_a_written_out_loop_and_logs_loss_and_errors():
    torch.manual_seed(0)
    net = MLP(hidden_size=20)
    plain = copy.deepcopy(net)
    dm = MNIST1DDataModule(train_subset=300, eval_train=True)
    sgd = lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9)  # noqa: E731
    t = trainer(12)
    t.fit(Classifier(net, optimizer=sgd, loss="mse"), dm)

    x, y = dm.split("train")
    optimizer = sgd(plain.parameters())
    for step in range(12):
        rows = slice((step * 100) % len(x), (step * 100) % len(x) + 100)
        direct_mse(plain(x[rows]), y[rows]).backward()
        optimizer.step()
        optimizer.zero_grad()
    for ours, theirs in zip(net.parameters(), plain.parameters()):
        assert torch.allclose(ours, theirs, atol=1e-6)

    metrics = t.callback_metrics
    with torch.no_grad():
        for split, (xs, ys) in (("val", dm.split("test")), ("train_eval", dm.split("train"))):
            logits = net(xs)
            assert metrics[f"{split}/loss"].item() == pytest.approx(direct_mse(logits, ys).item(), rel=1e-5)
            error = (logits.argmax(-1) != ys).float().mean().item()
            assert metrics[f"{split}/error"].item() == pytest.approx(error, abs=1e-6)
            assert metrics[f"{split}/acc"].item() == pytest.approx(1 - error, abs=1e-6)


def test_an_unknown_loss_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"loss='hinge'.*cross_entropy.*mse"):
        Classifier(MLP(), loss="hinge")
