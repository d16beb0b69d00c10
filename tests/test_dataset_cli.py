"""``python -m mnist1d_hf`` generate / show / plot, as a user runs them."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from mnist1d_hf import generate, variant
from mnist1d_hf.cli import main
from reference_oracle import reference_dataset


def test_generate_writes_the_variant_with_overrides(tmp_path):
    out = tmp_path / "data"
    assert main(["generate", "--variant", "shuffled", "--set", "max_translation=20", "--out", str(out)]) == 0
    cfg = variant("shuffled", max_translation=20)
    assert json.loads((out / "config.json").read_text()) == cfg.to_dict()
    saved, expected = np.load(out / "mnist1d.npz"), generate(cfg)
    for name in ("x_train", "y_train", "x_test", "y_test", "t", "templates"):
        np.testing.assert_array_equal(saved[name], getattr(expected, name))


def test_legacy_pickle_matches_the_reference_layout(tmp_path):
    out = tmp_path / "pkl"
    assert main(["generate", "--format", "pkl", "--out", str(out)]) == 0
    with open(out / "mnist1d_data.pkl", "rb") as f:
        ours = pickle.load(f)
    ref = reference_dataset(variant("standard"))
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
    out = tmp_path / "fig" / "examples.png"
    assert main(["plot", "--variant", "clean", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
