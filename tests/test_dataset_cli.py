"""``python -m mnist1d_hf`` generate / show / plot, as a user runs them."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mnist1d_hf import generate, variant_config
from mnist1d_hf.cli import main
from reference_oracle import reference_dataset


def test_generate_writes_the_variant_with_overrides(tmp_path):
    out = tmp_path / "data"
    assert main(["generate", "--variant", "shuffled", "--set", "max_translation=20", "--out", str(out)]) == 0
    cfg = variant_config("shuffled", max_translation=20)
    assert json.loads((out / "config.json").read_text()) == cfg.to_dict()
    saved, expected = np.load(out / "mnist1d.npz"), generate(cfg)
    for name in ("x_train", "y_train", "x_test", "y_test", "t", "templates"):
        np.testing.assert_array_equal(saved[name], getattr(expected, name))


def test_legacy_pickle_matches_the_reference_layout(tmp_path):
    out = tmp_path / "pkl"
    assert main(["generate", "--format", "pkl", "--out", str(out)]) == 0
    with open(out / "mnist1d_data.pkl", "rb") as f:
        ours = pickle.load(f)
    ref = reference_dataset(variant_config("standard"))
    assert set(ours) == set(ref)
    for name in ("x", "x_test", "y", "y_test", "t"):
        np.testing.assert_array_equal(ours[name], ref[name])


def test_generate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["generate", "--out", str(out)]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_generate_failing_half_way_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    """The write fails after config.json is in the temporary folder: neither it nor ``--out`` may remain."""
    written = []

    def savez_fails(path, **arrays):
        written.extend(p.name for p in path.parent.iterdir())  # the temporary folder exists and is half full
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("mnist1d_hf.cli.np.savez", savez_fails)
    out = tmp_path / "data"
    assert main(["generate", "--out", str(out)]) == 3
    assert written == ["config.json"]
    assert capsys.readouterr().err == f"error: {out / 'mnist1d.npz'}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []  # no output, no temporary folder left


def test_bad_values_exit_nonzero_with_the_field_named(tmp_path, capsys):
    assert main(["show", "--set", "padding=[70,50]"]) == 2
    assert "padding=[70, 50] is invalid: allowed 0 <= low <= high" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["show", "--set", "colour=1"])
    assert exit_.value.code == 2
    assert "unknown field 'colour'" in capsys.readouterr().err


def test_show_prints_the_resolved_config():
    out = subprocess.run([sys.executable, "-m", "mnist1d_hf", "show", "--variant", "large"],
                         capture_output=True, text=True, check=True).stdout
    shown = json.loads(out)
    assert shown["num_train"] == 50_000 and shown["num_test"] == 1_000 and shown["num_samples"] == 51_000


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "examples.png"
    assert main(["plot", "--variant", "clean", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


REPO = Path(__file__).resolve().parents[1]


def run_module(*args: str, **options) -> subprocess.CompletedProcess:
    """``python -m mnist1d_hf ...`` from the checkout, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "mnist1d_hf", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, **options)


@pytest.mark.parametrize("command", [["generate"], ["plot"], ["export", "--variants", "standard"]])
def test_a_missing_parent_folder_is_an_io_error_and_nothing_is_created(tmp_path, capsys, command):
    """The documented contract (exit 3 for a missing parent): a mistyped path creates no folders."""
    out = tmp_path / "missing" / "deeper" / ("fig.png" if command == ["plot"] else "out")
    assert main([*command, "--out", str(out)]) == 3
    assert capsys.readouterr().err == (f"error: {out.parent}: No such file or directory (the folder an output goes "
                                       "into must exist)\n")
    assert list(tmp_path.iterdir()) == []


def test_the_module_reports_a_missing_parent_and_an_unwritable_place_by_the_users_path(tmp_path):
    run = run_module("generate", "--out", str(tmp_path / "missing" / "out"))
    assert run.returncode == 3
    assert run.stderr.startswith(f"error: {tmp_path / 'missing'}: No such file or directory")
    run = run_module("generate", "--out", "/proc/out")  # /proc refuses new entries: not its temporary sibling
    assert run.returncode == 3 and run.stderr == "error: /proc/out: No such file or directory\n"
    assert list(tmp_path.iterdir()) == []


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in [root, *sorted(root.rglob("*"))]}


def test_generate_and_export_make_folders_with_the_users_umask(tmp_path):
    umask = 0o027  # neither the common default (0o022) nor what a private temporary folder has (0o700)
    previous = os.umask(umask)
    try:
        assert main(["generate", "--out", str(tmp_path / "data")]) == 0
        assert main(["export", "--variants", "standard", "--out", str(tmp_path / "export"),
                     "--cache-dir", str(tmp_path / "cache")]) == 0
    finally:
        os.umask(previous)
    for root in (tmp_path / "data", tmp_path / "export"):
        got = modes(root)
        assert got == {name: (0o777 if (root / name).is_dir() else 0o666) & ~umask for name in got}
    assert modes(tmp_path / "data")["."] == modes(tmp_path / "export")["standard"] == 0o750


def test_sigterm_during_generate_exits_143_and_leaves_no_temporary_folder(tmp_path):
    """``kill``, ``timeout`` and schedulers send SIGTERM to the whole process group, workers included."""
    command = [sys.executable, "-m", "mnist1d_hf", "generate", "--set", "mode=fast", "--set", "num_samples=3000000",
               "--workers", "1", "--out", str(tmp_path / "big")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".big-*")):  # the build has started in its temporary folder
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "generation did not start within 60 s"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 143
    assert err.strip().splitlines()[-1] == "error: terminated (SIGTERM)"
    assert list(tmp_path.iterdir()) == []
