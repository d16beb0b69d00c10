"""Differentiable inner training loops: plain SGD and a hand-written RMSprop, unrolled so that the losses they
return keep their graph back to anything the inner loss depends on (a learning rate, an activation's weights).

Parameters are a dict of tensors, the loss a pure function ``loss_fn(params, x, y)`` (``functional_loss`` makes
one from any ``nn.Module`` through ``torch.func.functional_call``; the studies' inner runs use a hand-written
functional forward, which is cheaper per call), and every inner gradient is taken with
``create_graph=True``, so a meta-gradient is one ``backward`` of a function of the returned losses. Nothing here
knows about Lightning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

Params = dict[str, torch.Tensor]
LossFn = Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]
AfterStep = Callable[[int, Params], None]


class Unrolled(NamedTuple):
    """An inner run: the minibatch loss of every step (each taken before its update) and the final parameters."""

    losses: torch.Tensor
    params: Params


def sequential_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, steps: int
                       ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The reference loop's batches: step ``i`` reads rows ``(i * batch_size) % N`` to ``+ batch_size``."""
    for step in range(steps):
        start = (step * batch_size) % len(x)
        yield x[start:start + batch_size], y[start:start + batch_size]


def functional_loss(model: nn.Module, **forward_kwargs: object) -> LossFn:
    """Cross-entropy of ``model`` run on a parameter dict (``torch.func.functional_call``), extra forward
    arguments passed through (e.g. a noise generator)."""
    def loss_fn(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, params, (x,), forward_kwargs), y)
    return loss_fn


def _differentiable_start(params: Params) -> Params:
    """Leaves to differentiate the first inner loss by: tensors that already carry a graph are kept as they are."""
    return {name: p if p.requires_grad else p.detach().requires_grad_() for name, p in params.items()}


def sgd_unroll(loss_fn: LossFn, params: Params, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
               lr: torch.Tensor | float, after_step: AfterStep | None = None) -> Unrolled:
    """Plain SGD, ``theta <- theta - lr * grad``, differentiable with respect to ``lr`` and ``params``."""
    params = _differentiable_start(params)
    losses = []
    for step, (x, y) in enumerate(batches):
        loss = loss_fn(params, x, y)
        grads = torch.autograd.grad(loss, tuple(params.values()), create_graph=True)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
        losses.append(loss)
        if after_step is not None:
            after_step(step, params)
    return Unrolled(torch.stack(losses), params)


def rmsprop_unroll(loss_fn: LossFn, params: Params, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                   lr: float = 1e-2, decay: float = 0.4, eps: float = 1e-8, square_avg_init: float = 1.0,
                   after_step: AfterStep | None = None) -> Unrolled:
    """RMSprop written out: ``v <- decay * v + (1 - decay) * g^2``, ``theta <- theta - lr * g / (sqrt(v) + eps)``.

    ``v`` starts at ``square_avg_init`` (ones, unlike ``torch.optim.RMSprop``'s zeros), which keeps the first
    steps small; ``eps`` is added outside the square root, as here, not inside.
    """
    params = _differentiable_start(params)
    square_avg = {name: torch.full_like(p, square_avg_init) for name, p in params.items()}
    losses = []
    for step, (x, y) in enumerate(batches):
        loss = loss_fn(params, x, y)
        grads = torch.autograd.grad(loss, tuple(params.values()), create_graph=True)
        new_params = {}
        for (name, p), g in zip(params.items(), grads):
            square_avg[name] = square_avg[name] * decay + g ** 2 * (1 - decay)
            new_params[name] = p - lr * g / (torch.sqrt(square_avg[name]) + eps)
        params = new_params
        losses.append(loss)
        if after_step is not None:
            after_step(step, params)
    return Unrolled(torch.stack(losses), params)
