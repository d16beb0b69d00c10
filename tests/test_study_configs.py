"""The study configs (double descent, pooling) build the study's networks, optimizers and datasets exactly."""

import csv
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lightning_modules import Classifier
from lightning_modules.cli import build_cli
from lightning_modules.nets import SharedActivation
from mnist1d_hf import variant_config

ROOT = Path(__file__).resolve().parents[1]
NET = "--model.init_args.net.init_args."


def build(config: str, *extra: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    threads = torch.get_num_threads()
    try:
        cli = build_cli(["--config", str(ROOT / "configs" / config), *extra], run=False)
        assert torch.get_num_threads() == 1  # the configs' torch_threads
    finally:
        torch.set_num_threads(threads)
    return cli


def dataset(cli):
    hp = cli.datamodule.hparams
    return variant_config(hp.variant, **(hp.overrides or {}))


@pytest.mark.parametrize("config, extra, params", [
    ("double_descent_mlp.yaml", [], 47 ** 2 + 52 * 47 + 10),
    ("double_descent_mlp.yaml", [NET + "hidden_size", "2"], 2 ** 2 + 52 * 2 + 10),
    ("double_descent_mlp.yaml", [NET + "hidden_size", "600"], 600 ** 2 + 52 * 600 + 10),
    ("double_descent_cnn.yaml", [], 6 * 20 ** 2 + 58 * 20 + 10),
    ("double_descent_cnn.yaml", [NET + "channels", "100"], 6 * 100 ** 2 + 58 * 100 + 10),
])
def test_double_descent_configs(config, extra, params, monkeypatch):
    cli = build(config, *extra, monkeypatch=monkeypatch)
    net = cli.model.net
    assert isinstance(cli.model, Classifier) and cli.model.loss == "cross_entropy"
    assert sum(p.numel() for p in net.parameters()) == params
    assert getattr(net, "is_residual", False) is False
    optimizer = cli.model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.01 and optimizer.defaults["momentum"] == 0.9
    assert optimizer.defaults["weight_decay"] == 0
    data = dataset(cli)
    assert (data.num_train, data.num_test, data.label_noise, data.seed) == (4000, 12000, 0.15, 42)
    hp = cli.datamodule.hparams
    assert (hp.batch_size, hp.ordered, hp.validation, hp.eval_train) == (100, False, "test", True)
    trainer = cli.trainer
    assert trainer.max_steps == 20_000 and trainer.max_steps % trainer.val_check_interval == 0  # last step evaluated


def test_double_descent_clean_and_mse_variations(monkeypatch):
    cli = build("double_descent_mlp.yaml", "--data.overrides", "{label_noise: 0}", "--model.init_args.loss", "mse",
                monkeypatch=monkeypatch)
    data = dataset(cli)
    assert (data.num_train, data.num_test, data.label_noise) == (4000, 12000, 0.0)
    assert cli.model.loss == "mse"


@pytest.mark.parametrize("pooling, params", [("no_pool", 9_310), ("stride_2", 3_310), ("max_pool", 3_310),
                                             ("avg_pool", 3_310), ("l2_pool", 3_310)])
def test_pooling_config_nets(pooling, params, monkeypatch):
    cli = build("pooling.yaml", NET + "pooling", pooling, monkeypatch=monkeypatch)
    assert cli.model.net.pooling == pooling
    assert sum(p.numel() for p in cli.model.net.parameters()) == params
    optimizer = cli.model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 0.01
    hp = cli.datamodule.hparams
    assert (hp.batch_size, hp.ordered, hp.validation) == (100, True, "test")
    assert cli.trainer.max_steps == 6000 and cli.trainer.val_check_interval == 100
    data = dataset(cli)
    assert data == variant_config("large") and (data.num_train, data.num_test) == (50_000, 1_000)


def test_pooling_sizes_are_generator_configs_with_1000_test_examples(monkeypatch):
    cli = build("pooling.yaml", "--data.overrides", "{num_samples: 2000, train_split: 1000}", monkeypatch=monkeypatch)
    data = dataset(cli)
    assert (data.num_train, data.num_test, data.seed) == (1000, 1000, 42)
    for train_size in (1000, 2000, 5000, 10000, 20000, 50000):  # the header's table of overrides
        data = variant_config("large", num_samples=train_size + 1000, train_split=train_size)
        assert (data.num_train, data.num_test) == (train_size, 1000)
        paper_split = 1 - 1000 / data.num_samples  # the paper's fractional split gives the same sizes
        assert data.replace(train_split=paper_split).num_train == train_size


def test_activation_from_the_command_line(monkeypatch):
    cli = build("double_descent_cnn.yaml", NET + "activation", "elu", monkeypatch=monkeypatch)
    assert isinstance(cli.model.net.backbone.blocks[0][1], torch.nn.ELU)
    cli = build("double_descent_mlp.yaml", NET + "activation", "torch.nn.Tanh", monkeypatch=monkeypatch)
    assert isinstance(cli.model.net.activation, torch.nn.Tanh)
    cli = build("double_descent_mlp.yaml", NET + "activation", "{class_path: torch.nn.ELU, init_args: {alpha: 0.5}}",
                monkeypatch=monkeypatch)
    assert isinstance(cli.model.net.activation, torch.nn.ELU) and cli.model.net.activation.alpha == 0.5
    cli = build("pooling.yaml", NET + "activation", "torch.nn.PReLU", monkeypatch=monkeypatch)
    blocks = cli.model.net.backbone.blocks
    assert isinstance(cli.model.net.backbone.activation, torch.nn.PReLU)  # a learned activation, shared
    assert all(isinstance(block[1], SharedActivation) for block in blocks)
    assert sum(p.numel() for p in cli.model.net.parameters()) == 3_310 + 1


def test_shuffle_seed_orders_the_epochs_batches_and_nothing_else(monkeypatch):
    """``--data.shuffle_seed`` seeds the epoch's batch order (``ShuffledBatches``: seed * 1_000_003 + epoch); the
    data stay the generator's seed 42."""
    batches = {}
    for seed in (3, 4):
        cli = build("double_descent_mlp.yaml", "--data.shuffle_seed", str(seed), monkeypatch=monkeypatch)
        assert cli.datamodule.hparams.shuffle_seed == seed and dataset(cli).seed == 42
        cli.datamodule.setup("fit")
        x_train, _ = cli.datamodule.split("train")
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed * 1_000_003))
        batches[seed] = next(iter(cli.datamodule.train_dataloader()))[0]
        assert torch.equal(batches[seed], x_train[order[:100]])
    assert not torch.equal(batches[3], batches[4])


