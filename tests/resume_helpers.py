"""Kill a ``cli.py fit`` run with SIGKILL mid-training, resume it with ``--ckpt_path last``, and compare the
result with an uninterrupted run, bit for bit.

Use ``kill_and_resume(config, tmp_path, kill_after_step=k)``: it writes ``config`` (a LightningCLI config dict,
without callbacks or logger) to YAML and runs, each in its own process,

1. an uninterrupted ``fit`` (in this process, through ``build_cli``: the same code as ``cli.py``);
2. the same ``fit`` in a subprocess (``cli.py``), killed with SIGKILL by this process once the checkpoint of step
   ``kill_after_step`` is complete (``ModelCheckpoint(every_n_train_steps=every, save_last=True)``);
   ``SlowSteps`` makes every step sleep a little, so the kill lands mid-run and never during a file write;
3. ``fit --ckpt_path last`` in the killed run's checkpoint folder, to the end (in this process, like 1: only the
   killed run needs a process of its own).

It returns both runs' final checkpoints and logged metrics (``RunResult``); ``assert_identical`` compares
them: every tensor of the model, optimizer and callback states, the loops' counters, and every metric value the
resumed run logged against the uninterrupted run's value at the same step. Callbacks under test (for example a
module's own checkpointed callback) go in ``config["trainer"]["callbacks"]`` and are kept in all three runs.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


class SlowSteps(L.Callback):
    """Sleep ``seconds`` at the start of every training step, after writing the step number to ``heartbeat``.

    The sleep makes an external kill land mid-run rather than after the end; the heartbeat tells the killer
    that the previous step's checkpoint is complete and that the process is sleeping, not writing a file.
    """

    def __init__(self, heartbeat: str, seconds: float = 0.1) -> None:
        self.heartbeat, self.seconds = Path(heartbeat), seconds

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        tmp = self.heartbeat.with_suffix(".tmp")
        tmp.write_text(str(trainer.global_step))
        os.replace(tmp, self.heartbeat)
        time.sleep(self.seconds)


@dataclass
class RunResult:
    checkpoint: dict[str, Any]  # the final ``last.ckpt``
    metrics: dict[tuple[int, str], str]  # (step, name) -> the CSV's text of the value
    killed_at: int | None = None  # the step of the last checkpoint before the kill (resumed runs)


def _with_checkpoints(config: dict[str, Any], ckpt_dir: Path, log_dir: Path, every: int,
                      slow: float) -> dict[str, Any]:
    config = copy.deepcopy(config)
    trainer = config.setdefault("trainer", {})
    callbacks = list(trainer.get("callbacks") or [])
    callbacks.append({"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                      "init_args": {"dirpath": str(ckpt_dir), "filename": "{step}", "every_n_train_steps": every,
                                    "save_top_k": -1, "save_last": True}})
    if slow:
        callbacks.append({"class_path": "resume_helpers.SlowSteps",
                          "init_args": {"heartbeat": str(log_dir.parent / "heartbeat"), "seconds": slow}})
    trainer.update(callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False,
                   logger={"class_path": "lightning.pytorch.loggers.CSVLogger",
                           "init_args": {"save_dir": str(log_dir), "name": "", "version": ""}})
    return config


def _cli(config_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, str(REPO / "cli.py"), "fit", "--config", str(config_path), *extra],
                            cwd=config_path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _metrics(log_dir: Path) -> dict[tuple[int, str], str]:
    path = log_dir / "metrics.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {(int(row["step"]), key): value for row in rows for key, value in row.items()
            if key not in ("step", "epoch") and value != ""}


def _load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def run_uninterrupted(config: dict[str, Any], root: Path, every: int = 1) -> RunResult:
    """One ``fit`` from start to end, checkpointing like the interrupted run, through the same CLI class as
    ``cli.py`` but in this process (it saves a process start; the killed run is the one that needs a process)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(_with_checkpoints(config, root / "ckpt", root / "logs", every, slow=0)))
    fit_in_process(path)
    return RunResult(_load(root / "ckpt" / "last.ckpt"), _metrics(root / "logs"))


def fit_in_process(config_path: Path, *extra: str) -> None:
    """``cli.py fit --config config_path *extra`` in this process (``build_cli``, what ``cli.py`` runs), leaving
    torch's thread count as it was."""
    from lightning_modules.cli import build_cli

    threads = torch.get_num_threads()
    try:
        build_cli(["fit", "--config", str(config_path), *extra])
    finally:
        torch.set_num_threads(threads)


