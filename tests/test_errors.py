"""Bad input at every user-facing entry point: one line naming the field, the value and what is allowed, the
documented exit code of its kind (``mnist1d_hf.errors``), and nothing written."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lightning_modules import MNIST1DDataModule
from lightning_modules.cli import build_cli
from lightning_modules.cli import main as lightning_main
from mnist1d_hf import load
from mnist1d_hf.cli import main
from mnist1d_hf.errors import (EXIT_BAD_INPUT, EXIT_IO, EXIT_TERMINATED, EXIT_TOO_LARGE, ConfigError, Terminated,
                               TooLargeError, exit_code, one_line, terminate_on_sigterm)

REPO = Path(__file__).resolve().parents[1]
HUGE = "final_seq_length=1000000000"


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# python -m mnist1d_hf -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, code, message", [
    (["generate", "--out", "/proc/x/y"], EXIT_IO, "error: /proc/x: No such file or directory"),
    (["plot", "--out", "/proc/x.png"], EXIT_IO, "error: /proc/x.png: No such file or directory"),
    (["generate", "--set", HUGE, "--out", "{tmp}/out"], EXIT_TOO_LARGE, "need about 74,565.4 GiB"),
    (["plot", "--set", HUGE, "--out", "{tmp}/fig.png"], EXIT_TOO_LARGE, "final_seq_length=1,000,000,000"),
    (["generate", "--set", "label_noise=2", "--out", "{tmp}/out"], EXIT_BAD_INPUT,
     "error: label_noise=2.0 is invalid: allowed a fraction in [0, 1]"),
    (["export", "--set", "seed=-1", "--name", "x", "--out", "{tmp}/out"], EXIT_BAD_INPUT,
     "error: seed=-1 is invalid: allowed 0 <= seed < 2**32"),
    (["export", "--variants", "standard", "--set", "seed=1", "--out", "{tmp}/out"], EXIT_BAD_INPUT,
     "error: --variants takes named variants"),
])
def test_dataset_commands(tmp_path, capsys, argv, code, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == code
    captured = capsys.readouterr()
    assert message in one_error_line(captured.err) and captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_module_exits_with_the_code(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mnist1d_hf", "generate", "--set", HUGE, "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == EXIT_TOO_LARGE and "need about" in one_error_line(run.stderr)
    assert list(tmp_path.iterdir()) == []


# cli.py -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, message", [
    (["--data.batch_size", "0"], "error: batch_size=0 is invalid: allowed an integer >= 1"),
    (["--data.variant", "nope"], "error: variant='nope' is invalid: allowed one of ['standard'"),
    (["--data.train_subset", "99999"], "error: train_subset=99999 is invalid: allowed at most the 3500"),
    (["--data.holdout_size", "4000"], "error: holdout_size=4000 is invalid: allowed fewer than the 4000"),
    (["--data.overrides", "{iid_noise_scale: -1}"], "error: iid_noise_scale=-1.0 is invalid: allowed >= 0"),
    (["--data.batch_size", "abc"], 'error: Parser key "data.batch_size": Expected a <class \'int\'>'),
    (["--trainer.bogus", "3"], "error: unrecognized arguments: --trainer.bogus 3"),
])
def test_cli_py_user_errors_are_one_line(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)  # cli.yaml writes lightning_logs/ under the working directory
    monkeypatch.setattr(sys, "argv", ["cli.py"])  # as from the shell: the arguments are the ones passed
    assert lightning_main(["fit", "--config", str(REPO / "cli.yaml"), *extra]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert message in one_error_line(err), err
    assert list(tmp_path.iterdir()) == []


def test_cli_py_unwritable_log_folder_is_an_io_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    args = ["fit", "--config", str(REPO / "cli.yaml"), "--trainer.max_steps", "1",
            "--trainer.logger.init_args.save_dir", "/proc/x/logs", "--trainer.callbacks", "[]"]
    assert lightning_main(args) == EXIT_IO
    assert "error: /proc/x: No such file or directory" in capsys.readouterr().err.splitlines()[-1]


def config_before_the_renames(tmp_path: Path, name: str) -> Path:
    """``configs/<name>`` as it was written before ``data.seed`` became ``data.shuffle_seed`` and PoolingCNN's
    ``variant`` became ``pooling``."""
    text = (REPO / "configs" / name).read_text()
    old = text.replace("  shuffle_seed: 0\n", "  seed: 0\n").replace("        pooling: max_pool\n",
                                                                     "        variant: max_pool\n")
    assert old != text
    path = tmp_path / "old" / name
    path.parent.mkdir()
    path.write_text(old)
    return path


RENAMED_SEED = ("error: data.seed was renamed data.shuffle_seed: it seeds only the shuffles of training rows "
                "(each epoch's batch order when not ordered, and the rows the holdout takes); the data's own seed "
                "is data.overrides.seed, the init's seed_everything")
RENAMED_POOLING = ("error: PoolingCNN's option variant was renamed pooling: the same values (no_pool, stride_2, "
                   "max_pool, avg_pool, l2_pool); variant names the dataset (data.variant)")


@pytest.mark.parametrize("config, extra, message", [
    ("double_descent_mlp.yaml", [], RENAMED_SEED),  # an old config file
    ("cli.yaml", ["--data.seed", "3"], RENAMED_SEED),  # the old option on the command line
    ("cli.yaml", ["--data.seed=3"], RENAMED_SEED),
    ("pooling.yaml", [], RENAMED_POOLING),
    ("cli.yaml", ["--data.sed", "3"], "error: unrecognized arguments: --data.sed 3"),  # not a renamed option
])
def test_cli_py_names_the_new_option_of_a_renamed_one(tmp_path, capsys, monkeypatch, config, extra, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    path = config_before_the_renames(tmp_path, config) if not extra else REPO / config
    assert lightning_main(["fit", "--config", str(path), "--trainer.max_steps", "2", *extra]) == EXIT_BAD_INPUT
    assert one_error_line(capsys.readouterr().err).startswith(message)
    assert sorted(p.name for p in tmp_path.rglob("*")) == (sorted(["old", config]) if not extra else [])


def test_a_study_config_dict_with_a_renamed_option_raises_one_config_error(tmp_path):
    old = yaml.safe_load(config_before_the_renames(tmp_path, "double_descent_mlp.yaml").read_text())
    with pytest.raises(ConfigError) as err:
        build_cli(old, run=False, exit_on_error=False)
    assert f"error: {one_line(err.value)}" == RENAMED_SEED


# the DataModule -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": "10"}, "batch_size='10' is invalid: allowed an integer >= 1"),
    ({"batch_size": True}, "batch_size=True is invalid"),
    ({"overrides": [1]}, "overrides=[1] is invalid: allowed None or a mapping"),
    ({"overrides": {"colour": 1}}, "unknown MNIST1DConfig field(s) ['colour']"),
    ({"train_subset": 2.5}, "train_subset=2.5 is invalid: allowed None or an integer >= 1"),
    ({"train_subset": 4001}, "train_subset=4001 is invalid: allowed at most the 4000"),
    ({"permutation_seed": -1}, "permutation_seed=-1 is invalid: allowed an integer >= 0 and < 4294967296"),
    ({"shuffle_seed": 2**40}, "shuffle_seed=1099511627776 is invalid"),
    ({"ordered": "yes"}, "ordered='yes' is invalid: allowed true or false"),
    ({"permutation": "sideways"}, "permutation='sideways' is invalid"),
    ({"validation": "val"}, "validation='val' is invalid"),
    ({"eval_batch_size": 0}, "eval_batch_size=0 is invalid"),
    ({"variant": 3}, "variant=3 is invalid"),
    ({"source": ""}, "source='' is invalid"),
])
def test_datamodule_names_the_field(kwargs, message):
    with pytest.raises(ValueError) as err:
        MNIST1DDataModule(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_datamodule_missing_source_folder_names_it(tmp_path):
    dm = MNIST1DDataModule(source=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"^source='.*nowhere' with variant='standard' is invalid: allowed a Hub"):
        dm.prepare_data()


# load ---------------------------------------------------------------------------------------------------------
def test_load_refuses_bad_and_huge_configs_before_writing_the_cache(tmp_path):
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        load("nope", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="max_translation=0 is invalid"):
        load("standard", cache_dir=str(tmp_path), max_translation=0)
    with pytest.raises(TooLargeError, match="need about"):
        load("standard", cache_dir=str(tmp_path), final_seq_length=10**9)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_unwinds_inside_an_entry_point_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as err:
        with terminate_on_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises in the main thread before this ends
    assert exit_code(err.value) == err.value.code == EXIT_TERMINATED == 143
    assert one_line(err.value) == "terminated (SIGTERM)"
    assert signal.getsignal(signal.SIGTERM) is before
