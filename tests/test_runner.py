"""The studies runner: run keys, the store that skips finished runs, resuming a killed sweep, workers that do not
change results, failures that name the run, and reports written from the store alone."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from resume_helpers import a_killed_sweep_resumes
from tiny_study import Tiny

from experiments import backends
from experiments.backends import RunFailed
from experiments.runner import report, run_study
from experiments.runs import FIT, ROOT, Run, fit_run, load_config, merge, override
from lightning_modules.member_batches import BATCH_ORDER_SEED


def stored(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "runs").glob("*.json"))}


def test_run_key_is_the_config_and_task_not_the_tags():
    config = override(load_config("configs/logistic.yaml"), seed_everything=3)
    assert Run({"a": 1}, config).key == Run({"b": 2}, config).key
    assert Run({}, config).key != Run({}, override(config, seed_everything=4)).key
    assert Run({}, config).key != Run({}, config, task="experiments.tasks:other").key


def test_override_and_merge_follow_the_command_line():
    base = {"model": {"init_args": {"net": {"class_path": "A", "init_args": {"x": 1}}}}, "trainer": {"callbacks": [1]}}
    merged = merge(base, {"model": {"init_args": {"net": {"init_args": {"y": 2}}}}, "trainer": {"callbacks": [2]}})
    assert merged["model"]["init_args"]["net"] == {"class_path": "A", "init_args": {"x": 1, "y": 2}}
    assert merged["trainer"]["callbacks"] == [2]  # lists replace, as with repeated --config
    assert override(base, **{"model.init_args.net.init_args.x": 5})["model"]["init_args"]["net"]["init_args"]["x"] == 5
    assert base["model"]["init_args"]["net"]["init_args"]["x"] == 1  # copies, never edits in place
    with pytest.raises(ValueError, match="trainer.callbacks.x"):
        override(base, **{"trainer.callbacks.x": 1})


def test_fit_runs_are_quiet_and_single_threaded():
    run = fit_run({}, load_config("configs/cnn.yaml"))
    trainer = run.config["trainer"]
    assert trainer["logger"] is False and trainer["enable_checkpointing"] is False
    assert not any("ModelCheckpoint" in str(c) for c in trainer["callbacks"])
    assert run.config["torch_threads"] == 1


def test_results_do_not_depend_on_workers_and_finished_runs_are_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the workers' working directory: runs must write nothing there
    one, two = tmp_path / "one", tmp_path / "two"
    # every run alone on both sides: a population's losses differ from a single run's in the last bit
    # (test_populations_... compares the two)
    separate = {"progress": False, "populations": False}
    assert run_study(Tiny(), seeds=[0], workers=1, out=one, **separate) == {"ran": 2, "skipped": 0}
    first = stored(one)
    assert run_study(Tiny(), workers=1, out=one, **separate) == {"ran": 2, "skipped": 2}
    assert {k: v for k, v in stored(one).items() if k in first} == first  # finished runs untouched
    assert run_study(Tiny(), workers=2, out=two, **separate) == {"ran": 4, "skipped": 0}

    def results(root):
        return {k: json.loads(v)["result"] for k, v in stored(root).items()}
    assert results(one) == results(two) and len(results(one)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # nothing outside the stores


def test_report_reads_the_store_alone(tmp_path, monkeypatch):
    run_study(Tiny(), seeds=[0, 1], workers=2, out=tmp_path, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("report must not train")
    monkeypatch.setattr(backends, "local", no_training)
    text = report(Tiny(), out=tmp_path)
    records = [json.loads(v) for v in stored(tmp_path).values()]
    logistic = sorted((r for r in records if r["tags"]["model"] == "logistic"), key=lambda r: r["tags"]["seed"])
    expected = ", ".join(f"{100 * r['result']['final']['val/acc']:.2f}" for r in logistic)
    assert f"logistic accuracy: {expected}" in text
    assert "| logistic learns something | x | y | holds |" in text
    summary = json.loads((tmp_path / "results.json").read_text())
    assert len(summary["runs"]) == 4 and summary["missing"] == []
    assert (tmp_path / "table.md").read_text() == text


def test_a_failed_run_is_named_and_the_others_are_kept(tmp_path):
    with pytest.raises(RunFailed, match=r"model=mlp seed=0 .*batch_size"):
        run_study(Tiny(bad=True), seeds=[0], workers=1, out=tmp_path, progress=False)
    assert [json.loads(v)["tags"] for v in stored(tmp_path).values()] == [{"model": "logistic", "seed": 0}]


def test_a_killed_sweep_resumes_with_only_the_missing_runs(tmp_path):
    """SIGKILL a sweep's driver and workers after its first stored run, then run it again."""
    a_killed_sweep_resumes(tmp_path, dict(os.environ, HF_HUB_OFFLINE="1"))


