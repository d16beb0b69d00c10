"""Metalearning: the unrolled inner loops against plain autograd unrolls, the learning-rate meta-gradient
against finite differences, exact resume of both outer loops, the learned activation, and the configs via cli.py."""

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.nn import functional as F

from lightning_modules import MNIST1DDataModule
from lightning_modules.meta import (
    InnerMLP,
    LearnedActivation,
    MetaActivation,
    MetaLearningRate,
    PiecewiseLinear,
    activation_inner_run,
    fit_piecewise_linear,
    functional_loss,
    learning_rate_inner_run,
    reference_piecewise,
    rmsprop_unroll,
    seeded_inner_mlp,
    sequential_batches,
    sgd_unroll,
)

ROOT = Path(__file__).resolve().parents[1]


def tiny_data(n=24, d=6, classes=3, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, classes, (n,), generator=g)


def tiny_theta(d=6, hidden=5, classes=3, dtype=torch.float64, seed=0):
    return {k: v.to(dtype) for k, v in seeded_inner_mlp(d, hidden, classes, seed)[1].items()}


def plain_forward(theta, x, activation):
    return F.linear(activation(F.linear(x, theta["fc1.weight"], theta["fc1.bias"])),
                    theta["fc2.weight"], theta["fc2.bias"])


def plain_sgd_losses(lr, theta, x, y, steps, batch):
    """The reference notebook's loop, written out with explicit tensors."""
    w = [theta[k].clone().requires_grad_() for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")]
    losses = []
    for step in range(steps):
        start = (step * batch) % len(x)
        params = dict(zip(("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), w))
        loss = F.cross_entropy(plain_forward(params, x[start:start + batch], torch.tanh), y[start:start + batch])
        grads = torch.autograd.grad(loss, w, create_graph=True)
        w = [p - lr * g for p, g in zip(w, grads)]
        losses.append(loss)
    return torch.stack(losses)


def test_sgd_unroll_matches_a_plain_autograd_unroll_in_values_and_meta_gradient():
    x, y = tiny_data()
    theta = tiny_theta()
    lr = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    ours = learning_rate_inner_run(lr, theta, x, y, steps=7, batch_size=5)  # 7 * 5 > 24 rows: wraps around
    (grad_ours,) = torch.autograd.grad(ours.mean(), lr)
    plain = plain_sgd_losses(lr, theta, x, y, steps=7, batch=5)
    (grad_plain,) = torch.autograd.grad(plain.mean(), lr)
    torch.testing.assert_close(ours, plain, rtol=0, atol=1e-14)
    torch.testing.assert_close(grad_ours, grad_plain, rtol=1e-12, atol=1e-14)
    assert grad_ours.abs() > 1e-4


def test_the_inner_runs_pure_forward_is_functional_call_on_the_module():
    x, y = tiny_data(dtype=torch.float32)
    model, theta = seeded_inner_mlp(6, 5, 3, seed=2)
    lr = torch.tensor(0.5, requires_grad=True)
    through_module = sgd_unroll(functional_loss(model, activation=torch.tanh), theta,
                                sequential_batches(x, y, 5, 4), lr).losses
    torch.testing.assert_close(learning_rate_inner_run(lr, theta, x, y, 4, 5), through_module, rtol=0, atol=0)


def test_learning_rate_meta_gradient_matches_central_finite_differences():
    x, y = tiny_data(n=40)
    theta = tiny_theta()
    lr = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(learning_rate_inner_run(lr, theta, x, y, steps=10, batch_size=8).mean(), lr)
    h = 1e-6
    up = learning_rate_inner_run(torch.tensor(0.9 + h, dtype=torch.float64), theta, x, y, 10, 8).mean()
    down = learning_rate_inner_run(torch.tensor(0.9 - h, dtype=torch.float64), theta, x, y, 10, 8).mean()
    fd = (up - down) / (2 * h)
    assert abs(grad.item() - fd.item()) < 1e-7 * max(1.0, abs(fd.item()))
    assert abs(fd.item()) > 1e-3  # a real slope, not a flat spot


def test_rmsprop_unroll_matches_a_plain_unroll_with_a_learned_activation_and_noise():
    torch.manual_seed(1)
    x, y = tiny_data(dtype=torch.float32)
    act = LearnedActivation(hidden_size=4, noise=0.1, init_seed=3)
    model, theta = seeded_inner_mlp(6, 5, 3, seed=0, noise=0.1)
    gen = torch.Generator().manual_seed(0)
    ours = rmsprop_unroll(functional_loss(model, activation=act, generator=gen), theta,
                          sequential_batches(x, y, 5, 6), lr=0.05, decay=0.4, eps=1e-8).losses
    grads_ours = torch.autograd.grad(ours[-3:].mean(), list(act.parameters()))

    gen = torch.Generator().manual_seed(0)
    names = list(theta)
    w = [theta[k].clone().requires_grad_() for k in names]
    v = [torch.ones_like(p) for p in w]
    w1, b1, w2, b2 = act.fc1.weight, act.fc1.bias, act.fc2.weight, act.fc2.bias
    losses = []
    for step in range(6):
        start = (step * 5) % len(x)
        xb, yb = x[start:start + 5], y[start:start + 5]
        pre = xb @ w[0].T + w[1]
        hg = torch.tanh(pre.reshape(-1, 1) @ w1.T + b1) + 0.1 * (2 * torch.rand(1, 4, generator=gen) - 1)
        h = F.elu(pre) + 0.2 * (hg @ w2.T + b2).reshape(pre.shape)
        h = h + 0.1 * (2 * torch.rand(1, 5, generator=gen) - 1)
        loss = F.cross_entropy(h @ w[2].T + w[3], yb)
        g = torch.autograd.grad(loss, w, create_graph=True)
        v = [vi * 0.4 + gi ** 2 * 0.6 for vi, gi in zip(v, g)]
        w = [p - 0.05 * gi / (torch.sqrt(vi) + 1e-8) for p, gi, vi in zip(w, g, v)]
        losses.append(loss)
    plain = torch.stack(losses)
    grads_plain = torch.autograd.grad(plain[-3:].mean(), list(act.parameters()))
    torch.testing.assert_close(ours, plain, rtol=1e-6, atol=1e-7)
    for a, b in zip(grads_ours, grads_plain):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-8)
    assert any(g.abs().sum() > 0 for g in grads_ours)


def test_rmsprop_unroll_from_zeros_is_torch_rmsprop():
    """With the squared average started at zero, the hand-written update is torch.optim.RMSprop's."""
    x, y = tiny_data()
    model = InnerMLP(6, 5, 3).double()
    theta = tiny_theta()
    ours = rmsprop_unroll(functional_loss(model, activation=torch.tanh), theta, sequential_batches(x, y, 6, 5),
                          lr=0.01, decay=0.4, eps=1e-8, square_avg_init=0.0)
    model.load_state_dict(theta)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.4, eps=1e-8)
    for step, (xb, yb) in enumerate(sequential_batches(x, y, 6, 5)):
        loss = F.cross_entropy(model(xb, torch.tanh), yb)
        assert loss.item() == pytest.approx(ours.losses[step].item(), rel=1e-12)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, p in model.named_parameters():
        torch.testing.assert_close(ours.params[name].detach(), p.detach(), rtol=1e-12, atol=1e-14)


def test_activation_inner_run_is_a_pure_function_of_seed_and_leaves_the_global_stream_alone():
    x, y = tiny_data(n=60, d=8, classes=4, dtype=torch.float32)
    act = LearnedActivation(hidden_size=6)
    state = torch.get_rng_state()
    a = activation_inner_run(act, x, y, x, y, steps=5, batch_size=10, hidden_size=7, test_rows=30)
    assert torch.equal(torch.get_rng_state(), state)
    b = activation_inner_run(act, x, y, x, y, steps=5, batch_size=10, hidden_size=7, test_rows=30)
    c = activation_inner_run(act, x, y, x, y, steps=5, batch_size=10, hidden_size=7, test_rows=30, seed=1)
    assert torch.equal(a.losses, b.losses) and a.test_acc == b.test_acc
    assert not torch.equal(a.losses, c.losses)
    # the reference's evaluation draws shift the noise of later steps only
    d = activation_inner_run(act, x, y, x, y, steps=5, batch_size=10, hidden_size=7, test_rows=30,
                             reference_eval_draws=False)
    assert torch.equal(a.losses[:2], d.losses[:2]) and not torch.equal(a.losses[2:], d.losses[2:])


def test_baselines_reproduce_the_reference_mean_inner_losses(one_torch_thread):
    """The reference printed each baseline's mean inner loss (8 significant digits, run on a GPU); swish and
    elu are smooth enough for a CPU run to agree to 1e-6."""
    dm = MNIST1DDataModule(overrides={"num_samples": 10000})
    dm.prepare_data()
    dm.setup("fit")
    for name, printed in (("swish", 1.3675405), ("elu", 1.4736847)):
        run = activation_inner_run(name, *dm.split("train"), *dm.split("test"))
        assert run.losses.mean().item() == pytest.approx(printed, abs=1e-6), name


def tiny_datamodule():
    return MNIST1DDataModule(overrides={"num_samples": 400}, batch_size=10)


def fit(model, steps, tmp_path, ckpt_path=None):
    trainer = L.Trainer(max_steps=steps, max_epochs=-1, accelerator="cpu", logger=False, limit_val_batches=0,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        default_root_dir=tmp_path, enable_checkpointing=False)
    trainer.fit(model, tiny_datamodule(), ckpt_path=ckpt_path)
    return trainer


def lr_module():
    return MetaLearningRate(init_lr=0.8, inner_steps=6, inner_batch_size=20, hidden_size=5)


def act_module():
    return MetaActivation(inner_steps=6, meta_window=3, inner_batch_size=20, hidden_size=6, test_rows=40,
                          activation_hidden=5, outer_lr=3.0)


@pytest.mark.parametrize("build, parameter", [(lr_module, "inner_lr"), (act_module, "activation.fc1.weight")])
def test_resume_from_a_checkpoint_is_bit_identical(build, parameter, tmp_path, one_torch_thread):
    whole = build()
    fit(whole, 4, tmp_path / "whole")

    first = build()
    trainer = fit(first, 2, tmp_path / "first")
    ckpt = tmp_path / "after2.ckpt"
    trainer.save_checkpoint(ckpt)
    resumed = build()
    trainer = fit(resumed, 4, tmp_path / "resumed", ckpt_path=ckpt)

    assert trainer.global_step == 4 and len(resumed.history) == 4
    assert resumed.history == whole.history
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    start = dict(build().named_parameters())[parameter]
    assert not torch.equal(dict(whole.named_parameters())[parameter], start)  # the outer loop moved it


def test_activation_module_logs_the_real_clipped_norm(tmp_path, one_torch_thread):
    model = act_module()
    fit(model, 2, tmp_path)
    for record in model.history:
        assert 0 < record["meta/grad_norm"] <= record["meta/grad_norm_raw"]
        assert record["meta/grad_norm"] <= 0.1 * (301 ** 0.5) * 1.0001  # every element clipped to 0.1
        assert 0 <= record["meta/test_acc"] <= 100


def test_learned_activation_loads_from_a_checkpoint_or_a_state_dict(tmp_path):
    model = act_module()
    with torch.no_grad():
        for p in model.activation.parameters():
            p.add_(0.5)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu")
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "meta.ckpt")
    torch.save(model.activation.state_dict(), tmp_path / "g.pt")
    x = torch.linspace(-5, 5, 101).reshape(1, 101)
    expected = model.activation(x)
    for path in (tmp_path / "meta.ckpt", tmp_path / "g.pt"):
        loaded = LearnedActivation(hidden_size=5, weights=path)
        torch.testing.assert_close(loaded(x), expected, rtol=0, atol=0)
    assert not torch.allclose(LearnedActivation(hidden_size=5)(x), expected)
    # without a generator the function is deterministic and elementwise, as a network's activation must be
    assert torch.equal(loaded(x), loaded(x)) and loaded(x).shape == x.shape
    torch.testing.assert_close(loaded(x[:, 40:41]), loaded(x)[:, 40:41])
    with pytest.raises(FileNotFoundError, match="weights="):
        LearnedActivation(weights=tmp_path / "missing.pt")


def test_learned_activation_starts_as_elu_plus_a_small_bump():
    act = LearnedActivation()
    assert sum(p.numel() for p in act.parameters()) == 301
    x = torch.linspace(-5, 5, 201)
    assert (act(x) - F.elu(x)).abs().max() < 0.2


def test_piecewise_fit_recovers_a_piecewise_linear_function_and_the_reference_fit_has_its_values():
    reference = reference_piecewise()
    refit = fit_piecewise_linear(reference)
    torch.testing.assert_close(refit.slopes, reference.slopes, rtol=0, atol=1e-4)
    torch.testing.assert_close(refit.intercepts, reference.intercepts, rtol=0, atol=1e-4)
    x = torch.tensor([-3.0, -1.5, -0.5, 0.0, 0.3, 2.0])
    expected = torch.tensor([0.15 * -3 + 0.9, -0.25 * -1.5 + 0.1, -1.2 * -0.5 - 0.85, -0.75, 0.2 * 0.3 - 0.85,
                             1.2 * 2 - 1.4])
    torch.testing.assert_close(reference(x), expected)
    with pytest.raises(ValueError, match="breakpoints"):
        PiecewiseLinear([1.0, 0.0], [1, 1, 1], [0, 0, 0])


def metrics(folder):
    with open(folder / "version_0" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_learning_rate_config_runs_two_outer_steps_through_the_cli(tmp_path, cli_main):
    assert cli_main("fit", "--config", str(ROOT / "configs/metalearn_lr.yaml"), "--trainer.max_steps", "2",
                    cwd=tmp_path) == 0
    rows = metrics(tmp_path / "lightning_logs" / "metalearn_lr")
    assert float(rows[0]["meta/lr"]) == 1.5
    assert len(rows) == 2 and float(rows[1]["meta/lr"]) == pytest.approx(float(rows[0]["meta/lr_next"]))
    assert float(rows[1]["meta/lr"]) < 1.5  # from 1.5 the rate comes down (the paper's trajectory)


def test_activation_config_runs_two_outer_steps_through_the_cli(tmp_path, cli_main):
    small = ["--model.init_args.inner_steps", "12", "--model.init_args.meta_window", "8"]
    assert cli_main("fit", "--config", str(ROOT / "configs/metalearn_activation.yaml"), "--trainer.max_steps", "2",
                    *small, cwd=tmp_path) == 0
    rows = metrics(tmp_path / "lightning_logs" / "metalearn_activation")
    assert len(rows) == 2 and all(float(r["meta/grad_norm"]) > 0 for r in rows)
    last = tmp_path / "lightning_logs" / "metalearn_activation" / "version_0" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    LearnedActivation(weights=last)
