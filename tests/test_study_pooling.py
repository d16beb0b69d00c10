"""The pooling study (paper Fig. 7): its datasets, its runs, the claims' logic on synthetic accuracies (so each
claim can be seen to fail), and the quick form end to end."""

from __future__ import annotations

import copy
import json
import re

import pytest

from experiments import study
from experiments.pooling import (PAPER_RUNS, POOLED, SIZES, UNPOOLED, VARIANTS, Pooling, dataset_overrides,
                                 pooling_claims)
from experiments.runner import FAILS, HOLDS, PARTLY, report, run_study
from mnist1d_hf import generate, variant


def verdicts(acc, applicable=True):
    """Verdicts by claim, named without the claim's final bracket and threshold details."""
    return {re.sub(r"\s*\([^()]*\)$", "", c.claim).split(":")[0]: c.verdict for c in pooling_claims(acc, applicable)}


def shifted(acc, size, variant_name, value):
    out = copy.deepcopy(acc)
    out[size][variant_name] = [value]
    return out


def test_every_size_is_its_own_dataset_with_1000_test_examples():
    data = generate(variant("large", **dataset_overrides(1000)))
    assert (len(data.x_train), len(data.x_test)) == (1000, 1000)
    assert variant("large", **dataset_overrides(50000)) == variant("large")  # the largest size is `large`
    assert [dataset_overrides(s)["num_samples"] for s in SIZES] == [2000, 3000, 6000, 11000, 21000, 51000]
    with pytest.raises(ValueError, match="train_size=0"):
        dataset_overrides(0)


def test_runs_cover_variants_sizes_and_seeds_seed_first():
    runs = Pooling().runs(quick=False, seeds=[0, 1, 2])
    assert len(runs) == len(VARIANTS) * len(SIZES) * 3 == len({r.key for r in runs})
    assert [r.tags["seed"] for r in runs[:30]] == [0] * 30  # every cell's first seed before any second one
    config = runs[-1].config
    assert config["trainer"]["max_steps"] == 6000 and config["trainer"]["val_check_interval"] == 100
    assert config["data"]["ordered"] is True and config["data"]["batch_size"] == 100
    assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.01
    assert config["data"]["overrides"] == {"num_samples": 51000, "train_split": 50000}
    assert "init_seed" not in config["model"]["init_args"]["net"]["init_args"]  # the seed decides the init


def test_the_papers_numbers_satisfy_every_claim():
    result = verdicts(PAPER_RUNS)
    assert len(result) == 8 and set(result.values()) == {HOLDS}, result


def test_claims_fail_when_the_numbers_break_them():
    # one unpooled variant overtakes one pooled variant at 50000: only the best pooled still wins -> partly
    acc = shifted(PAPER_RUNS, 50000, "no_pool", 97.2)
    assert verdicts(acc)["pooling (max, avg or L2) beats both no pooling and stride 2 at every size"] == PARTLY
    # the best unpooled beats every pooled variant -> fails, and the gap at 50000 is negative (still <= 4)
    acc = shifted(PAPER_RUNS, 50000, "stride_2", 99.0)
    result = verdicts(acc)
    assert result["pooling (max, avg or L2) beats both no pooling and stride 2 at every size"] == FAILS
    assert result["stride 2 is no better than no pooling at most sizes"] == HOLDS  # 5 of 6 still
    # a small gap at 1000 (78.2 - 75.0) and a large one at 50000 (98.1 - 85.0): neither holds, nor the shrinking
    acc = copy.deepcopy(PAPER_RUNS)
    acc[1000]["no_pool"] = [75.0]
    acc[50000]["no_pool"] = acc[50000]["stride_2"] = [85.0]
    result = verdicts(acc)
    assert result["the pooling advantage is large at 1000 examples"] == FAILS
    assert result["and small at 50000"] == FAILS
    assert result["the advantage shrinks with more data"] == FAILS
    acc[1000]["no_pool"] = [59.2]  # the paper's gap at 1000 again (19.0 > 13.1): it shrinks, but not to <= 4
    result = verdicts(acc)
    assert result["the advantage shrinks with more data"] == HOLDS and result["and small at 50000"] == FAILS
    # bands: one pooled variant out of 78 ± 3 -> partly; all out -> fails
    acc = shifted(PAPER_RUNS, 1000, "avg_pool", 73.0)
    assert verdicts(acc)["pooled variants reach 78 ± 3 at 1000 examples"] == PARTLY
    acc = copy.deepcopy(PAPER_RUNS)
    for name in POOLED:
        acc[1000][name] = [90.0]
    assert verdicts(acc)["pooled variants reach 78 ± 3 at 1000 examples"] == FAILS
    acc = copy.deepcopy(PAPER_RUNS)
    for name in UNPOOLED:
        acc[1000][name] = [45.0]
    assert verdicts(acc)["unpooled variants reach 58 ± 4 at 1000 examples"] == FAILS
    # stride 2 better than no pooling at 4 of 6 sizes
    acc = copy.deepcopy(PAPER_RUNS)
    for size in SIZES[:4]:
        acc[size]["stride_2"] = [acc[size]["no_pool"][0] + 0.5]
    assert verdicts(acc)["stride 2 is no better than no pooling at most sizes"] == FAILS


def test_claims_use_only_complete_sizes_and_say_so():
    acc = {size: row for size, row in PAPER_RUNS.items() if size in (1000, 5000)}
    claims = pooling_claims(acc)
    assert all("50000" not in c.claim for c in claims)
    assert "(measured sizes: 1000, 5000)" in claims[0].measured
    incomplete = {1000: {"no_pool": [60.0]}}
    assert pooling_claims(incomplete) == []
    assert {c.verdict for c in pooling_claims(PAPER_RUNS, applicable=False)} == {"n/a (quick protocol)"}


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
