"""Staged runs: a run declares the runs it needs; the runner runs those first and hands each run their results
and artifacts through the driver; keys hash the declared protocol; stored runs carry their provenance; ad-hoc
reports never touch the canonical files."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from staged_tasks import MAKE, USE, Staged

from experiments import runner
from experiments.backends import RunFailed
from experiments.provenance import code, is_older
from experiments.runner import output_dir, report, run_study, status
from experiments.runs import ROOT, Run, Upstream


def records(root):
    return [json.loads(p.read_text()) for p in sorted((root / "runs").glob("*.json"))]


def handed(root, made):
    """The digest of what a run that needs the stored ``make`` run ``made`` receives: its result and its blob."""
    return Upstream(made["result"], {"blob.bin": (root / "runs" / made["key"] / "blob.bin").read_bytes()}).digest()


def out_of_date(record):
    """The line ``status`` gives a ``use`` run of seed 0 made from an earlier result of its ``make`` run."""
    label = Run(record["tags"], {}).label
    return f"  out of date: {label} (made from an earlier result of stage=make seed=0; `run` makes it again)"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The toy study swept once with two workers (spawning workers is the slow part)."""
    out = tmp_path_factory.mktemp("staged")
    assert run_study(Staged(), workers=2, out=out, progress=False) == {"ran": 6, "skipped": 0}
    return out


@pytest.fixture
def store(swept, tmp_path):
    """A copy of the swept store that a test may change."""
    shutil.copytree(swept / "runs", tmp_path / "runs")
    return tmp_path


def test_a_needed_runs_key_is_part_of_the_key():
    made = Run({}, {"seed": 0, "size": 1}, MAKE)
    other = Run({}, {"seed": 1, "size": 1}, MAKE)
    use = Run({"x": 1}, {"scale": 1}, USE, needs=(made,))
    assert use.key != Run({}, {"scale": 1}, USE, needs=(other,)).key
    assert use.key == Run({"y": 2}, {"scale": 1}, USE, needs=(Run({}, {"seed": 0, "size": 1}, MAKE),)).key
    assert made.key == Run({}, {"seed": 0, "size": 1}, MAKE, needs=()).key  # no needs: the key of before


def test_stages_run_in_order_and_artifacts_travel_through_the_store(store):
    tmp_path = store
    stored = records(tmp_path)
    made = {r["tags"]["seed"]: r for r in stored if r["tags"]["stage"] == "make"}
    for record in (r for r in stored if r["tags"]["stage"] == "use"):
        upstream = made[record["tags"]["seed"]]
        assert record["needs"] == [upstream["key"]]
        assert record["result"]["digest"] == upstream["result"]["digest"]
        assert record["result"]["length"] == 32 * 1000 * record["tags"]["scale"]
    for record in made.values():
        assert record["artifacts"] == ["blob.bin"]
        assert (tmp_path / "runs" / record["key"] / "blob.bin").stat().st_size == 32 * 1000
    assert run_study(Staged(), workers=2, out=tmp_path, progress=False) == {"ran": 0, "skipped": 6}


def test_a_lost_artifact_makes_its_run_run_again_before_the_runs_that_need_it(store):
    tmp_path = store
    made = next(r for r in records(tmp_path) if r["tags"] == {"stage": "make", "seed": 0})
    use = [r for r in records(tmp_path) if r["tags"]["stage"] == "use" and r["tags"]["seed"] == 0]
    (tmp_path / "runs" / made["key"] / "blob.bin").unlink()
    (tmp_path / "runs" / f"{use[0]['key']}.json").unlink()
    # one use run is missing; its upstream has lost its artifact, so it runs again first, and the other use run,
    # whose record keeps the digest of what it received, runs again from the new outcome (it cannot be checked)
    assert run_study(Staged(), seeds=[0], workers=1, out=tmp_path, progress=False) == {"ran": 3, "skipped": 0}
    assert (tmp_path / "runs" / made["key"] / "blob.bin").is_file()


