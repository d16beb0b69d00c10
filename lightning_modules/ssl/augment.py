"""The paper's SimCLR augmentation of 1-D signals, vectorized over the batch on the batch's device.

Per row: remove the mean and the least-squares linear trend, roll right by a random number of points, then add a
random slope and a random offset. One call draws all rows' randomness at once; no Python loop over rows.
``view_generator`` gives each training batch its own stream, a function of (seed, rank, epoch, batch), so that
the views of any step are known from the step alone: a run resumed from any checkpoint draws the same views.
"""

from __future__ import annotations

import numpy as np
import torch


def centered_positions(length: int, device: torch.device | None = None,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``arange(length) - (length - 1) / 2``: the abscissa trends are fitted against (-19.5 .. 19.5 for 40 points)."""
    return torch.arange(length, device=device, dtype=dtype) - (length - 1) / 2


def detrend(x: torch.Tensor) -> torch.Tensor:
    """Remove each row's mean and least-squares slope against ``centered_positions``."""
    t = centered_positions(x.shape[1], x.device, x.dtype)
    centered = x - x.mean(dim=1, keepdim=True)
    slope = centered @ t / (t @ t)
    return centered - slope[:, None] * t


def circular_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Roll row ``i`` right by ``shifts[i]`` points (``out[i, j] = x[i, j - shifts[i]]``, wrapping around)."""
    length = x.shape[1]
    index = (torch.arange(length, device=x.device) - shifts[:, None]) % length
    return x.gather(1, index)


def augment(x: torch.Tensor, max_shift: int = 10, slope_std: float = 0.04, offset_std: float = 0.3,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """One random view of every row of ``x`` (N, L).

    Shifts are uniform on ``{0, ..., max_shift - 1}`` (numpy's ``randint(0, max_shift)``, as in the reference;
    ``max_shift=1`` disables shifting); the added slope is ``N(0, slope_std) * t`` with ``t`` from
    ``centered_positions`` and the offset ``N(0, offset_std)``. ``generator`` must live on ``x``'s device.
    """
    if x.dim() != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}: expected (batch, length)")
    if max_shift < 1:
        raise ValueError(f"max_shift={max_shift}: expected an integer >= 1 (shifts are drawn from 0..max_shift-1)")
    if slope_std < 0 or offset_std < 0:
        raise ValueError(f"slope_std={slope_std}, offset_std={offset_std}: standard deviations must be >= 0")
    n, length = x.shape
    shifts = torch.randint(0, max_shift, (n,), generator=generator, device=x.device)
    slope = torch.randn(n, 1, generator=generator, device=x.device, dtype=x.dtype) * slope_std
    offset = torch.randn(n, 1, generator=generator, device=x.device, dtype=x.dtype) * offset_std
    t = centered_positions(length, x.device, x.dtype)
    return circular_shift(detrend(x), shifts) + slope * t + offset


def view_generator(seed: int, rank: int = 0, epoch: int = 0, batch: int = 0,
                   device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of one batch's views: well-mixed from (seed, rank, epoch, batch), so no two streams collide."""
    for name, value in (("seed", seed), ("rank", rank), ("epoch", epoch), ("batch", batch)):
        if value < 0:
            raise ValueError(f"{name}={value} is invalid: allowed an integer >= 0")
    state = np.random.SeedSequence([seed, rank, epoch, batch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state >> 1))
