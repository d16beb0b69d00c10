"""The SimCLR augmentation: what it removes, how it shifts, what it adds, and that ranks draw differently."""

import pytest
import torch

from lightning_modules.ssl.augment import augment, centered_positions, circular_shift, detrend, view_generator


@pytest.fixture
def signals() -> torch.Tensor:
    return torch.randn(256, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 + 1


def slope_of(x: torch.Tensor) -> torch.Tensor:
    t = centered_positions(x.shape[1], dtype=x.dtype)
    return (x - x.mean(1, keepdim=True)) @ t / (t @ t)


def test_centered_positions_match_the_reference_abscissa():
    assert centered_positions(40)[[0, -1]].tolist() == [-19.5, 19.5]


def test_detrend_removes_mean_and_linear_trend_and_keeps_the_rest(signals):
    out = detrend(signals)
    assert out.mean(1).abs().max() < 1e-12
    assert slope_of(out).abs().max() < 1e-12
    t = centered_positions(40, dtype=signals.dtype)
    trended = out + 0.7 * t - 3.0
    torch.testing.assert_close(detrend(trended), out)


def test_without_randomness_augment_is_the_detrended_signal(signals):
    out = augment(signals, max_shift=1, slope_std=0.0, offset_std=0.0)
    torch.testing.assert_close(out, detrend(signals))


def test_shift_is_circular_right_roll_within_range(signals):
    out = augment(signals, max_shift=10, slope_std=0.0, offset_std=0.0, generator=torch.Generator().manual_seed(1))
    base = detrend(signals)
    shifts = []
    for row, source in zip(out, base):
        matches = [s for s in range(40) if torch.allclose(row, torch.roll(source, s))]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert set(shifts) == set(range(10))          # every shift 0..9 occurs, 10 and above never
    torch.testing.assert_close(circular_shift(base[:1], torch.tensor([3])), torch.roll(base[:1], 3, dims=1))


def test_added_slope_and_offset_are_exactly_linear_with_the_given_spread():
    x = torch.zeros(20000, 40, dtype=torch.float64)
    out = augment(x, max_shift=1, slope_std=0.04, offset_std=0.3, generator=torch.Generator().manual_seed(2))
    slope, offset = slope_of(out), out.mean(1)
    t = centered_positions(40, dtype=x.dtype)
    torch.testing.assert_close(out, slope[:, None] * t + offset[:, None])
    assert abs(slope.std().item() - 0.04) < 0.002 and abs(offset.std().item() - 0.3) < 0.01
    assert abs(slope.mean().item()) < 0.002 and abs(offset.mean().item()) < 0.01


def test_view_generators_are_reproducible_and_differ_across_seeds_ranks_epochs_and_batches(signals):
    x = signals.float()
    draw = lambda *key: augment(x, generator=view_generator(*key))  # noqa: E731
    torch.testing.assert_close(draw(5, 1, 2, 3), draw(5, 1, 2, 3), rtol=0, atol=0)
    for other in [(6, 1, 2, 3), (5, 0, 2, 3), (5, 1, 3, 3), (5, 1, 2, 4), (5, 2, 1, 3)]:
        assert (draw(5, 1, 2, 3) - draw(*other)).abs().max() > 0.1, other
    with pytest.raises(ValueError, match="epoch=-1"):
        view_generator(0, 0, -1, 0)


@pytest.mark.parametrize("kwargs, field", [({"max_shift": 0}, "max_shift"), ({"slope_std": -1.0}, "slope_std"),
                                           ({"offset_std": -0.1}, "offset_std")])
def test_bad_strengths_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        augment(torch.zeros(2, 40), **kwargs)


def test_rejects_batches_that_are_not_matrices():
    with pytest.raises(ValueError, match="batch, length"):
        augment(torch.zeros(40))
