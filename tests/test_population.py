"""PopulationClassifier: member k is the single run with seed k, metrics per member, checkpoints, refusals, the CLI."""

import csv
import functools
import logging
import random
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from lightning_modules import Classifier, MNIST1DDataModule, PopulationClassifier
from lightning_modules.nets import CNN, GRU, MLP, Logistic
from lightning_modules.population import member_metrics, member_results, population_config

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
ROOT = Path(__file__).resolve().parents[1]
ADAM = functools.partial(torch.optim.Adam, lr=1e-2)
SGD_MOMENTUM = functools.partial(torch.optim.SGD, lr=1e-2, momentum=0.9)
SEEDS = [3, 0]  # not 0..K-1, so that member k is tied to seeds[k], not to k


def tolerance(make_net, optimizer) -> float:
    """How far member k may drift from its single run. vmap batches the convolutions differently, so the CNN's
    gradients differ in the last bits; Adam divides each gradient by its running RMS, so where a weight's gradient
    is near zero (a unit off for most examples) such rounding differences become visible in a few steps. With SGD
    and momentum the CNN's differences stay small but depend on the CPU's kernels (1.6e-5 after 24 steps on AVX2,
    under 1e-5 on AVX512)."""
    if make_net is CNN:
        return 1e-3 if optimizer is ADAM else 5e-5
    return 1e-5


def trainer(steps: int, **kwargs) -> L.Trainer:
    options = dict(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                   check_val_every_n_epoch=None, val_check_interval=steps)
    return L.Trainer(**(options | kwargs))


def data() -> MNIST1DDataModule:
    return MNIST1DDataModule(train_subset=400, eval_train=True)


def single_run(make_net, seed: int, optimizer, steps: int) -> tuple[Classifier, dict]:
    """What ``cli.py fit`` does with ``seed_everything: seed``: seed, build the net, train."""
    L.seed_everything(seed, verbose=False)
    model = Classifier(make_net(), optimizer=optimizer)
    t = trainer(steps)
    t.fit(model, data())
    return model, dict(t.callback_metrics)


@pytest.mark.parametrize("optimizer", [ADAM, SGD_MOMENTUM], ids=["adam", "sgd_momentum"])
@pytest.mark.parametrize("make_net", [Logistic, MLP, CNN])
def test_member_k_follows_the_single_run_with_seed_k_and_logs_its_metrics(make_net, optimizer, one_torch_thread):
    steps = 24  # six passes over the 400 examples
    population = PopulationClassifier(make_net, seeds=SEEDS, optimizer=optimizer)
    t = trainer(steps)
    t.fit(population, data())
    logged = t.callback_metrics
    for k, seed in enumerate(SEEDS):
        single, metrics = single_run(make_net, seed, optimizer, steps)
        member = population.member_state_dict(k)
        for name, value in single.net.state_dict().items():
            torch.testing.assert_close(member[name], value, rtol=0, atol=tolerance(make_net, optimizer))
        for split in ("val", "train_eval"):
            assert logged[f"{split}/acc/member_{k}"].item() == pytest.approx(metrics[f"{split}/acc"].item(), abs=1e-6)
            assert logged[f"{split}/error/member_{k}"].item() == pytest.approx(metrics[f"{split}/error"].item(),
                                                                               abs=1e-6)
            assert logged[f"{split}/loss/member_{k}"].item() == pytest.approx(metrics[f"{split}/loss"].item(),
                                                                              rel=1e-4)
    for split in ("val", "train_eval"):
        members = torch.stack([logged[f"{split}/acc/member_{k}"] for k in range(len(SEEDS))])
        assert logged[f"{split}/acc"].item() == pytest.approx(members.mean().item())
        assert logged[f"{split}/acc_std"].item() == pytest.approx(members.std().item())


def test_a_population_of_one_is_the_classifier_exactly(one_torch_thread):
    population = PopulationClassifier(CNN, seeds=[5])
    trainer(20).fit(population, data())
    single, metrics = single_run(CNN, 5, None, 20)
    for name, value in single.net.state_dict().items():
        assert torch.equal(population.member_state_dict(0)[name], value)


