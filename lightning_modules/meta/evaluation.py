"""One inner run of the activation task with a fixed activation, read as the metalearning study reports it: the
inner losses, their mean, the test accuracy and the activation's curve."""

from __future__ import annotations

from typing import Any

import torch

from .inner import Activation, activation_inner_run, resolve_activation


@torch.no_grad()
def activation_curve(activation: str | Activation, low: float = -5.0, high: float = 5.0,
                     points: int = 201) -> dict[str, list[float]]:
    """The activation (deterministic: no hidden noise) on a uniform grid over ``[low, high]``."""
    grid = torch.linspace(low, high, points)
    return {"x": grid.tolist(), "y": resolve_activation(activation)(grid).tolist()}


def evaluate_activation(activation: str | Activation, x_train: torch.Tensor, y_train: torch.Tensor,
                        x_test: torch.Tensor, y_test: torch.Tensor, **inner: Any) -> dict[str, Any]:
    """``activation_inner_run`` with ``activation`` (``inner``: its hyperparameters): per-step losses, their mean
    and last value, test accuracy (%), and the activation's curve on [-5, 5]."""
    run = activation_inner_run(activation, x_train, y_train, x_test, y_test, **inner)
    losses = run.losses.detach()
    return {"losses": losses.tolist(), "mean_inner_loss": losses.mean().item(), "final_inner_loss": losses[-1].item(),
            "test_acc": run.test_acc, "curve": activation_curve(activation)}
