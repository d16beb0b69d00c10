"""The one rule of the studies' verdicts: per-seed differences, a 95% t-interval, three outcomes."""

import math

import pytest

from experiments.verdicts import FAILS, HOLDS, INCONCLUSIVE, against_paper, compare, interval


def test_interval_is_the_t_interval_of_the_mean():
    mean, lo, hi = interval([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302653; std 1; n 3
    assert mean == 2.0 and math.isclose(hi - mean, 4.302653 / math.sqrt(3), rel_tol=1e-6)
    assert interval([5.0]) is None


def test_a_consistent_win_holds_a_consistent_loss_does_not():
    assert compare([70, 71, 72], [60, 61, 62]).verdict == HOLDS
    assert compare([60, 61, 62], [70, 71, 72]).verdict == FAILS
    assert compare([60, 61, 62], [70, 71, 72], greater=False).verdict == HOLDS


def test_a_win_a_tie_and_a_loss_are_inconclusive():
    """Lottery's flipped inputs: the mean favours the ticket, the seeds do not agree."""
    verdict = compare([66.0, 64.0, 62.5], [63.0, 64.0, 63.5])
    assert verdict.verdict == INCONCLUSIVE
    assert "per seed +3.0 +0.0 -1.0" in verdict.evidence and "n=3 paired" in verdict.evidence


def test_the_margin_moves_the_threshold():
    a, b = [75.0, 76.0, 75.5], [65.0, 66.0, 65.5]  # +10 on every seed
    assert compare(a, b, margin=4).verdict == HOLDS
    assert compare(a, b, margin=12).verdict == FAILS
    assert compare(a, b, margin=10).verdict == INCONCLUSIVE  # the interval straddles the margin


def test_one_seed_is_inconclusive_and_says_why():
    verdict = compare([80.0], [60.0])
    assert verdict.verdict == INCONCLUSIVE and "no interval" in verdict.evidence


def test_unpaired_comparison_uses_welch():
    assert compare([70, 71, 72, 70.5], [60, 62], paired=False).verdict == HOLDS
    assert "unpaired" in compare([70, 71], [60, 61], paired=False).evidence
    with pytest.raises(ValueError, match="one pair per seed"):
        compare([1, 2, 3], [1, 2])


def test_against_a_number_of_the_paper():
    assert against_paper([93.3, 93.6, 93.1], 94).verdict == HOLDS  # interval reaches 93.5
    assert against_paper([92.3, 92.4, 92.35], 94).verdict == FAILS
    assert against_paper([93.0], 94).verdict == INCONCLUSIVE