def test_bound_network_runs_on_given_tensors_and_puts_the_networks_own_back():
    from torch.func import functional_call

    from lightning_modules.meta.activations import LearnedActivation
    from lightning_modules.population import BoundNetwork

    torch.manual_seed(0)
    net = CNN(activation=LearnedActivation(hidden_size=4))  # one module called by every block
    bound = BoundNetwork(net)
    own = dict(net.named_parameters())
    other = {name: torch.randn_like(value) for name, value in bound.tensors().items()}
    x = torch.randn(7, 40)
    assert torch.equal(bound(other, x), functional_call(net, other, (x,)))
    assert all(value is own[name] for name, value in net.named_parameters())  # the Parameters themselves
    with pytest.raises(RuntimeError):
        bound(other, torch.randn(7, 3))  # a failing call still restores
    assert all(value is own[name] for name, value in net.named_parameters())
    with pytest.raises(KeyError, match="expected exactly"):
        bound({name: value for name, value in other.items() if name != "readout.bias"}, x)


def test_member_k_starts_from_the_net_built_right_after_seed_everything_and_the_stream_is_left_alone():
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    before = random.random(), np.random.rand(), torch.rand(1)
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    population = PopulationClassifier(functools.partial(MLP, hidden_size=8), population=3)
    assert (random.random(), np.random.rand(), torch.rand(1)) == before
    for k in range(3):
        L.seed_everything(k, verbose=False)
        expected = MLP(hidden_size=8).state_dict()
        for name, value in population.member(k).state_dict().items():
            assert torch.equal(value, expected[name])
    assert population.stacked.input.weight.shape == (3, 8, 40)


def test_checkpoint_holds_the_stacked_state_and_a_member_loads_into_a_classifier(tmp_path, one_torch_thread):
    population = PopulationClassifier(MLP, population=2, optimizer=SGD_MOMENTUM)
    t = trainer(16, default_root_dir=tmp_path, enable_checkpointing=True)
    t.fit(population, data())
    tested = t.test(population, data(), verbose=False)[0]
    path = t.checkpoint_callback.best_model_path
    state = torch.load(path, weights_only=False)["state_dict"]
    assert state["stacked.readout.weight"].shape == (2, 10, 100)

    reloaded = PopulationClassifier.load_from_checkpoint(path, net=MLP)
    assert reloaded.seeds == [0, 1]
    for name, value in population.stacked.state_dict().items():
        assert torch.equal(reloaded.stacked.state_dict()[name], value)
    again = trainer(1).test(reloaded, data(), verbose=False)[0]
    assert again["test/acc/member_1"] == pytest.approx(tested["test/acc/member_1"])

    single = Classifier(reloaded.member(1))
    alone = trainer(1).test(single, data(), verbose=False)[0]
    assert alone["test/acc"] == pytest.approx(tested["test/acc/member_1"], abs=1e-6)
    assert alone["test/loss"] == pytest.approx(tested["test/loss/member_1"], rel=1e-5)
    into_classifier = Classifier(MLP())
    into_classifier.net.load_state_dict(reloaded.member_state_dict(1))
    assert torch.equal(into_classifier.net.readout.weight, single.net.readout.weight)


def test_options_that_couple_members_are_refused():
    with pytest.raises(ValueError, match=r"GRU.*vmap cannot batch.*separate runs"):
        PopulationClassifier(GRU, population=2)
    with pytest.raises(ValueError, match=r"optimizer=LBFGS is not elementwise.*allowed: \['SGD', 'Adam'"):
        PopulationClassifier(Logistic, population=2, optimizer=torch.optim.LBFGS).configure_optimizers()
    with pytest.raises(ValueError, match="gradient_clip_val=1.0 with gradient_clip_algorithm='norm'"):
        trainer(2, gradient_clip_val=1.0).fit(PopulationClassifier(Logistic, population=2), data())
    with pytest.raises(ValueError, match="start from identical parameters"):
        PopulationClassifier(functools.partial(MLP, init_seed=0), population=2)
    with pytest.raises(TypeError, match="pass what builds one"):
        PopulationClassifier(MLP(), population=2)
    with pytest.raises(ValueError, match=r"seeds=\[0, 1\] has 2 entries: expected population=3"):
        PopulationClassifier(MLP, population=3, seeds=[0, 1])


