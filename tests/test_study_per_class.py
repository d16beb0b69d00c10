"""The per-class study (paper Fig. 8, appendix B): per-class errors and confusion matrices from labels, the
appendix's sentences on synthetic per-class errors (so each can be seen to fail), and the quick form end to end,
including the per-checkpoint command."""

from __future__ import annotations

import json

import pytest

from experiments import study
from experiments.per_class import (CLASSES, HUMAN_ERROR, QUICK, cnn_claims, main, per_class_errors,
                                   predict_checkpoint, ranked)
from experiments.runner import FAILS, HOLDS, PARTLY, report, run_study
from experiments.runs import ROOT, load_config, override
from experiments.tasks import fit

# A CNN like the paper's: hardest 2, 7 then 4, zero on 3 and 6, better than the human on 9, worse on 1.
PAPER_LIKE = [4.0, 6.0, 14.0, 0.0, 8.0, 3.0, 0.0, 12.0, 2.0, 5.0]


def verdicts(per_seed, accuracy=94.0):
    claims = cnn_claims(per_seed, [accuracy] * len(per_seed), applicable=True)
    return [c.verdict for c in claims]


def test_per_class_errors_count_each_true_class():
    labels = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    predicted = [0, 0, 0, 1, 1, 1, 2, 2, 0, 0]
    summary = per_class_errors(predicted, labels, num_classes=3)
    assert summary["confusion"] == [[3, 1, 0], [0, 2, 0], [2, 0, 2]]
    assert summary["error"] == [25.0, 0.0, 50.0] and summary["count"] == [4, 2, 4]
    assert summary["accuracy"] == 70.0
    with pytest.raises(ValueError, match="predicted has 2 labels and labels 3"):
        per_class_errors([0, 1], [0, 1, 2])


def test_the_appendix_sentences_hold_on_a_paper_like_cnn():
    assert ranked(PAPER_LIKE)[:3] == [2, 7, 4]
    assert ranked([HUMAN_ERROR[c] for c in CLASSES])[:2] == [2, 7]
    assert verdicts([PAPER_LIKE, PAPER_LIKE]) == [HOLDS] * 7


def test_the_appendix_sentences_fail_when_the_errors_break_them():
    def changed(**errors):
        out = list(PAPER_LIKE)
        for name, value in errors.items():
            out[int(name[1:])] = value
        return out

    assert verdicts([PAPER_LIKE], accuracy=88.0)[0] == FAILS  # outside 93 ± 2.5
    assert verdicts([changed(c5=13.0)])[1] == PARTLY  # hardest 2, 5, 7: both in the three hardest
    assert verdicts([changed(c5=13.0, c8=12.5)])[1] == PARTLY  # 2 still one of the two hardest
    assert verdicts([changed(c2=1.0, c7=1.0)])[1] == FAILS
    assert verdicts([changed(c4=1.0)])[2] == FAILS  # 4 drops to the easy classes
    assert verdicts([changed(c4=5.5)])[2] == PARTLY  # 4th hardest
    assert verdicts([changed(c9=9.0)])[3] == FAILS  # the CNN worse than the human on 9
    assert verdicts([changed(c1=2.0)])[4] == FAILS  # the CNN better than the human on 1
    assert verdicts([PAPER_LIKE, changed(c3=1.0)])[5] == PARTLY  # one seed errs once on 3: mean 0.5
    assert verdicts([changed(c6=4.0)])[5] == FAILS
    assert verdicts([changed(c9=13.0)])[6] == FAILS  # 9 stands out: above twice the 6% overall error


def test_quick_study_end_to_end_and_the_checkpoint_command(tmp_path, capsys):
    chosen = study("per_class")
    assert run_study(chosen, quick=True, workers=1, out=tmp_path, progress=False) == {"ran": 3, "skipped": 0}
    text = report(chosen, quick=True, out=tmp_path)
    assert "| 2 | 11.9 | " in text and "Confusion matrix of the cnn" in text and "n/a (quick protocol)" in text
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["figures"] == ["per_class.png"] and (tmp_path / "per_class.png").stat().st_size > 0
    cnn = next(r for r in summary["runs"] if r["tags"]["model"] == "cnn")["result"]
    assert cnn["steps"] == QUICK["trainer.max_steps"] and sum(cnn["count"]) == 1000
    assert sum(map(sum, cnn["confusion"])) == 1000

    # the stored numbers are what the saved checkpoint predicts, and what the same fit validates
    config = override(load_config("configs/cnn.yaml"), **QUICK)
    checkpoint = ROOT / cnn["checkpoint"]
    again = predict_checkpoint(config, checkpoint)
    assert again == {k: cnn[k] for k in ("error", "accuracy", "count", "confusion")}
    validated = fit(json.loads(json.dumps(next(r for r in summary["runs"]
                                               if r["tags"]["model"] == "cnn")["config"]["fit"])))
    assert cnn["accuracy"] == pytest.approx(100 * validated["final"]["val/acc"], abs=1e-4)

    assert main([str(checkpoint), "--config", "configs/cnn.yaml"]) == 0
    printed = capsys.readouterr().out
    assert f"| 2 | {cnn['count'][2]} | {cnn['error'][2]:.1f} | 11.9 |" in printed
    with pytest.raises(FileNotFoundError, match="does not exist"):
        predict_checkpoint(config, tmp_path / "missing.ckpt")