def run_killed_and_resumed(config: dict[str, Any], root: Path, kill_after_step: int, every: int = 1,
                           slow: float = 0.1, timeout: float = 240) -> RunResult:
    """``cli.py fit`` killed with SIGKILL once step ``kill_after_step``'s checkpoint is complete (the first
    heartbeat of a later step), while it sleeps between steps; then resumed with ``--ckpt_path last`` (in this
    process)."""
    root.mkdir(parents=True, exist_ok=True)
    killed_config = root / "killed.yaml"
    killed_config.write_text(yaml.safe_dump(_with_checkpoints(config, root / "ckpt", root / "killed_logs", every,
                                                              slow)))
    process = _cli(killed_config)
    heartbeat = root / "heartbeat"
    deadline = time.monotonic() + timeout
    while not (heartbeat.exists() and int(heartbeat.read_text() or -1) > kill_after_step):
        assert process.poll() is None, f"the run ended before step {kill_after_step}: {process.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline, f"no step after {kill_after_step} within {timeout} s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    killed_at = _load(root / "ckpt" / "last.ckpt")["global_step"]

    resumed_config = root / "resumed.yaml"
    resumed_config.write_text(yaml.safe_dump(_with_checkpoints(config, root / "ckpt", root / "resumed_logs", every,
                                                               slow=0)))
    fit_in_process(resumed_config, "--ckpt_path", "last")
    return RunResult(_load(root / "ckpt" / "last.ckpt"), _metrics(root / "resumed_logs"), killed_at)


def kill_and_resume(config: dict[str, Any], tmp_path: Path, kill_after_step: int, every: int = 1,
                    slow: float = 0.1) -> tuple[RunResult, RunResult]:
    """(uninterrupted, killed-and-resumed) runs of ``config``; see the module docstring."""
    return (run_uninterrupted(config, tmp_path / "uninterrupted", every),
            run_killed_and_resumed(config, tmp_path / "interrupted", kill_after_step, every, slow))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}/{key}").items()}
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f"{prefix}/{i}").items()}
    return {prefix: value}


def assert_identical(expected: RunResult, resumed: RunResult,
                     parts: tuple[str, ...] = ("state_dict", "optimizer_states", "callbacks", "loops")) -> None:
    """The same final checkpoint, bit for bit, and the same values for every metric the resumed run logged."""
    assert expected.checkpoint["global_step"] == resumed.checkpoint["global_step"]
    for part in parts:
        a, b = _flatten(expected.checkpoint.get(part)), _flatten(resumed.checkpoint.get(part))
        if part == "callbacks":  # the checkpoint callback records its own (different) folder
            a, b = ({k: v for k, v in d.items() if "ModelCheckpoint" not in k} for d in (a, b))
        assert a.keys() == b.keys(), f"{part}: keys differ: {sorted(a.keys() ^ b.keys())[:5]}"
        for key in a:
            x, y = a[key], b[key]
            if isinstance(x, torch.Tensor):
                assert isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y), f"{part}{key} differs"
            else:
                assert x == y, f"{part}{key}: {x!r} != {y!r}"
    assert resumed.metrics, "the resumed run logged nothing"
    for key, value in resumed.metrics.items():
        assert expected.metrics.get(key) == value, f"metric {key}: {expected.metrics.get(key)} != {value}"


def kill_sweep_after_first_run(command: list[str], store: Path, cwd: Path, env: dict[str, str],
                               timeout: float = 300) -> dict[str, str]:
    """Start a study sweep (``command``) in its own process group, SIGKILL the whole group (driver and workers)
    as soon as a first run is stored in ``store/runs/``, and return the stored files' contents by name."""
    log = cwd / "killed_sweep.log"
    with open(log, "w") as stderr:
        sweep = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=stderr)
        try:
            deadline = time.monotonic() + timeout
            while not list((store / "runs").glob("*.json")):
                assert sweep.poll() is None, f"the sweep ended before storing a run: {log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"no run stored within {timeout} s: {log.read_text()[-3000:]}"
                time.sleep(0.1)
        finally:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait()
    return {p.name: p.read_text() for p in sorted((store / "runs").glob("*.json"))}


SWEEP_DRIVER = textwrap.dedent("""
    import sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from tiny_study import Tiny
    from experiments.runner import run_study
    counts = run_study(Tiny(), workers=1, out={out!r}, progress=False, **{backend!r})
    print("ran {{ran}}, skipped {{skipped}}".format(**counts))
""")


def a_killed_sweep_resumes(tmp_path: Path, env: dict[str, str], **backend: Any) -> None:
    """``Tiny``'s sweep (4 runs) in a driver process of its own, with ``run_study`` options ``backend``, SIGKILLed
    with its workers once a first run is stored, then started again: it runs only the missing runs, the stored files
    stay byte for byte, and the results equal a local sweep's in this process."""
    from tiny_study import Tiny

    from experiments.runner import run_study
    from experiments.runs import ROOT

    out = tmp_path / "store"
    script = SWEEP_DRIVER.format(tests=str(Path(__file__).resolve().parent), root=str(ROOT), out=str(out),
                                 backend=backend)
    before = kill_sweep_after_first_run([sys.executable, "-c", script], out, tmp_path, env)
    assert 1 <= len(before) < 4
    assert not list((out / "runs").glob(".*.tmp*"))  # nothing half-written

    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ran {4 - len(before)}, skipped {len(before)}" in done.stdout
    after = {p.name: p.read_text() for p in (out / "runs").glob("*.json")}
    assert len(after) == 4 and {k: after[k] for k in before} == before

    run_study(Tiny(), workers=1, out=tmp_path / "local", progress=False)
    assert results_by_key(out) == results_by_key(tmp_path / "local")


def results_by_key(store: Path) -> dict[str, Any]:
    """Each stored run's result, by run key."""
    return {p.stem: json.loads(p.read_text())["result"] for p in (store / "runs").glob("*.json")}