def test_value_clipping_is_elementwise_and_allowed(one_torch_thread):
    population = PopulationClassifier(Logistic, seeds=SEEDS)
    trainer(10, gradient_clip_val=0.01, gradient_clip_algorithm="value").fit(population, data())
    L.seed_everything(SEEDS[1], verbose=False)
    single = Classifier(Logistic())
    trainer(10, gradient_clip_val=0.01, gradient_clip_algorithm="value").fit(single, data())
    torch.testing.assert_close(population.member(1).linear.weight, single.net.linear.weight, rtol=0, atol=1e-6)


def test_population_config_and_member_metrics_give_each_seed_under_the_single_runs_names():
    import yaml

    config = yaml.safe_load((ROOT / "configs/cnn.yaml").read_text())
    merged = population_config(config, [4, 2])
    assert merged["model"]["class_path"] == "lightning_modules.PopulationClassifier"
    assert merged["model"]["init_args"]["seeds"] == [4, 2]
    assert merged["model"]["init_args"]["net"] == config["model"]["init_args"]["net"]
    assert merged["trainer"] == config["trainer"]
    gru = yaml.safe_load((ROOT / "configs/gru.yaml").read_text())
    with pytest.raises(ValueError, match="separate runs"):
        population_config(gru, [0, 1])

    row = {"step": 250, "val/acc": 0.5, "val/acc_std": 0.1, "val/acc/member_0": 0.4, "val/acc/member_1": 0.6,
           "val/loss/member_1": 1.5, "val/loss": 1.6, "val/loss_std": 0.1}
    assert member_metrics(row, 1) == {"step": 250, "val/acc": 0.6, "val/loss": 1.5}
    per_seed = member_results({"history": [row], "final": row}, [4, 2])
    assert per_seed[2] == {"history": [{"step": 250, "val/acc": 0.6, "val/loss": 1.5}],
                           "final": {"step": 250, "val/acc": 0.6, "val/loss": 1.5}}
    assert per_seed[4]["final"] == {"step": 250, "val/acc": 0.4}


def test_cli_trains_a_population_from_a_table1_config(tmp_path, cli_main):
    command = ["fit", "--config", str(ROOT / "configs/mlp.yaml"),
               "--config", str(ROOT / "configs/population_seeds.yaml"), "--model.init_args.population", "3",
               "--trainer.max_steps", "20", "--trainer.val_check_interval", "10", "--trainer.log_every_n_steps", "5",
               "--trainer.callbacks.init_args.every_n_train_steps", "10", "--trainer.enable_progress_bar", "false",
               "--trainer.logger.init_args.save_dir", str(tmp_path), "--data.train_subset", "500"]
    assert cli_main(*command, cwd=tmp_path) == 0
    run = tmp_path / "mlp" / "version_0"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    evaluated = [r for r in rows if r["val/acc"]]
    assert [int(r["step"]) for r in evaluated] == [9, 19]
    for row in evaluated:
        members = [float(row[f"val/acc/member_{k}"]) for k in range(3)]
        assert float(row["val/acc"]) == pytest.approx(np.mean(members), abs=1e-6)
        assert float(row["train_eval/error/member_2"]) == pytest.approx(1 - float(row["train_eval/acc/member_2"]),
                                                                        abs=1e-6)
    assert any(r["train/loss/member_0"] for r in rows)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["state_dict"]["stacked.input.weight"].shape == (3, 100, 40)
    assert checkpoint["hyper_parameters"]["seeds"] == [0, 1, 2]