def test_the_renamed_options_work_through_cli_py(tmp_path, cli_main):
    assert cli_main("fit", "--config", str(ROOT / "configs" / "double_descent_mlp.yaml"), "--data.shuffle_seed", "3",
                    "--trainer.max_steps", "2", "--trainer.val_check_interval", "2", cwd=tmp_path) == 0
    assert cli_main("fit", "--config", str(ROOT / "configs" / "pooling.yaml"), NET + "pooling", "avg_pool",
                    "--data.overrides", "{num_samples: 2000, train_split: 1000}", "--trainer.max_steps", "2",
                    "--trainer.log_every_n_steps", "1", cwd=tmp_path) == 0
    logs = tmp_path / "lightning_logs"
    double_descent = yaml.safe_load((logs / "double_descent_mlp" / "version_0" / "config.yaml").read_text())
    assert double_descent["data"]["shuffle_seed"] == 3 and "seed" not in double_descent["data"]
    pooling = yaml.safe_load((logs / "pooling" / "version_0" / "config.yaml").read_text())
    assert pooling["model"]["init_args"]["net"]["init_args"]["pooling"] == "avg_pool"
    with open(logs / "pooling" / "version_0" / "metrics.csv") as f:
        assert sum(bool(row.get("train/loss")) for row in csv.DictReader(f)) == 2  # it trained two steps
