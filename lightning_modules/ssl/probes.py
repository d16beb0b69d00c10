"""Linear read-outs of frozen features, layer by layer: how much label information each layer exposes linearly.

``OnlineProbes`` train during self-supervised training on detached features (cheap, logged every epoch, part of
the module's state). The offline evaluation, ``evaluate_layers``, gives the paper's numbers: multinomial logistic
regression on standardized features fitted to convergence with full-batch LBFGS (sklearn's default objective,
C = 1), a cosine kNN vote, and each layer's share of dead units. ``SimCLR`` and the studies both call it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class OnlineProbes(nn.Module):
    """One linear classifier per layer. Inputs are detached, so no gradient ever reaches the features' network."""

    def __init__(self, feature_sizes: Sequence[int], num_classes: int = 10) -> None:
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(size, num_classes) for size in feature_sizes)

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(features) != len(self.heads):
            raise ValueError(f"got {len(features)} feature tensors for {len(self.heads)} probes")
        return [head(f.detach()) for head, f in zip(self.heads, features)]

    def loss(self, features: Sequence[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """Sum of the probes' cross-entropies (the probes are independent, so their gradients do not mix)."""
        return sum(F.cross_entropy(logits, labels) for logits in self(features))


def standardize(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale both sets with the training set's per-feature mean and std (constant features keep scale 1)."""
    mean = train.mean(dim=0)
    std = train.std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (train - mean) / std, (test - mean) / std


def fit_logistic_regression(x: torch.Tensor, y: torch.Tensor, num_classes: int, inverse_l2: float = 1.0,
                            max_iter: int = 500, tolerance: float = 1e-7) -> nn.Linear:
    """Minimize ``mean CE + ||W||^2 / (2 * inverse_l2 * N)`` (sklearn's objective; the bias is not penalized)."""
    if inverse_l2 <= 0:
        raise ValueError(f"inverse_l2={inverse_l2}: expected > 0")
    # the test loop runs under inference mode: leave it, and copy the inputs out of it, to fit with autograd
    with torch.inference_mode(False), torch.enable_grad():
        x, y = x.detach().double().clone(), y.detach().clone()
        linear = nn.Linear(x.shape[1], num_classes, dtype=torch.float64, device=x.device)
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
        penalty = 1.0 / (2.0 * inverse_l2 * x.shape[0])
        optimizer = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                                      tolerance_grad=tolerance, tolerance_change=1e-12,
                                      line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(linear(x), y) + penalty * linear.weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    return linear


@torch.no_grad()
def linear_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                          test_y: torch.Tensor, num_classes: int = 10, inverse_l2: float = 1.0,
                          max_iter: int = 500) -> float:
    """Test accuracy of logistic regression fitted on the standardized training features."""
    train_x, test_x = standardize(train_x.double(), test_x.double())
    linear = fit_logistic_regression(train_x, train_y, num_classes, inverse_l2, max_iter)
    return (linear(test_x).argmax(dim=1) == test_y).double().mean().item()


@torch.no_grad()
def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 k: int = 10, num_classes: int = 10) -> float:
    """Test accuracy of a majority vote among the ``k`` most cosine-similar training rows (ties: lowest label)."""
    if not 1 <= k <= train_x.shape[0]:
        raise ValueError(f"k={k}: expected 1 <= k <= {train_x.shape[0]} (the number of training rows)")
    similarity = F.normalize(test_x.double(), dim=1) @ F.normalize(train_x.double(), dim=1).T
    neighbours = similarity.topk(k, dim=1).indices
    votes = torch.zeros(test_x.shape[0], num_classes, device=test_x.device)
    votes.scatter_add_(1, train_y[neighbours], torch.ones_like(neighbours, dtype=votes.dtype))
    return (votes.argmax(dim=1) == test_y).double().mean().item()


@torch.no_grad()
def dead_fraction(features: torch.Tensor) -> float:
    """The share of features (columns of (N, F)) that are exactly 0 for every row: dead ReLU units on that data."""
    if features.dim() != 2 or features.shape[0] == 0:
        raise ValueError(f"features have shape {tuple(features.shape)}: expected (examples >= 1, features)")
    return (features != 0).any(dim=0).logical_not().double().mean().item()


FeatureFn = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


@torch.no_grad()
def evaluate_layers(feature_fn: FeatureFn, train: tuple[torch.Tensor, torch.Tensor],
                    test: tuple[torch.Tensor, torch.Tensor], num_classes: int = 10, knn_k: int = 10,
                    knn_layers: Sequence[str] | None = None, max_iter: int = 500) -> dict[str, dict[str, float]]:
    """The offline layer-wise evaluation of a frozen network, in the order ``feature_fn`` names its layers.

    ``feature_fn(x)`` maps signals (N, L) to ``{layer name: (N, features)}``; ``train`` and ``test`` are
    (signals, labels). Per layer: ``linear``, the test accuracy of logistic regression fitted on the standardized
    training features; ``dead``, the share of units that output 0 for every training example; and ``knn``, the
    cosine kNN test accuracy, on ``knn_layers`` (default: the last layer only, the embedding). ``max_iter``
    caps each probe's LBFGS iterations: fewer gives a quicker, less converged probe.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    train_features, test_features = feature_fn(x_train), feature_fn(x_test)
    if list(train_features) != list(test_features) or not train_features:
        raise ValueError(f"feature_fn gave layers {list(train_features)} and {list(test_features)}: expected the "
                         "same non-empty layers for both splits")
    knn_layers = list(train_features)[-1:] if knn_layers is None else list(knn_layers)
    unknown = [name for name in knn_layers if name not in train_features]
    if unknown:
        raise ValueError(f"knn_layers={unknown} are not layers of feature_fn: allowed {list(train_features)}")
    results = {}
    for name, a in train_features.items():
        b = test_features[name]
        results[name] = {"linear": linear_probe_accuracy(a, y_train, b, y_test, num_classes, max_iter=max_iter),
                         "dead": dead_fraction(a)}
        if name in knn_layers:
            results[name]["knn"] = knn_accuracy(a, y_train, b, y_test, knn_k, num_classes)
    return results


def format_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """The layer-wise results of ``evaluate_layers`` as a small Markdown table (percent)."""
    lines = ["| layer | linear % | kNN % | dead units % |", "|---|---|---|---|"]
    for i, (name, r) in enumerate(results.items()):
        knn = f"{100 * r['knn']:.1f}" if "knn" in r else ""
        dead = f"{100 * r['dead']:.1f}" if "dead" in r else ""
        lines.append(f"| {i} {name} | {100 * r['linear']:.1f} | {knn} | {dead} |")
    return "\n".join(lines)
