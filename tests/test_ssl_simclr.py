"""The SimCLR module: its layers, its probes' isolation, checkpoints and the offline evaluation."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_modules.data import MNIST1DDataModule
from lightning_modules.nets import ConvStack
from lightning_modules.ssl import SimCLR, linear_probe_accuracy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("projector, names, sizes", [
    ([125, 16], ["input", "conv1", "conv2", "conv3", "projector_hidden1", "projector_output"],
     [40, 475, 250, 125, 125, 16]),
    ([], ["input", "conv1", "conv2", "conv3"], [40, 475, 250, 125]),
    ([125, 125, 125, 16], ["input", "conv1", "conv2", "conv3", "projector_hidden1", "projector_hidden2",
                           "projector_hidden3", "projector_output"], [40, 475, 250, 125, 125, 125, 125, 16]),
])
def test_layers_probes_and_embedding(projector, names, sizes):
    model = SimCLR(projector_dims=projector)
    x = torch.randn(7, 40)
    features = model.layer_features(x)
    assert model.layer_names == names
    assert [f.shape[1] for f in features] == sizes
    assert [h.in_features for h in model.probes.heads] == sizes
    torch.testing.assert_close(model(x), features[-1])


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_probes_do_not_change_backbone_gradients():
    torch.manual_seed(0)
    model = SimCLR()
    x, y = torch.randn(32, 40), torch.randint(0, 10, (32,))

    model.augment_seed = 3

    def backbone_gradients(with_probes: bool) -> list[torch.Tensor]:
        model.zero_grad()
        if with_probes:
            loss = model.training_step((x, y), 0)
        else:
            loss = model.contrastive_loss(x, model.view_generator(0, "cpu"))
        loss.backward()
        return [p.grad.clone() for p in [*model.backbone.parameters(), *model.projector.parameters()]]

    with_probes = backbone_gradients(True)
    assert all(head.weight.grad.abs().sum() > 0 for head in model.probes.heads)
    for a, b in zip(with_probes, backbone_gradients(False)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, field", [({"loss": "triplet"}, "loss"), ({"projector_dims": [0]}, "projector_dims"),
                                           ({"temperature": 0.0}, "temperature"),
                                           ({"probe_max_iter": 0}, "probe_max_iter")])
def test_bad_settings_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SimCLR(**kwargs)


def test_checkpoint_restores_probes_and_test_runs_the_layerwise_evaluation(tmp_path):
    L.seed_everything(0, verbose=False)
    model = SimCLR(evaluate_at_fit_end=False)
    initial = {k: v.clone() for k, v in model.probes.state_dict().items()}
    data = MNIST1DDataModule(batch_size=50, train_subset=200, ordered=False)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, callbacks=[checkpoint],
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(model, data)
    restored = SimCLR.load_from_checkpoint(tmp_path / "last.ckpt")
    for key, value in model.probes.state_dict().items():
        assert not torch.equal(value, initial[key])              # the probes did train
        torch.testing.assert_close(restored.probes.state_dict()[key], value, rtol=0, atol=0)

    results = trainer.test(restored, data, verbose=False)[0]
    assert set(results) >= {f"test/linear_acc/{n}" for n in restored.layer_names} | {
        "test/knn_acc/projector_output", *(f"test/probe_acc/{n}" for n in restored.layer_names)}
    assert results["test/linear_acc/input"] == pytest.approx(restored.layerwise_results["input"]["linear"])
    assert results["test/dead_fraction/conv1"] == pytest.approx(restored.layerwise_results["conv1"]["dead"])
    assert 0.2 < results["test/linear_acc/input"] < 0.4 and results["test/linear_acc/conv1"] > 0.3


class TwoLayerMLP(torch.nn.Module):
    """A backbone that is not a ConvStack: 40 -> 30 -> 20 with ReLUs, both layers probed."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = torch.nn.Linear(40, 30), torch.nn.Linear(30, 20)

    def feature_maps(self, x):
        h = torch.relu(self.first(x))
        return [h, torch.relu(self.second(h))]

    def forward(self, x):
        return self.feature_maps(x)[-1]


@pytest.mark.parametrize("backbone, names, sizes", [
    (ConvStack(channels=8), ["input", "conv1", "conv2", "conv3", "projector_hidden1", "projector_output"],
     [40, 152, 80, 40, 125, 16]),
    (TwoLayerMLP(), ["input", "backbone1", "backbone2", "projector_hidden1", "projector_output"],
     [40, 30, 20, 125, 16]),
    (torch.nn.Linear(40, 12), ["input", "backbone", "projector_hidden1", "projector_output"], [40, 12, 125, 16]),
])
def test_the_backbone_is_an_argument(backbone, names, sizes):
    model = SimCLR(backbone)
    assert model.backbone is backbone and model.layer_names == names
    assert [f.shape[1] for f in model.layer_features(torch.randn(3, 40))] == sizes
    assert [h.in_features for h in model.probes.heads] == sizes


def test_the_cli_picks_the_backbone_by_class_path():
    from pathlib import Path

    from lightning_modules.cli import build_cli

    config = Path(__file__).resolve().parents[1] / "configs" / "simclr.yaml"
    threads = torch.get_num_threads()
    try:
        default = build_cli(["--config", str(config)], run=False)
        custom = build_cli(["--config", str(config), "--model.backbone", "lightning_modules.nets.ConvStack",
                            "--model.backbone.channels", "8"], run=False)
    finally:
        torch.set_num_threads(threads)
    assert isinstance(default.model.backbone, ConvStack) and default.model.backbone.blocks[0][0].out_channels == 25
    assert isinstance(custom.model.backbone, ConvStack) and custom.model.backbone.blocks[0][0].out_channels == 8


def test_validation_logs_the_share_of_dead_units_per_layer():
    L.seed_everything(0, verbose=False)
    model = SimCLR(evaluate_at_fit_end=False)
    with torch.no_grad():
        model.backbone.blocks[0][0].bias[:5] = -100.0  # 5 of 25 conv1 channels can never fire
    data = MNIST1DDataModule(batch_size=50, train_subset=300)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    logged = trainer.validate(model, data, verbose=False)[0]
    features = model.features(data.split("train")[0])
    assert {k for k in logged if "dead" in k} == {f"val/dead_fraction/{n}" for n in model.layer_names[1:]}
    for name in model.layer_names[1:]:
        dead = (features[name] == 0).all(dim=0).double().mean().item()
        assert logged[f"val/dead_fraction/{name}"] == pytest.approx(dead, abs=1e-7), name
    assert logged["val/dead_fraction/conv1"] >= 5 / 25 and logged["val/dead_fraction/projector_output"] == 0.0
    offline = model.evaluate_layers(*data.split("train"), *data.split("test"))
    assert offline["conv1"]["dead"] == pytest.approx(logged["val/dead_fraction/conv1"], abs=1e-7)
    model.hparams.probe_max_iter = 2
    short = model.evaluate_layers(*data.split("train"), *data.split("test"))
    assert short["input"]["linear"] == linear_probe_accuracy(*data.split("train"), *data.split("test"), max_iter=2)
