"""The "Adding a study" example of docs/studies.md works as written: its code block, saved as a module, runs as a
two-stage study on the runner (spawned workers import its tasks by name)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from experiments.runner import report, run_study

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_two_stage_study_runs_and_reports(tmp_path, monkeypatch):
    section = (ROOT / "docs" / "studies.md").read_text().split("## Adding a study", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "reversal_study.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "reversal_study", raising=False)
    from reversal_study import Reversal

    out = tmp_path / "out"
    assert run_study(Reversal(), quick=True, seeds=[0], workers=2, out=out, progress=False) == {"ran": 3,
                                                                                                 "skipped": 0}
    text = report(Reversal(), quick=True, seeds=[0], out=out)
    assert re.search(r"\| none \| \d+\.\d ± 0\.0 \(n=1\) \|", text)
    assert "| reversing the signal costs the CNN more than 10 points |" in text and "n/a (quick protocol)" in text
    trained = [p for p in (out / "runs").iterdir() if p.is_dir()]
    assert len(trained) == 1 and (trained[0] / "weights.pt").is_file()
