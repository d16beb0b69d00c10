"""``--ckpt_path last``/``best`` mean the latest run of the config; nothing to resume is one line; no run overwrites
another's checkpoints; Ctrl-C and SIGTERM stop ``cli.py fit`` after saving its step (exit 130, 143); and a run
killed with SIGKILL, resumed, stopped with Ctrl-C and resumed again ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from lightning_modules.cli import build_cli, main
from lightning_modules.resume import NothingToLoadError, resolve_ckpt_path
from mnist1d_hf.errors import EXIT_BAD_INPUT, EXIT_IO, ConfigError
from resume_helpers import REPO, TESTS, RunResult, _metrics, assert_identical

# every shipped config that runs on its own, and the overlays on the config they extend
SHIPPED = ["cli.yaml", *[f"configs/{p.name}" for p in sorted((REPO / "configs").glob("*.yaml"))
                         if p.name not in ("shuffled.yaml", "population_seeds.yaml", "simclr_deep_projector.yaml",
                                           "simclr_no_projector.yaml")],
           "configs/cnn.yaml configs/shuffled.yaml", "configs/mlp.yaml configs/population_seeds.yaml",
           "configs/simclr.yaml configs/simclr_deep_projector.yaml",
           "configs/simclr.yaml configs/simclr_no_projector.yaml"]


def config_args(configs: str) -> list[str]:
    return [arg for path in configs.split() for arg in ("--config", str(REPO / path))]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("configs", SHIPPED)
def test_every_shipped_config_resumes_the_latest_run_and_keeps_each_runs_checkpoints(configs, tmp_path,
                                                                                      monkeypatch):
    tmp_path = tmp_path.resolve()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    threads = torch.get_num_threads()
    try:
        trainer = build_cli(config_args(configs), run=False).trainer
    finally:
        torch.set_num_threads(threads)
    callback = trainer.checkpoint_callback
    assert callback.dirpath is None  # each run's checkpoints in its own version_N folder: none overwrites another
    runs = tmp_path / "lightning_logs" / trainer.logger.name
    with pytest.raises(NothingToLoadError, match=rf"^--ckpt_path last: nothing to load: no run of this config has "
                                                 rf"saved lightning_logs/{trainer.logger.name}/version_\*/"):
        resolve_ckpt_path("last", trainer)
    touch(runs / "version_2" / "checkpoints" / "last.ckpt")
    touch(runs / "version_10" / "checkpoints" / "last.ckpt")  # the latest: 10 > 2, not "version_10" < "version_2"
    (runs / "version_11").mkdir()  # a later `test` run, which saves no checkpoint
    assert Path(resolve_ckpt_path("last", trainer)).resolve() == runs / "version_10" / "checkpoints" / "last.ckpt"
    assert resolve_ckpt_path("some/file.ckpt", trainer) == "some/file.ckpt"
    if callback.monitor is None:
        with pytest.raises(ConfigError, match="^--ckpt_path best: this config selects no best checkpoint"):
            resolve_ckpt_path("best", trainer)
    else:  # cli.yaml: the best on its held-out validation
        touch(runs / "version_2" / "checkpoints" / "best.ckpt")
        assert Path(resolve_ckpt_path("best", trainer)).resolve() == runs / "version_2" / "checkpoints" / "best.ckpt"


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("command, code, message", [
    ("fit --config configs/cnn.yaml --ckpt_path last", EXIT_IO,
     "error: --ckpt_path last: nothing to load: no run of this config has saved "
     "lightning_logs/cnn/version_*/checkpoints/last.ckpt yet (run fit without --ckpt_path first)"),
    ("test --config cli.yaml --ckpt_path best", EXIT_IO,
     "error: --ckpt_path best: nothing to load: no run of this config has saved "
     "lightning_logs/cli/version_*/checkpoints/best.ckpt yet (run fit without --ckpt_path first)"),
    ("test --config configs/cnn.yaml --ckpt_path best", EXIT_BAD_INPUT,
     "error: --ckpt_path best: this config selects no best checkpoint (its ModelCheckpoint monitors no metric); "
     "use --ckpt_path last or the path of a checkpoint file"),
])
def test_nothing_to_load_is_one_line_and_no_fresh_start(command, code, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    subcommand, _, path, *rest = command.split()
    assert main([subcommand, "--config", str(REPO / path), *rest]) == code
    assert one_error_line(capsys.readouterr().err) == message
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_the_entry_point_says_it_in_one_line(tmp_path):
    """``python cli.py`` itself, warnings left on (the in-process tests above and in ``test_errors`` check each
    message): the exit code, one line on stderr, nothing on stdout, nothing written."""
    done = subprocess.run([sys.executable, str(REPO / "cli.py"), "test", "--config", str(REPO / "configs/cnn.yaml"),
                           "--ckpt_path", "best"], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == EXIT_BAD_INPUT and done.stdout == ""
    assert one_error_line(done.stderr).startswith("error: --ckpt_path best: this config selects no best checkpoint")
    assert list(tmp_path.iterdir()) == []


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_second_fit_keeps_the_first_runs_checkpoints(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    short = ["--config", str(REPO / "cli.yaml"), "--trainer.max_steps", "6", "--trainer.val_check_interval", "3",
             "--trainer.enable_progress_bar", "false", "--data.overrides", "{num_samples: 1000}"]
    threads = torch.get_num_threads()
    try:
        assert main(["fit", *short]) == 0
        first = tmp_path / "lightning_logs" / "cli" / "version_0" / "checkpoints"
        before = {name: digest(first / name) for name in ("best.ckpt", "last.ckpt")}
        assert main(["fit", *short, "--seed_everything", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "checkpoints: lightning_logs/cli/version_0/checkpoints (best.ckpt, last.ckpt)" in out
    assert "checkpoints: lightning_logs/cli/version_1/checkpoints (best.ckpt, last.ckpt)" in out
    assert {name: digest(first / name) for name in before} == before
    second = tmp_path / "lightning_logs" / "cli" / "version_1" / "checkpoints" / "best.ckpt"
    assert digest(second) != before["best.ckpt"]  # another seed, another network: truly a second run


# --------------------------------------------------------------------------------------------- signals, resume
STEPS = 30


def signal_config(tmp_path: Path, slow: float) -> Path:
    """configs/logistic.yaml as shipped (its logger and checkpoint callback: version_N folders, last.ckpt), made
    small: 30 steps over 5-batch epochs, a checkpoint and a validation every 5 steps; ``slow`` seconds a step."""
    config = yaml.safe_load((REPO / "configs" / "logistic.yaml").read_text())
    config["trainer"].update(max_steps=STEPS, val_check_interval=5, log_every_n_steps=1, enable_progress_bar=False,
                             enable_model_summary=False)
    (checkpoint,) = config["trainer"]["callbacks"]
    checkpoint["init_args"]["every_n_train_steps"] = 5
    if slow:
        config["trainer"]["callbacks"] = [checkpoint, {"class_path": "resume_helpers.SlowSteps", "init_args": {
            "heartbeat": str(tmp_path / "heartbeat"), "seconds": slow}}]
    config["data"].update(overrides={"num_samples": 1000}, train_subset=250, batch_size=50, ordered=False,
                          shuffle_seed=3)
    path = tmp_path / ("slow.yaml" if slow else "config.yaml")
    path.write_text(yaml.safe_dump(config))
    return path


def start_fit(config: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, str(REPO / "cli.py"), "fit", "--config", str(config), *extra],
                            cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_after_step(process: subprocess.Popen, heartbeat: Path, step: int, signum: int,
                      timeout: float = 240) -> tuple[str, str, int]:
    """Send ``signum`` while the run sleeps at the start of a step after ``step`` (the checkpoints of earlier
    steps are complete); returns stdout, stderr and the number of steps done when the signal was sent."""
    deadline = time.monotonic() + timeout
    try:
        while not (heartbeat.exists() and (done := int(heartbeat.read_text() or -1)) > step):
            assert process.poll() is None, f"the run ended before step {step}: {process.communicate()[1][-3000:]}"
            assert time.monotonic() < deadline, f"no step after {step} within {timeout} s"
            time.sleep(0.005)
        process.send_signal(signum)
        return (*process.communicate(timeout=timeout), done)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_killed_resumed_interrupted_and_resumed_again_ends_bit_identical(tmp_path, monkeypatch, capsys):
    """SIGKILL mid-run, ``--ckpt_path last`` (the killed run's version_0), Ctrl-C (exit 130 after saving its step
    in version_1), ``--ckpt_path last`` again (version_1's): the end equals an uninterrupted run, bit for bit.
    The signalled runs are ``cli.py`` processes; the last resume and the uninterrupted run, which no signal
    reaches, run ``main`` (what ``cli.py`` runs) in this process."""
    slow, fast = signal_config(tmp_path, slow=0.15), signal_config(tmp_path, slow=0)
    runs = tmp_path / "lightning_logs" / "logistic"

    signal_after_step(start_fit(slow), tmp_path / "heartbeat", 12, signal.SIGKILL)
    killed = runs / "version_0" / "checkpoints" / "last.ckpt"
    killed_at = load(killed)["global_step"]
    assert killed_at >= 10 and killed_at % 5 == 0, killed_at  # a periodic checkpoint: SIGKILL saves nothing
    killed_digest = digest(killed)

    resumed = start_fit(slow, "--ckpt_path", "last")
    out, err, sent_at = signal_after_step(resumed, tmp_path / "heartbeat", 21, signal.SIGINT)
    assert resumed.returncode == 130, err[-3000:]
    assert "--ckpt_path last: lightning_logs/logistic/version_0/checkpoints/last.ckpt" in out
    stopped = runs / "version_1" / "checkpoints" / "last.ckpt"
    stopped_at = load(stopped)["global_step"]
    assert sent_at < stopped_at < STEPS  # the step running when Ctrl-C came, finished and saved
    assert err.strip().splitlines()[-1] == (f"stopped by SIGINT after step {stopped_at}: saved "
                                            "lightning_logs/logistic/version_1/checkpoints/last.ckpt; resume with "
                                            "--ckpt_path last")
    assert "Traceback" not in err

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    threads = torch.get_num_threads()
    try:
        assert main(["fit", "--config", str(fast), "--ckpt_path", "last"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "--ckpt_path last: lightning_logs/logistic/version_1/checkpoints/last.ckpt" in out
    assert "checkpoints: lightning_logs/logistic/version_2/checkpoints (last.ckpt)" in out
    assert digest(killed) == killed_digest  # the earlier runs' checkpoints are kept as they were
    resumed_result = RunResult(load(runs / "version_2" / "checkpoints" / "last.ckpt"), _metrics(runs / "version_2"))

    uninterrupted = tmp_path / "uninterrupted"
    uninterrupted.mkdir()
    monkeypatch.chdir(uninterrupted)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    threads = torch.get_num_threads()
    try:
        build_cli(["fit", "--config", str(fast)])
    finally:
        torch.set_num_threads(threads)
    done = uninterrupted / "lightning_logs" / "logistic" / "version_0"
    expected = RunResult(load(done / "checkpoints" / "last.ckpt"), _metrics(done))
    assert resumed_result.checkpoint["global_step"] == STEPS
    assert_identical(expected, resumed_result)


def test_sigterm_saves_the_step_and_exits_143(tmp_path):
    process = start_fit(signal_config(tmp_path, slow=0.3))
    out, err, sent_at = signal_after_step(process, tmp_path / "heartbeat", 7, signal.SIGTERM)
    assert process.returncode == 143, err[-3000:]
    saved = tmp_path / "lightning_logs" / "logistic" / "version_0" / "checkpoints" / "last.ckpt"
    step = load(saved)["global_step"]
    assert sent_at < step <= sent_at + 2 and step < STEPS  # the running step finished and saved, no more
    assert err.strip().splitlines()[-1] == (f"stopped by SIGTERM after step {step}: saved "
                                            "lightning_logs/logistic/version_0/checkpoints/last.ckpt; resume with "
                                            "--ckpt_path last")
    assert "Traceback" not in err
