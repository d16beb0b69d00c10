"""The README's "Adding a study" example works as written: its code block runs as a study on the runner."""

from __future__ import annotations

import re
from pathlib import Path

from experiments.runner import report, run_study

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_example_study_runs_and_reports(tmp_path):
    section = (ROOT / "README.md").read_text().split("## Adding a study", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md: Adding a study", "exec"), namespace)
    study = namespace["WiderMLP"]()
    assert run_study(study, quick=True, seeds=[0], workers=1, out=tmp_path, progress=False) == {"ran": 3,
                                                                                                "skipped": 0}
    text = report(study, quick=True, seeds=[0], out=tmp_path)
    assert "| 200 | " in text and "| the widest MLP stays below the CNN's 94% |" in text
    assert "n/a (quick protocol)" in text
