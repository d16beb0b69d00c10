"""Failure injection for the atomic writers: a write that fails half-way leaves the previous output intact and
no temporary file or folder behind."""

import errno
import os

import pytest
from matplotlib.figure import Figure

from mnist1d_hf.atomic import save_figure, write_file, write_folder, write_text


class DiskFull(OSError):
    def __init__(self, path=None):
        super().__init__(errno.ENOSPC, "No space left on device", *([str(path)] if path is not None else []))


def half_then_fail(tmp):
    with open(tmp, "w") as f:
        f.write("half of the new con")
    raise DiskFull(tmp)


def entries(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_file_failing_half_way_keeps_the_old_file(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old")
    with pytest.raises(DiskFull):
        write_file(path, half_then_fail)
    assert path.read_text() == "old" and entries(tmp_path) == ["result.json"]


def test_write_file_failing_names_the_target_not_the_temporary(tmp_path):
    with pytest.raises(OSError) as err:
        write_file(tmp_path / "missing" / "x.txt", lambda tmp: open(tmp / "deeper", "w"))
    assert ".tmp" not in str(err.value.filename)


def test_write_text_interrupted_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "table.md"
    path.write_text("old")

    def replace_fails(src, dst):
        raise KeyboardInterrupt  # killed between writing the temporary and renaming it

    monkeypatch.setattr("mnist1d_hf.atomic.os.replace", replace_fails)
    with pytest.raises(KeyboardInterrupt):
        write_text(path, "new")
    assert path.read_text() == "old" and entries(tmp_path) == ["table.md"]


def test_save_figure_failing_half_way_keeps_the_old_figure(tmp_path):
    path = tmp_path / "fig.png"
    path.write_bytes(b"old png")
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    original = fig.savefig

    def savefig_half(target, **options):
        original(target, **options)  # the temporary is complete ...
        with open(target, "r+b") as f:
            f.truncate(10)  # ... then cut short
        raise DiskFull()

    fig.savefig = savefig_half
    with pytest.raises(DiskFull):
        save_figure(fig, path)
    assert path.read_bytes() == b"old png" and entries(tmp_path) == ["fig.png"]
    fig.savefig = original
    save_figure(fig, path)  # and a later write succeeds in place
    assert path.read_bytes()[:4] == b"\x89PNG" and entries(tmp_path) == ["fig.png"]


def test_write_folder_failing_half_way_leaves_no_folder(tmp_path):
    out = tmp_path / "export"

    def fill(tmp):
        (tmp / "a.parquet").write_bytes(b"complete")
        (tmp / "sub").mkdir()
        half_then_fail(tmp / "sub" / "b.parquet")

    with pytest.raises(DiskFull) as err:
        write_folder(out, fill)
    assert entries(tmp_path) == []  # neither the output nor its temporary sibling
    assert err.value.filename == str(out / "sub" / "b.parquet")  # the message names the user's path


def test_write_folder_failing_keeps_an_existing_empty_folder(tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    with pytest.raises(DiskFull):
        write_folder(out, lambda tmp: half_then_fail(tmp / "x"))
    assert entries(tmp_path) == ["export"] and entries(out) == []


def test_write_folder_refuses_a_missing_parent_and_creates_nothing(tmp_path):
    out = tmp_path / "typo" / "export"
    with pytest.raises(FileNotFoundError) as err:
        write_folder(out, lambda tmp: (tmp / "x").write_text("never"))
    assert err.value.filename == str(tmp_path / "typo") and "must exist" in err.value.strerror
    assert entries(tmp_path) == []


def test_write_folder_names_the_target_when_its_temporary_sibling_cannot_be_made():
    with pytest.raises(OSError) as err:
        write_folder("/proc/out", lambda tmp: None)  # /proc exists but takes no new folders
    assert err.value.filename == "/proc/out"


def test_write_folder_gives_the_new_folder_the_umask_not_0700(tmp_path):
    previous = os.umask(0o002)
    try:
        out = write_folder(tmp_path / "shared", lambda tmp: (tmp / "sub").mkdir())
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o775 and (out / "sub").stat().st_mode & 0o777 == 0o775


def test_a_png_figure_does_not_record_the_matplotlib_version(tmp_path):
    """The same drawing is the same file on any machine: no "Software: Matplotlib version ..." text chunk."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    data = save_figure(fig, tmp_path / "a.png").read_bytes()
    assert data.startswith(b"\x89PNG") and matplotlib.__version__.encode() not in data and b"Software" not in data