def test_a_stored_run_that_lost_an_artifact_is_incomplete_and_made_again_with_the_runs_that_need_it(store):
    tmp_path = store
    made = next(r for r in records(tmp_path) if r["tags"] == {"stage": "make", "seed": 0})
    for record in records(tmp_path):  # as stored before digests: nothing but the lost file shows the loss
        record.pop("upstream_sha256", None)
        (tmp_path / "runs" / f"{record['key']}.json").write_text(json.dumps(record))
    (tmp_path / "runs" / made["key"] / "blob.bin").unlink()
    label = Run(made["tags"], {}).label
    assert [line for line in status(Staged(), out=tmp_path).splitlines() if "incomplete" in line] == \
        [f"  incomplete: {label} (its record lists blob.bin, which the store has lost; `run` makes it again, "
         "and the runs that need it after it)"]
    assert run_study(Staged(), workers=1, out=tmp_path, progress=False) == {"ran": 3, "skipped": 3}
    assert (tmp_path / "runs" / made["key"] / "blob.bin").is_file()
    assert "incomplete" not in status(Staged(), out=tmp_path)


def test_a_run_made_from_an_earlier_result_of_a_run_it_needs_is_out_of_date(store):
    tmp_path = store
    made = next(r for r in records(tmp_path) if r["tags"] == {"stage": "make", "seed": 0})
    blob = tmp_path / "runs" / made["key"] / "blob.bin"
    use, unrecorded = (r for r in records(tmp_path) if r["tags"]["stage"] == "use" and r["tags"]["seed"] == 0)
    assert use["upstream_sha256"] == {made["key"]: handed(tmp_path, made)}
    del unrecorded["upstream_sha256"]  # as stored before digests were recorded: only its finishing time is known
    (tmp_path / "runs" / f"{unrecorded['key']}.json").write_text(json.dumps(unrecorded))
    assert "out of date" not in status(Staged(), out=tmp_path)

    other = b"another outcome" * 3  # the make run stored again with another outcome (as on another machine)
    blob.write_bytes(other)
    made["result"]["digest"] = hashlib.sha256(other).hexdigest()
    (tmp_path / "runs" / f"{made['key']}.json").write_text(json.dumps(made))
    assert [line for line in status(Staged(), out=tmp_path).splitlines() if "out of date" in line] == \
        [out_of_date(use)]
    assert run_study(Staged(), workers=1, out=tmp_path, progress=False) == {"ran": 1, "skipped": 5}
    again = json.loads((tmp_path / "runs" / f"{use['key']}.json").read_text())
    assert again["result"]["digest"] == made["result"]["digest"]
    assert again["result"]["length"] == len(other) * again["tags"]["scale"]
    assert "out of date" not in status(Staged(), out=tmp_path)
    assert run_study(Staged(), workers=1, out=tmp_path, progress=False) == {"ran": 0, "skipped": 6}

    # a run without a digest is out of date once a run it needs is stored after it finished
    made["finished"] = "2999-01-01T00:00:00+00:00"
    (tmp_path / "runs" / f"{made['key']}.json").write_text(json.dumps(made))
    assert [line for line in status(Staged(), out=tmp_path).splitlines() if "out of date" in line] == \
        [out_of_date(unrecorded)]
    assert run_study(Staged(), workers=1, out=tmp_path, progress=False) == {"ran": 1, "skipped": 5}
    assert "upstream_sha256" in json.loads((tmp_path / "runs" / f"{unrecorded['key']}.json").read_text())


def test_runs_that_need_a_run_made_again_are_made_again_after_it(store):
    tmp_path = store
    made_path = next(tmp_path / "runs" / f"{r['key']}.json" for r in records(tmp_path)
                     if r["tags"] == {"stage": "make", "seed": 0})
    made = json.loads(made_path.read_text())
    del made["provenance"]  # made by unknown code, so --rerun-before makes it again ...
    made["result"]["earlier"] = True  # ... and its new result differs from the stored one
    made_path.write_text(json.dumps(made))
    for path in (tmp_path / "runs").glob("*.json"):  # the use runs were made from the stored result
        use = json.loads(path.read_text())
        if use["tags"]["stage"] == "use" and use["tags"]["seed"] == 0:
            use["upstream_sha256"] = {made["key"]: handed(tmp_path, made)}
            path.write_text(json.dumps(use))
    assert "out of date" not in status(Staged(), seeds=[0], out=tmp_path)
    # two workers: the use runs would start beside the make run if they did not wait for its new result
    assert run_study(Staged(), seeds=[0], workers=2, out=tmp_path, progress=False, rerun_before=code()["commit"]) \
        == {"ran": 3, "skipped": 0}
    new = json.loads(made_path.read_text())
    assert "earlier" not in new["result"]
    for use in (r for r in records(tmp_path) if r["tags"]["stage"] == "use" and r["tags"]["seed"] == 0):
        assert use["upstream_sha256"] == {new["key"]: handed(tmp_path, new)}


