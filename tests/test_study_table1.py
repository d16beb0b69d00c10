"""The Table 1 study's readings and claims on synthetic runs: the last step and the best evaluation of each run,
each judged against the paper's number, and the shuffling claims paired by seed (each can hold, fail, or stay
inconclusive)."""

from __future__ import annotations

import pytest

from experiments.classifiers import TABLE1_PAPER, best_test_acc, best_test_step, curve, final_test_acc
from experiments.runner import Results
from experiments.table1 import Table1, paired
from experiments.verdicts import FAILS, HOLDS, INCONCLUSIVE


def result(accuracies):
    """A ``tasks.fit`` result whose test accuracy (%) at steps 250, 500, ... is ``accuracies``."""
    history = [{"step": 250 * (i + 1), "val/acc": a / 100, "train_eval/acc": 1.0} for i, a in enumerate(accuracies)]
    return {"history": history, "final": dict(history[-1])}


def records(cells, seeds=(0, 1, 2)):
    """Runs of every cell in ``cells`` ((variant, model) -> the accuracy curve of each seed, or one for all)."""
    out = []
    for (variant, model), curves in cells.items():
        for seed in seeds:
            accuracies = curves[seed] if isinstance(curves[0], list) else curves
            out.append({"tags": {"model": model, "variant": variant, "seed": seed}, "result": result(accuracies)})
    return out


def verdict(claims, starts):
    """The verdict of the claims that start with ``starts`` (both readings, where they agree)."""
    [found] = {c.verdict for c in claims if c.claim.startswith(starts)}
    return found


def test_the_two_readings_of_a_run():
    run = result([80.0, 94.4, 93.1])
    assert final_test_acc(run) == pytest.approx(93.1) and best_test_acc(run) == pytest.approx(94.4)
    assert best_test_step(run) == 500 and curve(run, "val/acc")[0] == [250, 500, 750]
    with pytest.raises(ValueError, match="no 'val/acc'"):
        best_test_acc({"history": [{"step": 1}], "final": {}})


def test_each_reading_is_judged_against_the_papers_number():
    # the CNN peaks at the paper's 94 and ends two points lower in every seed
    cells = {("standard", "cnn"): [[90.0, 94.0 + d, 92.0 + d] for d in (-0.2, 0.0, 0.2)]}
    claims = Table1().claims(Results(records(cells)), quick=False)
    assert verdict(claims, "cnn, standard: test accuracy 94% (last step)") == FAILS
    assert verdict(claims, "cnn, standard: test accuracy 94% (best over the run)") == HOLDS
    table = Table1().table(Results(records(cells)), quick=False)
    assert "| standard | cnn | 94 | 91.8 92.0 92.2 | 92.0 [91.5, 92.5] | 93.8 (500) 94.0 (500) 94.2 (500) |" in table
    assert "last step 0 of 1; best over the run 1 of 1" in table
    one_seed = Table1().claims(Results(records(cells, seeds=(0,))), quick=False)
    assert verdict(one_seed, "cnn, standard: test accuracy 94% (best") == INCONCLUSIVE
    assert {c.verdict for c in Table1().claims(Results(records(cells)), quick=True)} == {"n/a (quick protocol)"}


def test_shuffling_claims_pair_each_seed_with_its_standard_run():
    paper_like = {(v, m): [TABLE1_PAPER[v][m] + 0.1 * s for s in range(3)] for v in TABLE1_PAPER for m in
                  TABLE1_PAPER[v]}
    cells = {key: [[a] for a in curve_] for key, curve_ in paper_like.items()}
    results = Results(records(cells))
    claims = Table1().claims(results, quick=False)
    assert all(c.verdict == HOLDS for c in claims), [(c.claim, c.verdict) for c in claims]
    standard, shuffled = paired(results, final_test_acc, "cnn")
    assert standard == pytest.approx([94.0, 94.1, 94.2]) and shuffled == pytest.approx([56.0, 56.1, 56.2])

    cells[("shuffled", "mlp")] = [[60.0], [60.1], [60.2]]  # shuffling costs the MLP 8 points in every seed
    cells[("shuffled", "gru")] = [[91.0], [91.0], [91.3]]  # and the GRU nothing
    claims = Table1().claims(Results(records(cells)), quick=False)
    assert verdict(claims, "mlp: no spatial prior, so shuffling the columns costs less than 2 points") == FAILS
    assert verdict(claims, "gru: a spatial prior, so shuffling the columns costs more than 2 points") == FAILS
    cells[("shuffled", "mlp")] = [[68.0], [64.0], [69.0]]  # -0, -4.1, +0.8: the seeds disagree
    claims = Table1().claims(Results(records(cells)), quick=False)
    assert verdict(claims, "mlp: no spatial prior") == INCONCLUSIVE
