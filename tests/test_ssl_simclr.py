"""The SimCLR module: its layers, its probes' isolation, checkpoints and the offline evaluation."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_modules.data import MNIST1DDataModule
from lightning_modules.ssl import SimCLR
from lightning_modules.ssl.simclr import rank_generator

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

    def backbone_gradients(with_probes: bool) -> list[torch.Tensor]:
        model.zero_grad()
        model.generator = rank_generator(0, 0)
        loss = model.training_step((x, y), 0) if with_probes else model.contrastive_loss(x)
        loss.backward()
        return [p.grad.clone() for p in [*model.backbone.parameters(), *model.projector.parameters()]]

    with_probes = backbone_gradients(True)
    assert all(head.weight.grad.abs().sum() > 0 for head in model.probes.heads)
    for a, b in zip(with_probes, backbone_gradients(False)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, field", [({"loss": "triplet"}, "loss"), ({"projector_dims": [0]}, "projector_dims"),
                                           ({"temperature": 0.0}, "temperature")])
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
    assert 0.2 < results["test/linear_acc/input"] < 0.4 and results["test/linear_acc/conv1"] > 0.3