def test_command_line_lists_the_studies_and_refuses_unknown_ones():
    listed = subprocess.run([sys.executable, "-m", "experiments", "list"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "table1" in listed.stdout and "24/24" in listed.stdout
    unknown = subprocess.run([sys.executable, "-m", "experiments", "run", "nope"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert unknown.returncode == 2 and "invalid choice: 'nope'" in unknown.stderr


def test_populations_train_a_points_seeds_at_once_and_store_each_seed(tmp_path):
    """With populations, seeds that differ only in ``seed_everything`` become one population job; each seed is stored
    under its separate run's key with the single run's metric names and numbers (to float rounding); networks
    vmap cannot batch (the GRU) stay separate runs."""
    from experiments.runner import plan
    from experiments.table1 import Table1

    jobs = plan(Table1().runs(quick=True, seeds=[0, 1, 2]), populations=True)
    populations = {job.members[0].tags["model"] for job in jobs if job.seeds is not None}
    assert populations == {"logistic", "mlp", "cnn"}
    assert all(len(job.members) == 1 for job in jobs if job.members[0].tags["model"] == "gru")
    assert all(job.seeds is None for job in plan(Table1().runs(quick=True, seeds=[0, 1, 2]), populations=False))

    separate, pooled = tmp_path / "separate", tmp_path / "pooled"
    run_study(Tiny(), workers=1, out=separate, progress=False, populations=False)
    assert run_study(Tiny(), workers=1, out=pooled, progress=False, populations=True) == {"ran": 4, "skipped": 0}
    records = {k: json.loads(v) for k, v in stored(pooled).items()}
    assert set(records) == set(stored(separate)) and all(r["population"]["seeds"] == [0, 1] for r in records.values())
    assert all("population" not in json.loads(v) for v in stored(separate).values())
    for key, record in records.items():
        expected = json.loads(stored(separate)[key])["result"]["history"]
        assert [row.keys() for row in record["result"]["history"]] == [row.keys() for row in expected]
        for got, want in zip(record["result"]["history"], expected):
            # equal up to float rounding: vmap reduces in another order (and a population's error is 1 - acc)
            assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def double_descent_like(width: int, seed: int, **options) -> Run:
    """A double-descent point in small: the MLP of width ``width`` with seed S (``seed_everything`` S and the
    data module's batch-order seed S), SGD with momentum, batches reshuffled every epoch, 12 steps."""
    config = override(load_config("configs/double_descent_mlp.yaml"), **{
        "model.init_args.net.init_args.hidden_size": width, "seed_everything": seed, f"data.{BATCH_ORDER_SEED}": seed,
        "data.train_subset": 400, "trainer.max_steps": 12, "trainer.val_check_interval": 6, **options})
    return fit_run({"width": width, "seed": seed}, config)


def test_seeds_with_their_own_batch_orders_pool_and_member_k_is_seed_ks_run(one_torch_thread):
    """Double descent's seeds differ in their init and their batch order: they become one population whose
    member k trains on seed k's batches, and its result is seed k's single run's (to float rounding)."""
    from experiments.backends import execute
    from experiments.runner import plan, split

    runs = [double_descent_like(12, seed) for seed in (0, 1, 2)]
    [job] = plan(runs, populations=True)
    assert job.members == tuple(runs) and job.seeds == (0, 1, 2)
    assert job.config["model"]["init_args"]["batch_seeds"] == [0, 1, 2]
    finished, _ = execute(job.task, job.config)
    singles = {}
    for run, result in split(job, finished.result):
        expected = singles[run.tags["seed"]] = execute(run.task, run.config)[0].result
        assert [row["step"] for row in result["history"]] == [row["step"] for row in expected["history"]] == [6, 12]
        assert result["final"].keys() == expected["final"].keys()
        for got, want in zip(result["history"], expected["history"]):
            assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    # the batch order matters at that tolerance: seed 2's run on seed 0's batches is another run
    other = execute(FIT, override(runs[2].config, **{f"data.{BATCH_ORDER_SEED}": 0}))[0].result
    assert other["final"]["train_eval/loss"] != pytest.approx(singles[2]["final"]["train_eval/loss"], rel=1e-5)


def test_plan_pools_only_runs_that_differ_by_their_seeds():
    from experiments.runner import plan

    widths = [double_descent_like(width, seed) for width in (12, 16) for seed in (0, 1)]
    jobs = plan(widths, populations=True)
    assert [[run.tags for run in job.members] for job in jobs] == [
        [{"width": 12, "seed": 0}, {"width": 12, "seed": 1}], [{"width": 16, "seed": 0}, {"width": 16, "seed": 1}]]
    lr = [double_descent_like(12, 0), double_descent_like(12, 1, **{"model.init_args.optimizer.init_args.lr": 0.1})]
    assert [job.seeds for job in plan(lr, populations=True)] == [None, None]
    # refused, so separate runs: the GRU (vmap has no rule for it), a holdout carved with each member's seed,
    # one seed twice, runs that need different runs, a task with no population form
    gru = [fit_run({"seed": s}, override(load_config("configs/gru.yaml"), seed_everything=s)) for s in (0, 1)]
    holdout = [double_descent_like(12, s, **{"data.validation": "holdout"}) for s in (0, 1)]
    twice = [double_descent_like(12, 0), double_descent_like(12, 0, **{f"data.{BATCH_ORDER_SEED}": 1})]
    needs = [Run({"seed": s}, widths[s].config, needs=(widths[2 + s],)) for s in (0, 1)]  # different upstreams
    other_task = [Run({"seed": s}, widths[s].config, task="experiments.per_class:predict_checkpoint")
                  for s in (0, 1)]
    for runs in (gru, holdout, twice, needs, other_task):
        jobs = plan(runs, populations=True)
        assert [(job.members, job.seeds) for job in jobs] == [((run,), None) for run in runs]


def test_populations_are_off_by_default_and_the_flag_turns_them_on():
    """Off unless asked: a member equals its single run only to float rounding, so a sweep's stored numbers
    would otherwise depend on which of a point's seeds happened to be missing."""
    from experiments.__main__ import parser

    assert parser().parse_args(["run", "table1"]).populations is False
    assert parser().parse_args(["run", "table1", "--populations"]).populations is True
    assert parser().parse_args(["run", "table1", "--no-populations"]).populations is False
    assert inspect.signature(run_study).parameters["populations"].default is False


def test_table1_max_steps_scales_every_run_and_keeps_the_rest_of_the_protocol():
    from experiments.table1 import Table1

    protocol, scaled = Table1().runs(False, [0, 1]), Table1(max_steps=500).runs(False, [0, 1])
    assert [r.tags for r in scaled] == [r.tags for r in protocol]
    for short, full in zip(scaled, protocol):
        assert short.config["trainer"]["max_steps"] == 500 and full.config["trainer"]["max_steps"] == 6000
        assert override(short.config, **{"trainer.max_steps": 6000}) == full.config
    assert Table1(max_steps=500).runs(True, [0])[0].config["trainer"]["max_steps"] == 500  # wins over --quick
    with pytest.raises(ValueError, match="max_steps=0 is invalid"):
        Table1(max_steps=0)