def test_a_failed_upstream_run_stops_the_runs_that_need_it(tmp_path):
    with pytest.raises(RunFailed, match=r"stage=make seed=0 .*ValueError"):
        run_study(Staged(size=0), seeds=[0], workers=1, out=tmp_path, progress=False)
    assert not list((tmp_path / "runs").glob("*.json"))  # the runs that need it never started


def test_every_stored_run_records_its_provenance(store):
    tmp_path = store
    provenance = records(tmp_path)[0]["provenance"]
    assert provenance["commit"] == code()["commit"] and isinstance(provenance["dirty"], bool)
    assert set(provenance["versions"]) == {"mnist1d-hf", "torch", "lightning", "numpy", "scipy"}
    assert provenance["torch_threads"] == 1 and provenance["cpu_capability"]
    text = report(Staged(), out=tmp_path)
    assert f"Made by: commit {code()['commit'][:8]}" in text
    assert "6 stored, 0 missing" in status(Staged(), out=tmp_path)


def test_rerun_before_a_commit_reruns_the_runs_of_older_or_unknown_code(store):
    tmp_path = store
    head = code()["commit"]
    assert not is_older({"commit": head}, head)
    assert is_older(None, head) and is_older({"commit": "unknown"}, head)
    parent = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD~1"], capture_output=True, text=True).stdout
    assert is_older({"commit": parent.strip()}, head) and not is_older({"commit": head}, parent.strip())
    with pytest.raises(ValueError, match="not known"):
        is_older({"commit": head}, "no-such-commit")

    assert run_study(Staged(), seeds=[0], workers=1, out=tmp_path, progress=False, rerun_before=head) == \
        {"ran": 0, "skipped": 3}
    for path in (tmp_path / "runs").glob("*.json"):  # as if made before provenance was recorded
        record = json.loads(path.read_text())
        del record["provenance"]
        path.write_text(json.dumps(record))
    assert "unknown code" in status(Staged(), seeds=[0], out=tmp_path)
    assert run_study(Staged(), seeds=[0], workers=1, out=tmp_path, progress=False, rerun_before=head) == \
        {"ran": 3, "skipped": 0}


def test_ad_hoc_options_report_outside_the_canonical_folder(swept, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", tmp_path)
    study = Staged()
    assert output_dir(study) == tmp_path / "staged"
    assert output_dir(study, seeds=[0, 1]) == tmp_path / "staged"  # the declared seeds: canonical
    assert output_dir(study, seeds=[9]) == tmp_path / "staged" / "adhoc" / "seeds-9"
    assert output_dir(study, quick=True) == tmp_path / "staged" / "adhoc" / "quick"
    assert output_dir(study, quick=True, seeds=[9]) == tmp_path / "staged" / "adhoc" / "quick-seeds-9"

    shutil.copytree(swept / "runs", tmp_path / "staged" / "runs")
    report(study)
    canonical = {p: p.read_bytes() for p in (tmp_path / "staged").rglob("*") if p.is_file()}
    # seeds 0 and 9: seed 0's runs are read from the canonical store, seed 9's stored in the ad-hoc one
    assert run_study(study, seeds=[0, 9], workers=1, progress=False) == {"ran": 3, "skipped": 3}
    report(study, seeds=[0, 9])
    assert {p: p.read_bytes() for p in canonical} == canonical
    assert not [p for p in (tmp_path / "staged").rglob("*") if p.is_file() and p not in canonical
                and "adhoc" not in p.parts]
    page = (tmp_path / "staged" / "adhoc" / "seeds-0-9" / "table.md").read_text()
    assert "python -m experiments report staged --seeds 0 9" in page


def test_the_command_line_refuses_bad_input_in_one_line(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)

    zero = run("run", "table1", "--quick", "--workers", "0", "--out", str(tmp_path / "a"))
    assert zero.returncode == 2 and "--workers: 0: expected at least 1" in zero.stderr
    unwritable = run("run", "table1", "--quick", "--out", "/proc/nope")
    assert unwritable.returncode == 3
    assert unwritable.stderr.strip().splitlines()[-1].startswith("error: cannot write the results /proc/nope")
    assert "Traceback" not in unwritable.stderr
    unknown = run("run", "table1", "--rerun-before", "no-such-commit", "--out", str(tmp_path / "b"))
    assert unknown.returncode == 2 and unknown.stderr.strip() == \
        "error: commit 'no-such-commit' is not known to the checkout's git history"
