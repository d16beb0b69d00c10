"""The paper's networks as plain ``nn.Module``s: inputs (N, L) float signals, outputs (N, classes) logits.

Defaults give the exact Table 1 architectures and parameter counts (Logistic 410, MLP 15,210, CNN 5,210,
GRU 5,134). ``ConvStack`` is the CNN's convolutional part, shared with the self-supervised backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Logistic(nn.Module):
    """Multinomial logistic regression: one linear layer."""

    def __init__(self, input_size: int = 40, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """``h1 = relu(L1 x)``, then ``hidden_layers - 1`` residual blocks ``h = h + relu(L h)``, then a linear readout."""

    def __init__(self, input_size: int = 40, hidden_size: int = 100, hidden_layers: int = 2,
                 num_classes: int = 10) -> None:
        super().__init__()
        if hidden_layers < 1:
            raise ValueError(f"hidden_layers={hidden_layers}: expected at least 1")
        self.input = nn.Linear(input_size, hidden_size)
        self.residual = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(hidden_layers - 1))
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.input(x))
        for layer in self.residual:
            h = h + torch.relu(layer(h))
        return self.readout(h)


class ConvStack(nn.Module):
    """Conv1d + ReLU blocks over a (N, L) signal; ``forward`` returns the flattened last feature map."""

    def __init__(self, channels: int = 25, kernel_sizes: Sequence[int] = (5, 3, 3),
                 strides: Sequence[int] = (2, 2, 2), paddings: Sequence[int] = (1, 1, 1)) -> None:
        super().__init__()
        if not len(kernel_sizes) == len(strides) == len(paddings) >= 1:
            raise ValueError(f"kernel_sizes={list(kernel_sizes)}, strides={list(strides)} and "
                             f"paddings={list(paddings)} must be non-empty and of one length")
        in_channels = [1] + [channels] * (len(kernel_sizes) - 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c_in, channels, k, stride=s, padding=p), nn.ReLU())
            for c_in, k, s, p in zip(in_channels, kernel_sizes, strides, paddings))

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each block's output, flattened to (N, features): what layer-wise probes read."""
        h = x.unsqueeze(1) if x.dim() == 2 else x
        maps = []
        for block in self.blocks:
            h = block(h)
            maps.append(h.flatten(1))
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1) if x.dim() == 2 else x
        for block in self.blocks:
            h = block(h)
        return h.flatten(1)

    def output_size(self, input_size: int) -> int:
        """Length of the flattened features for inputs of ``input_size`` points (125 for the defaults)."""
        with torch.no_grad():
            return self(torch.zeros(1, input_size)).shape[1]


class CNN(nn.Module):
    """The paper's CNN: three strided conv layers (``ConvStack``) and a linear readout."""

    def __init__(self, input_size: int = 40, channels: int = 25, num_classes: int = 10,
                 kernel_sizes: Sequence[int] = (5, 3, 3), strides: Sequence[int] = (2, 2, 2),
                 paddings: Sequence[int] = (1, 1, 1)) -> None:
        super().__init__()
        self.backbone = ConvStack(channels, kernel_sizes, strides, paddings)
        self.readout = nn.Linear(self.backbone.output_size(input_size), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.backbone(x))


class GRU(nn.Module):
    """A GRU over the signal's points (h0 = 0); all time steps' outputs flattened into a linear readout."""

    def __init__(self, input_size: int = 40, hidden_size: int = 6, bidirectional: bool = True,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden_size, batch_first=True, bidirectional=bidirectional)
        directions = 2 if bidirectional else 1
        self.readout = nn.Linear(input_size * hidden_size * directions, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x.unsqueeze(-1))
        return self.readout(out.flatten(1))
