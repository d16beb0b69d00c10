"""Layer probes: online heads stay off the features' graph; offline logistic regression and kNN are exact."""

import pytest
import torch
import torch.nn.functional as F

from lightning_modules.ssl.probes import (OnlineProbes, dead_fraction, evaluate_layers, fit_logistic_regression,
                                          knn_accuracy, linear_probe_accuracy, standardize)
from mnist1d_hf import generate, variant_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_online_probes_never_send_gradient_into_their_features():
    features = [torch.randn(6, 5, requires_grad=True), torch.randn(6, 3, requires_grad=True)]
    probes = OnlineProbes([5, 3], num_classes=4)
    probes.loss(features, torch.tensor([0, 1, 2, 3, 0, 1])).backward()
    assert all(f.grad is None for f in features)
    assert all(head.weight.grad.abs().sum() > 0 for head in probes.heads)
    with pytest.raises(ValueError, match="2 probes"):
        probes([features[0]])


def test_standardize_uses_training_statistics_only():
    train, test = torch.randn(50, 3) * 4 + 2, torch.randn(20, 3)
    train[:, 2] = 7.0
    a, b = standardize(train, test)
    torch.testing.assert_close(a[:, :2].mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(a[:, :2].std(0, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
    assert torch.all(a[:, 2] == 0) and torch.isfinite(b).all()
    torch.testing.assert_close(b[:, 0], (test[:, 0] - train[:, 0].mean()) / train[:, 0].std(unbiased=False))


def test_logistic_regression_reaches_the_optimum_of_its_objective():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 6, generator=generator, dtype=torch.float64)
    y = (x[:, :3] + 0.5 * torch.randn(300, 3, generator=generator, dtype=torch.float64)).argmax(1)
    linear = fit_logistic_regression(x, y, num_classes=3, inverse_l2=1.0)
    weight = linear.weight.detach().clone().requires_grad_()
    bias = linear.bias.detach().clone().requires_grad_()
    objective = F.cross_entropy(x @ weight.T + bias, y) + weight.square().sum() / (2 * 300)
    objective.backward()
    assert weight.grad.abs().max() < 1e-6 and bias.grad.abs().max() < 1e-6
    stronger = fit_logistic_regression(x, y, num_classes=3, inverse_l2=0.01)
    assert stronger.weight.norm() < 0.5 * linear.weight.norm()      # the penalty is applied
    with pytest.raises(ValueError, match="inverse_l2"):
        fit_logistic_regression(x, y, 3, inverse_l2=0.0)


def test_linear_accuracy_on_raw_mnist1d_is_the_papers_32_8_percent():
    data = generate(variant_config("standard"))
    accuracy = linear_probe_accuracy(torch.tensor(data.x_train), torch.tensor(data.y_train),
                                     torch.tensor(data.x_test), torch.tensor(data.y_test))
    assert accuracy == pytest.approx(0.328, abs=0.005)


def test_knn_matches_a_direct_vote():
    generator = torch.Generator().manual_seed(1)
    train, test = torch.randn(60, 4, generator=generator), torch.randn(25, 4, generator=generator)
    train_y, test_y = torch.randint(0, 3, (60,), generator=generator), torch.randint(0, 3, (25,), generator=generator)
    correct = 0
    for row, label in zip(test, test_y):
        similarity = [F.cosine_similarity(row, other, dim=0).item() for other in train]
        nearest = sorted(range(60), key=lambda j: -similarity[j])[:5]
        counts = [sum(train_y[j].item() == c for j in nearest) for c in range(3)]
        correct += counts.index(max(counts)) == label.item()
    assert knn_accuracy(train, train_y, test, test_y, k=5, num_classes=3) == pytest.approx(correct / 25)
    assert knn_accuracy(train, train_y, train, train_y, k=1, num_classes=3) == 1.0
    with pytest.raises(ValueError, match="k=61"):
        knn_accuracy(train, train_y, test, test_y, k=61)


def test_dead_fraction_counts_units_zero_on_every_example():
    features = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    assert dead_fraction(features) == 0.5  # columns 0 and 2
    assert dead_fraction(torch.relu(-torch.ones(5, 3))) == 1.0
    with pytest.raises(ValueError, match="expected"):
        dead_fraction(torch.zeros(4))


def test_evaluate_layers_reports_every_layer_in_order_with_knn_on_the_last():
    generator = torch.Generator().manual_seed(2)
    x_train, x_test = torch.randn(120, 6, generator=generator), torch.randn(40, 6, generator=generator)
    y_train, y_test = (x_train[:, :3].argmax(1), x_test[:, :3].argmax(1))

    def feature_fn(x):
        return {"raw": x, "half_dead": torch.relu(torch.cat([x[:, :3], -x[:, :3].abs()], dim=1))}

    results = evaluate_layers(feature_fn, (x_train, y_train), (x_test, y_test), num_classes=3, knn_k=5)
    assert list(results) == ["raw", "half_dead"]
    assert results["raw"]["linear"] == linear_probe_accuracy(x_train, y_train, x_test, y_test, 3)
    assert results["raw"]["dead"] == 0.0 and results["half_dead"]["dead"] == 0.5
    assert "knn" not in results["raw"]
    assert results["half_dead"]["knn"] == knn_accuracy(feature_fn(x_train)["half_dead"], y_train,
                                                       feature_fn(x_test)["half_dead"], y_test, 5, 3)
    both = evaluate_layers(feature_fn, (x_train, y_train), (x_test, y_test), 3, 5, knn_layers=["raw", "half_dead"])
    assert both["raw"]["knn"] == knn_accuracy(x_train, y_train, x_test, y_test, 5, 3)
    with pytest.raises(ValueError, match=r"knn_layers=\['conv9'\]"):
        evaluate_layers(feature_fn, (x_train, y_train), (x_test, y_test), 3, 5, knn_layers=["conv9"])


def test_max_iter_reaches_every_probe():
    data = generate(variant_config("standard"))
    x_train, y_train = torch.tensor(data.x_train[:500]), torch.tensor(data.y_train[:500])
    x_test, y_test = torch.tensor(data.x_test), torch.tensor(data.y_test)
    short = evaluate_layers(lambda x: {"raw": x}, (x_train, y_train), (x_test, y_test), max_iter=2)
    assert short["raw"]["linear"] == linear_probe_accuracy(x_train, y_train, x_test, y_test, max_iter=2)
    assert short["raw"]["linear"] != linear_probe_accuracy(x_train, y_train, x_test, y_test)  # not converged
