"""The committed results are reproducible: every study's report, written from a copy of its stored runs, equals
the committed files byte for byte (results.json, table.md, README.md and every figure)."""

from __future__ import annotations

import json
import shutil

import pytest

from experiments import STUDIES, runner, study
from experiments.runs import ROOT

RESULTS = ROOT / "results"


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
    """Every study's stored runs (and their artifacts), copied: reports need nothing else."""
    root = tmp_path_factory.mktemp("results")
    for name in STUDIES:
        if (RESULTS / name / "runs").is_dir():
            shutil.copytree(RESULTS / name / "runs", root / name / "runs")
    return root


@pytest.mark.parametrize("name", list(STUDIES))
def test_a_fresh_report_equals_the_committed_files(name, copied, monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", copied)
    runner.report(study(name))
    written = sorted(p.relative_to(copied / name) for p in (copied / name).iterdir() if p.is_file())
    figures = json.loads((copied / name / "results.json").read_text())["figures"]
    assert [str(p) for p in written] == sorted(["README.md", "results.json", "table.md", *figures])
    for path in written:
        assert (copied / name / path).read_bytes() == (RESULTS / name / path).read_bytes(), f"{name}/{path} differs"


def test_every_protocols_run_keys_are_the_committed_ones():
    """Keys hash the declared protocol only (configs, the keys of needed runs), never a number computed at run
    time: recomputed here, they equal ``results/keys.json`` (rewrite it with ``python -m experiments keys``)."""
    committed = json.loads(runner.KEYS.read_text())
    assert runner.protocol_keys() == committed


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_committed_run_is_complete_and_up_to_date(name):
    """A study's page is only as good as its staged runs: every artifact a record lists is committed beside it (a
    later stage's input, and what a user reloads), and no run rests on an outcome of a needed run that the store
    has since replaced (``status`` would list such runs as incomplete or out of date)."""
    lines = runner.status(study(name)).splitlines()
    assert not [line for line in lines if line.startswith(("  incomplete:", "  out of date:"))]
