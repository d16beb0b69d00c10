"""The pooling study (paper Fig. 7): its datasets, its runs, the claims judged by the one rule on synthetic
accuracies (so each claim can be seen to hold, fail and stay inconclusive), and the quick form end to end."""

from __future__ import annotations

import json

import pytest

from experiments import study
from experiments.pooling import PAPER, POOLINGS, SIZES, Pooling, dataset_overrides, paired_seeds, pooling_claims
from experiments.runner import report, run_study
from experiments.verdicts import FAILS, HOLDS, INCONCLUSIVE
from mnist1d_hf import generate, variant_config


def seeded(table, offsets=(0.0, 0.1, 0.2)):
    """Accuracies from one number per cell: seed k adds ``offsets[k]`` to every cell, so the variants' differences
    are the same in every seed (the rule then decides) and each cell has a narrow interval."""
    return {size: {v: {seed: a + off for seed, off in enumerate(offsets)} for v, a in row.items()}
            for size, row in table.items()}


def verdict(acc, starts, applicable=True):
    [found] = [c.verdict for c in pooling_claims(acc, applicable) if c.claim.startswith(starts)]
    return found


def changed(size, pooling, values):
    """The paper's numbers in three seeds, with one cell replaced by one value per seed."""
    acc = seeded(PAPER)
    acc[size][pooling] = dict(enumerate(values))
    return acc


def test_every_size_is_its_own_dataset_with_1000_test_examples():
    data = generate(variant_config("large", **dataset_overrides(1000)))
    assert (len(data.x_train), len(data.x_test)) == (1000, 1000)
    assert variant_config("large", **dataset_overrides(50000)) == variant_config("large")  # the largest size is `large`
    assert [dataset_overrides(s)["num_samples"] for s in SIZES] == [2000, 3000, 6000, 11000, 21000, 51000]
    with pytest.raises(ValueError, match="train_size=0"):
        dataset_overrides(0)


def test_runs_cover_poolings_sizes_and_seeds_seed_first():
    runs = Pooling().runs(quick=False, seeds=[0, 1, 2])
    assert len(runs) == len(POOLINGS) * len(SIZES) * 3 == len({r.key for r in runs})
    assert [r.tags["seed"] for r in runs[:30]] == [0] * 30  # every cell's first seed before any second one
    config = runs[-1].config
    assert config["trainer"]["max_steps"] == 6000 and config["trainer"]["val_check_interval"] == 100
    assert config["data"]["ordered"] is True and config["data"]["batch_size"] == 100
    assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.01
    assert config["data"]["overrides"] == {"num_samples": 51000, "train_split": 50000}
    assert "init_seed" not in config["model"]["init_args"]["net"]["init_args"]  # the seed decides the init


def test_the_papers_numbers_in_every_seed_satisfy_every_claim():
    claims = pooling_claims(seeded(PAPER))
    assert len(claims) == 14 and {c.verdict for c in claims} == {HOLDS}, [(c.claim, c.verdict) for c in claims]
    assert "n=3 paired" in claims[0].measured and claims[0].paper == "+0.8 (at 50000)"


def test_claims_fail_when_every_seed_breaks_them():
    every = "every pooled variant"
    acc = changed(50000, "stride_2", [99.0] * 3)  # the best unpooled beats every pooled variant at 50000
    assert verdict(acc, every) == FAILS
    assert verdict(acc, "and small at 50000") == HOLDS  # a negative gap is still a small one
    acc = seeded(PAPER)
    acc[1000]["no_pool"] = {s: 75.0 for s in range(3)}  # a small gap at 1000 (78.2 - 75.0) ...
    acc[50000]["no_pool"] = acc[50000]["stride_2"] = {s: 85.0 for s in range(3)}  # ... and a large one at 50000
    assert verdict(acc, "the pooling advantage is large at 1000") == FAILS
    assert verdict(acc, "and small at 50000") == FAILS
    assert verdict(acc, "the advantage shrinks") == FAILS
    assert verdict(changed(1000, "avg_pool", [73.0, 73.1, 73.2]), "pooled variants reach 78 ± 3 at 1000 examples: "
                                                                  "avg_pool") == FAILS
    assert verdict(changed(1000, "no_pool", [45.0, 45.1, 45.2]), "unpooled variants reach 58 ± 4 at 1000 examples: "
                                                                 "no_pool") == FAILS
    acc = seeded(PAPER)
    for size in SIZES[:4]:  # stride 2 better than no pooling at 4 of 6 sizes, in every seed
        acc[size]["stride_2"] = {s: acc[size]["no_pool"][s] + 0.5 for s in range(3)}
    assert verdict(acc, "stride 2 is no better") == FAILS
    assert verdict(changed(50000, "l2_pool", [99.0, 99.1, 99.2]), "at high data max pooling beats L2") == FAILS


def test_a_mean_that_wins_while_a_seed_loses_is_inconclusive():
    """The audit's case: at 50000 the pooled variants win on the mean while one seed loses."""
    acc = changed(50000, "no_pool", [97.5, 96.3, 96.4])  # seed 0 beats l2_pool (97.1) and avg_pool (97.3)
    assert verdict(acc, "every pooled variant") == INCONCLUSIVE
    claims = pooling_claims(seeded(PAPER, offsets=(0.0,)))  # one seed: no interval
    assert {c.verdict for c in claims} == {INCONCLUSIVE}


def test_claims_use_only_complete_sizes_and_paired_seeds_and_say_so():
    acc = {size: row for size, row in seeded(PAPER).items() if size in (1000, 5000)}
    claims = pooling_claims(acc)
    assert all("50000" not in c.claim for c in claims)
    assert "(measured sizes: 1000, 5000)" in claims[0].claim
    assert paired_seeds(acc, [1000, 5000]) == [0, 1, 2]
    del acc[5000]["max_pool"][2]  # seed 2 lacks one run: it pairs nowhere
    assert paired_seeds(acc, [1000, 5000]) == [0, 1] and "n=2 paired" in pooling_claims(acc)[0].measured
    assert pooling_claims({1000: {"no_pool": {0: 60.0}}}) == []
    assert {c.verdict for c in pooling_claims(seeded(PAPER), applicable=False)} == {"n/a (quick protocol)"}


def test_quick_study_end_to_end(tmp_path):
    chosen = study("pooling")
    counts = run_study(chosen, quick=True, workers=1, out=tmp_path, progress=False)
    assert counts == {"ran": 10, "skipped": 0}
    text = report(chosen, quick=True, out=tmp_path)
    assert "| 1000 | " in text and "| 5000 | " in text and "(n=1)" in text
    assert "n/a (quick protocol)" in text
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["figures"] == ["accuracy_vs_size.png", "curves.png"]
    assert all((tmp_path / name).stat().st_size > 0 for name in summary["figures"])
    for record in summary["runs"]:
        assert [row["step"] for row in record["result"]["history"]] == [50, 100]
        assert 0 <= record["result"]["final"]["val/acc"] <= 1
