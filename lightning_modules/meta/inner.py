"""The two inner tasks: a one-hidden-layer MLP trained by an unrolled loop, as the metalearning studies use it.

``learning_rate_inner_run`` is the learning-rate study's inner run (tanh 40 -> 50 -> 10, plain SGD),
``activation_inner_run`` the activation study's (40 -> 128 -> 10 with hidden noise, hand-written RMSprop); both
are plain functions of tensors, so the LightningModules, the baselines and the benchmark call the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .activations import BASELINES, uniform_noise
from .unroll import Params, rmsprop_unroll, sequential_batches, sgd_unroll

Activation = Callable[..., torch.Tensor]


def mlp_forward(params: Params, x: torch.Tensor, activation: Activation = torch.tanh,
                generator: torch.Generator | None = None, noise: float = 0.0) -> torch.Tensor:
    """``logits = fc2(activation(fc1(x)) + u)`` on a parameter dict, ``u = noise * U(-1, 1)`` of shape
    ``(1, hidden)``: one draw shared by the batch, redrawn every call from ``generator`` (none: no noise).

    The inner loops call this pure function directly: ``torch.func.functional_call`` on ``InnerMLP`` computes the
    same numbers but costs about 0.2 ms per call in parameter swapping, 200 to 300 times per outer step.
    """
    pre = F.linear(x, params["fc1.weight"], params["fc1.bias"])
    h = activation(pre, generator) if getattr(activation, "draws_noise", False) else activation(pre)
    if generator is not None and noise:
        h = h + uniform_noise((1, pre.shape[1]), noise, generator, x.device)
    return F.linear(h, params["fc2.weight"], params["fc2.bias"])


class InnerMLP(nn.Module):
    """The inner network as a module (``mlp_forward`` over its own parameters): its layers give the default init.

    The activation is an argument of ``forward``, not a submodule, so that its parameters stay where they are
    trained (a metalearning module) while this network runs on a parameter dict.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, noise: float = 0.0) -> None:
        super().__init__()
        self.hidden_size, self.noise = hidden_size, noise
        self.fc1, self.fc2 = nn.Linear(input_size, hidden_size), nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor, activation: Activation = torch.tanh,
                generator: torch.Generator | None = None) -> torch.Tensor:
        return mlp_forward(dict(self.named_parameters()), x, activation, generator, self.noise)


def seeded_inner_mlp(input_size: int, hidden_size: int, output_size: int, seed: int, noise: float = 0.0,
                     device: torch.device | str = "cpu") -> tuple[InnerMLP, Params]:
    """An ``InnerMLP`` and its parameters as PyTorch's default init leaves them after ``torch.manual_seed(seed)``
    (a detached dict, the inner loops' ``theta0``); the global random stream is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = InnerMLP(input_size, hidden_size, output_size, noise)
    model = model.to(device)
    return model, {name: p.detach().clone() for name, p in model.named_parameters()}


def resolve_activation(activation: str | Activation) -> Activation:
    """A baseline by name (relu, swish, elu, softplus, tanh, sigmoid) or any callable / module as it is."""
    if isinstance(activation, str):
        if activation not in BASELINES:
            raise ValueError(f"activation={activation!r} is invalid: allowed one of {list(BASELINES)} or a module")
        return BASELINES[activation]
    return activation


class InnerRun(NamedTuple):
    """One inner training run: per-step minibatch losses (with their graph), final test accuracy in percent."""

    losses: torch.Tensor
    test_acc: float


def learning_rate_inner_run(lr: torch.Tensor | float, theta0: Params, x: torch.Tensor, y: torch.Tensor,
                            steps: int = 200, batch_size: int = 50) -> torch.Tensor:
    """The learning-rate study's inner run: tanh MLP from ``theta0``, plain SGD with rate ``lr`` on sequential
    batches from row 0; returns the ``steps`` minibatch losses, differentiable with respect to ``lr``."""
    def loss_fn(params: Params, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(mlp_forward(params, xb, torch.tanh), yb)

    return sgd_unroll(loss_fn, theta0, sequential_batches(x, y, batch_size, steps), lr).losses


def activation_inner_run(activation: str | Activation, x_train: torch.Tensor, y_train: torch.Tensor,
                         x_test: torch.Tensor, y_test: torch.Tensor, steps: int = 301, batch_size: int = 100,
                         hidden_size: int = 128, lr: float = 1e-2, decay: float = 0.4, eps: float = 1e-8,
                         noise: float = 0.1, seed: int = 0, test_rows: int = 500,
                         reference_eval_draws: bool = True) -> InnerRun:
    """The activation study's inner run, a pure function of its arguments and ``seed``.

    The network starts from PyTorch's default init after ``torch.manual_seed(seed)``; the noise comes from a
    private ``torch.Generator`` seeded with ``seed``, which yields the same numbers as the global stream after
    ``torch.manual_seed(seed)`` without touching it. ``reference_eval_draws`` also draws, after every step but
    the first, the noise the reference's per-step test evaluation consumed, so the training noise follows the
    reference's stream; the test accuracy (first ``test_rows`` test rows) is taken once, after the last step.
    """
    activation = resolve_activation(activation)
    _, theta0 = seeded_inner_mlp(x_train.shape[1], hidden_size, int(y_train.max()) + 1, seed, noise,
                                 x_train.device)
    generator = torch.Generator(device=x_train.device).manual_seed(seed)

    def loss_fn(params: Params, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(mlp_forward(params, xb, activation, generator, noise), yb)

    def draw_evaluation_noise(step: int, params: Params) -> None:
        if reference_eval_draws and 1 <= step < steps - 1:
            if getattr(activation, "draws_noise", False):
                uniform_noise((1, activation.hidden_size), 1.0, generator, x_train.device)
            uniform_noise((1, hidden_size), 1.0, generator, x_train.device)

    run = rmsprop_unroll(loss_fn, theta0, sequential_batches(x_train, y_train, batch_size, steps), lr, decay, eps,
                         after_step=draw_evaluation_noise)
    with torch.no_grad():
        params = {name: p.detach() for name, p in run.params.items()}
        logits = mlp_forward(params, x_test[:test_rows], activation, generator, noise)
        test_acc = 100.0 * (logits.argmax(-1) == y_test[:test_rows]).float().mean().item()
    return InnerRun(run.losses, test_acc)
