"""Activation functions for the metalearning study: the learned one, the six baselines and piecewise-linear fits.

``LearnedActivation`` is ``f(x) = elu(x) + scale * g(x)`` with ``g`` a 1 -> hidden -> 1 tanh MLP applied to every
element. During metatraining ``g``'s hidden layer gets uniform noise (drawn from a given generator); called with
one argument, as any network calls an activation, it is deterministic (the noise's mean, zero).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .reference import REFERENCE_BREAKPOINTS, REFERENCE_PIECES

BASELINES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "swish": lambda x: x * torch.sigmoid(x), "elu": F.elu, "softplus": F.softplus,
    "tanh": torch.tanh, "sigmoid": torch.sigmoid,
}


def uniform_noise(shape: tuple[int, ...], scale: float, generator: torch.Generator,
                  device: torch.device | None = None) -> torch.Tensor:
    """``scale * U(-1, 1)`` computed as the reference does, ``scale * (2 * rand - 1)``, from ``generator``."""
    return scale * (2 * torch.rand(shape, generator=generator, device=device) - 1)


class LearnedActivation(nn.Module):
    """``f(x) = elu(x) + scale * g(x)``, ``g`` a 1 -> ``hidden_size`` -> 1 tanh MLP (301 parameters by default).

    Args:
        hidden_size: width of ``g``.
        scale: weight of ``g`` against elu (0.2 in the paper).
        noise: half-width of the uniform noise added to ``g``'s hidden layer when a generator is passed.
        init_seed: ``g`` is PyTorch's Linear default init after ``torch.manual_seed(init_seed)`` (the run's
            global random stream is left untouched).
        weights: a file to load the weights from: a state dict saved with ``torch.save(module.state_dict())``
            or a ``MetaActivation`` checkpoint (``lightning_logs/.../*.ckpt``).
        trainable: False freezes ``g`` (no gradients, so no optimizer moves it): the learned function used as a
            fixed activation in another network, as the paper transferred it.
    """

    draws_noise = True  # forward takes a generator to draw its hidden noise from

    def __init__(self, hidden_size: int = 100, scale: float = 0.2, noise: float = 0.1, init_seed: int = 0,
                 weights: str | Path | None = None, trainable: bool = True) -> None:
        super().__init__()
        if hidden_size < 1:
            raise ValueError(f"hidden_size={hidden_size!r} is invalid: allowed an integer >= 1")
        self.hidden_size, self.scale, self.noise = hidden_size, scale, noise
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            self.fc1, self.fc2 = nn.Linear(1, hidden_size), nn.Linear(hidden_size, 1)
        if weights is not None:
            self.load_state_dict(load_activation_weights(weights))
        self.requires_grad_(trainable)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h = torch.tanh(self.fc1(x.reshape(-1, 1)))
        if generator is not None and self.noise:
            h = h + uniform_noise((1, self.hidden_size), self.noise, generator, x.device)
        return F.elu(x) + self.scale * self.fc2(h).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"elu(x) + {self.scale} * g(x), g: 1 -> {self.hidden_size} -> 1 tanh, noise {self.noise}"


def load_activation_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """``g``'s weights from a saved state dict or from a checkpoint whose model holds it as ``activation``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights={str(path)!r}: no such file (a saved state dict or a checkpoint)")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in saved:  # a Lightning checkpoint
        prefix = "activation."
        state = {k[len(prefix):]: v for k, v in saved["state_dict"].items() if k.startswith(prefix)}
        if not state:
            raise ValueError(f"weights={str(path)!r}: the checkpoint holds no 'activation.*' weights "
                             "(expected a MetaActivation checkpoint)")
        return state
    return saved


class PiecewiseLinear(nn.Module):
    """A piecewise-linear function: ``slopes[i] * x + intercepts[i]`` on the ``i``-th interval between the sorted
    ``breakpoints`` (pieces need not join, as in the reference's hand fit)."""

    def __init__(self, breakpoints: Sequence[float], slopes: Sequence[float], intercepts: Sequence[float]) -> None:
        super().__init__()
        if list(breakpoints) != sorted(breakpoints):
            raise ValueError(f"breakpoints={list(breakpoints)!r} is invalid: allowed an increasing sequence")
        if not len(slopes) == len(intercepts) == len(breakpoints) + 1:
            raise ValueError(f"slopes and intercepts have {len(slopes)} and {len(intercepts)} entries: "
                             f"allowed one per piece, {len(breakpoints) + 1}")
        self.register_buffer("breakpoints", torch.tensor(breakpoints, dtype=torch.float32))
        self.register_buffer("slopes", torch.tensor(slopes, dtype=torch.float32))
        self.register_buffer("intercepts", torch.tensor(intercepts, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        piece = torch.bucketize(x, self.breakpoints.to(x.dtype), right=True)
        return self.slopes.to(x.dtype)[piece] * x + self.intercepts.to(x.dtype)[piece]

    def extra_repr(self) -> str:
        return f"breakpoints={[round(b, 4) for b in self.breakpoints.tolist()]}"


def reference_piecewise() -> PiecewiseLinear:
    """The reference's hand-fitted approximation of its learned activation."""
    slopes, intercepts = zip(*REFERENCE_PIECES)
    return PiecewiseLinear(REFERENCE_BREAKPOINTS, slopes, intercepts)


@torch.no_grad()
def fit_piecewise_linear(fn: Callable[[torch.Tensor], torch.Tensor], breakpoints: Sequence[float] =
                         REFERENCE_BREAKPOINTS, low: float = -5.0, high: float = 5.0,
                         points: int = 10_001) -> PiecewiseLinear:
    """Least-squares line on each piece of ``fn`` sampled on a uniform grid over ``[low, high]``."""
    x32 = torch.linspace(low, high, points)
    piece = torch.bucketize(x32, torch.tensor(breakpoints, dtype=torch.float32), right=True)  # as forward does
    x, y = x32.double(), fn(x32).double()
    slopes, intercepts = [], []
    for i in range(len(breakpoints) + 1):
        xs, ys = x[piece == i], y[piece == i]
        if len(xs) < 2:
            raise ValueError(f"piece {i} of breakpoints={list(breakpoints)!r} holds {len(xs)} grid points in "
                             f"[{low}, {high}]: allowed breakpoints that leave at least 2")
        design = torch.stack([xs, torch.ones_like(xs)], dim=1)
        slope, intercept = torch.linalg.lstsq(design, ys.unsqueeze(1)).solution.squeeze(1).tolist()
        slopes.append(slope)
        intercepts.append(intercept)
    return PiecewiseLinear(breakpoints, slopes, intercepts)
