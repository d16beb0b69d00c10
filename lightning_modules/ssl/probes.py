"""Linear read-outs of frozen features, layer by layer: how much label information each layer exposes linearly.

``OnlineProbes`` train during self-supervised training on detached features (cheap, logged every epoch, part of
the module's state). The offline functions give the paper's numbers: multinomial logistic regression on
standardized features fitted to convergence with full-batch LBFGS (sklearn's default objective, C = 1), and a
cosine kNN vote.
"""

from __future__ import annotations

from collections.abc import Sequence

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
                          test_y: torch.Tensor, num_classes: int = 10, inverse_l2: float = 1.0) -> float:
    """Test accuracy of logistic regression fitted on the standardized training features."""
    train_x, test_x = standardize(train_x.double(), test_x.double())
    linear = fit_logistic_regression(train_x, train_y, num_classes, inverse_l2)
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
