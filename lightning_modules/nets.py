"""The paper's networks as plain ``nn.Module``s: inputs (N, L) float signals, outputs (N, classes) logits.

Defaults give the exact Table 1 architectures and parameter counts (Logistic 410, MLP 15,210, CNN 5,210,
GRU 5,134). Options give the other studies' networks from the same classes: ``MLP(hidden_size=n,
residual=False)`` is the double-descent MLP (n^2 + 52n + 10 parameters), ``CNN(channels=c)`` the double-descent
CNN (6c^2 + 58c + 10), ``PoolingCNN(pooling=...)`` the pooling study's five nets, and every MLP or CNN takes an
``activation``. ``ConvStack`` is the CNN's convolutional part, shared with the self-supervised backbone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "swish": nn.SiLU, "silu": nn.SiLU, "elu": nn.ELU, "softplus": nn.Softplus,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
}
# The names of ACTIVATIONS as a type, so that LightningCLI matches "relu" as a name at once: typed as a plain
# ``str`` beside ``nn.Module``, every name is first searched for among all ``nn.Module`` subclasses as a class
# name, which was most of the time it took to build a Table 1 run from its config.
ActivationName = Literal["relu", "swish", "silu", "elu", "softplus", "tanh", "sigmoid", "gelu"]
POOLS = ("none", "max", "avg", "l2")
# the pooling study's five networks (paper Fig. 7) as options of one ConvStack: name -> (stride, pool)
POOLINGS: dict[str, tuple[int, str]] = {
    "no_pool": (1, "none"), "stride_2": (2, "none"), "max_pool": (1, "max"), "avg_pool": (1, "avg"),
    "l2_pool": (1, "l2"),
}


def activation_module(activation: ActivationName | nn.Module) -> nn.Module:
    """A fresh module for an activation name (one of ``ACTIVATIONS``), or the given module itself."""
    if isinstance(activation, nn.Module):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is invalid: allowed one of {list(ACTIVATIONS)} "
                         "or any nn.Module")
    return ACTIVATIONS[activation]()


@contextlib.contextmanager
def seeded_init(init_seed: int | None) -> Iterator[None]:
    """Build parameters from ``torch.manual_seed(init_seed)`` without touching the run's random stream.

    ``None`` leaves the init to the global generator (the run's seed), so seeds stay an honest axis.
    """
    if init_seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        yield


class SharedActivation(nn.Module):
    """Calls an activation registered once elsewhere, so a learned activation shared by several layers is one
    module: its parameters are stored, counted and trained once, not once per layer."""

    def __init__(self, target: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "target", target)  # a plain reference, not a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.target(x)

    def extra_repr(self) -> str:
        return f"{type(self.target).__name__}, shared"


def pool_module(pool: str, size: int) -> nn.Module:
    """The pooling layer after a conv block: max, average or L2 (``lp_pool1d`` with p=2) over ``size`` points."""
    if pool == "max":
        return nn.MaxPool1d(size)
    if pool == "avg":
        return nn.AvgPool1d(size)
    if pool == "l2":
        return nn.LPPool1d(2, size)
    raise ValueError(f"pool={pool!r} is invalid: allowed one of {list(POOLS)}")


class Logistic(nn.Module):
    """Multinomial logistic regression: one linear layer."""

    def __init__(self, input_size: int = 40, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """``h1 = f(L1 x)``, then ``hidden_layers - 1`` hidden layers, then a linear readout.

    Hidden layers are residual blocks ``h = h + f(L h)`` (the paper's Table 1 MLP, in ``self.residual``) or,
    with ``residual=False``, plain layers ``h = f(L h)`` (the double-descent MLP, in ``self.hidden``).
    ``f`` is ``activation``: a name from ``ACTIVATIONS`` or any module, one instance shared by every layer.
    ``init_seed`` builds the weights from ``torch.manual_seed(init_seed)`` (``None``: the run's generator).
    """

    def __init__(self, input_size: int = 40, hidden_size: int = 100, hidden_layers: int = 2,
                 num_classes: int = 10, residual: bool = True, activation: ActivationName | nn.Module = "relu",
                 init_seed: int | None = None) -> None:
        super().__init__()
        if hidden_layers < 1:
            raise ValueError(f"hidden_layers={hidden_layers}: expected at least 1")
        self.is_residual = residual
        self.activation = activation_module(activation)
        with seeded_init(init_seed):
            self.input = nn.Linear(input_size, hidden_size)
            layers = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(hidden_layers - 1))
            self.add_module("residual" if residual else "hidden", layers)
            self.readout = nn.Linear(hidden_size, num_classes)

    @property
    def layers(self) -> nn.ModuleList:
        """The hidden layers after the first, residual or plain."""
        return self.residual if self.is_residual else self.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.activation
        h = f(self.input(x))
        for layer in self.layers:
            h = h + f(layer(h)) if self.is_residual else f(layer(h))
        return self.readout(h)


class ConvStack(nn.Module):
    """Conv1d + activation (+ pooling) blocks over a (N, L) signal; ``forward`` returns the flattened last map.

    Each block is ``Sequential(conv, activation)``, plus a pooling layer over ``pool_size`` points when ``pool``
    is max, avg or l2. ``activation`` is a name from ``ACTIVATIONS`` (a fresh stateless module per block) or a
    module, which is registered once as ``self.activation`` and called by every block through
    ``SharedActivation``: a learned activation keeps one set of parameters.
    """

    def __init__(self, channels: int = 25, kernel_sizes: Sequence[int] = (5, 3, 3),
                 strides: Sequence[int] = (2, 2, 2), paddings: Sequence[int] = (1, 1, 1),
                 activation: ActivationName | nn.Module = "relu", pool: Literal["none", "max", "avg", "l2"] = "none",
                 pool_size: int = 2) -> None:
        super().__init__()
        if not len(kernel_sizes) == len(strides) == len(paddings) >= 1:
            raise ValueError(f"kernel_sizes={list(kernel_sizes)}, strides={list(strides)} and "
                             f"paddings={list(paddings)} must be non-empty and of one length")
        if pool not in POOLS:
            raise ValueError(f"pool={pool!r} is invalid: allowed one of {list(POOLS)}")
        if isinstance(activation, nn.Module):
            self.activation = activation
            make_activation = lambda: SharedActivation(self.activation)  # noqa: E731
        else:
            activation_module(activation)  # fail now on an unknown name
            make_activation = lambda: activation_module(activation)  # noqa: E731

        def block(c_in: int, k: int, s: int, p: int) -> nn.Sequential:
            layers = [nn.Conv1d(c_in, channels, k, stride=s, padding=p), make_activation()]
            return nn.Sequential(*layers, *([pool_module(pool, pool_size)] if pool != "none" else []))

        in_channels = [1] + [channels] * (len(kernel_sizes) - 1)
        self.blocks = nn.ModuleList(block(*args) for args in zip(in_channels, kernel_sizes, strides, paddings))

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
    """The paper's CNN: three strided conv layers (``ConvStack``) and a linear readout.

    ``activation``, ``pool`` and ``pool_size`` are ``ConvStack``'s; ``init_seed`` builds the weights from
    ``torch.manual_seed(init_seed)`` without touching the run's generator (``None``: the run's generator).
    """

    def __init__(self, input_size: int = 40, channels: int = 25, num_classes: int = 10,
                 kernel_sizes: Sequence[int] = (5, 3, 3), strides: Sequence[int] = (2, 2, 2),
                 paddings: Sequence[int] = (1, 1, 1), activation: ActivationName | nn.Module = "relu",
                 pool: Literal["none", "max", "avg", "l2"] = "none", pool_size: int = 2,
                 init_seed: int | None = None) -> None:
        super().__init__()
        with seeded_init(init_seed):
            self.backbone = ConvStack(channels, kernel_sizes, strides, paddings, activation, pool, pool_size)
            self.readout = nn.Linear(self.backbone.output_size(input_size), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.backbone(x))


class PoolingCNN(CNN):
    """The pooling study's net (paper Fig. 7): two conv layers (k3, p1, 20 channels), each followed by the
    activation and the downsampling that ``pooling`` names, then a linear readout. A ``CNN`` with these options:

    ========  ======  ============  =========  ======
    pooling   stride  pool          linear in  params
    ========  ======  ============  =========  ======
    no_pool   1       none          800        9,310
    stride_2  2       none          200        3,310
    max_pool  1       max (k2)      200        3,310
    avg_pool  1       avg (k2)      200        3,310
    l2_pool   1       L2 (p2, k2)   200        3,310
    ========  ======  ============  =========  ======

    The paper seeded every constructor with ``torch.manual_seed(0)`` so all five nets share their conv init:
    that is ``init_seed=0``; the default ``None`` lets the run's seed decide.
    """

    def __init__(self, pooling: Literal["no_pool", "stride_2", "max_pool", "avg_pool", "l2_pool"] = "max_pool",
                 input_size: int = 40, channels: int = 20, num_classes: int = 10,
                 activation: ActivationName | nn.Module = "relu", init_seed: int | None = None) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r} is invalid: allowed one of {list(POOLINGS)}")
        stride, pool = POOLINGS[pooling]
        super().__init__(input_size, channels, num_classes, kernel_sizes=(3, 3), strides=(stride, stride),
                         paddings=(1, 1), activation=activation, pool=pool, init_seed=init_seed)
        self.pooling = pooling


class GRU(nn.Module):
    """A GRU over the signal's points (h0 = 0); all time steps' outputs flattened into a linear readout.

    No ``activation`` option: a GRU's gate nonlinearities are part of its definition.
    """

    def __init__(self, input_size: int = 40, hidden_size: int = 6, bidirectional: bool = True,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden_size, batch_first=True, bidirectional=bidirectional)
        directions = 2 if bidirectional else 1
        self.readout = nn.Linear(input_size * hidden_size * directions, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x.unsqueeze(-1))
        return self.readout(out.flatten(1))
