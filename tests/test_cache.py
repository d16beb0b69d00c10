"""The datasets cache behind ``mnist1d_hf.load``: a corrupt entry is rebuilt with a warning, and two processes
building the same config at once both end with the same complete data."""

import subprocess
import sys

import numpy as np
import pytest

from mnist1d_hf import load
from mnist1d_hf.builder import CorruptCacheError, MNIST1D, read_complete, variant_config

KNOBS = {"num_samples": 500}


def arrays(dd):
    return {f"{k}_{s}": np.asarray(dd[s].with_format("numpy")[:][k]) for s in ("train", "test") for k in ("x", "y")}


def train_file(cache):
    (path,) = list(cache.rglob("mnist1d-train.arrow"))
    return path


@pytest.mark.parametrize("keep_bytes", [10, 1000, 50_000])
def test_a_truncated_arrow_file_is_rebuilt_with_a_warning(tmp_path, keep_bytes):
    expected = arrays(load("standard", cache_dir=str(tmp_path), **KNOBS))
    path = train_file(tmp_path)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(keep_bytes)
    with pytest.warns(UserWarning, match=f"cached MNIST-1D data in {path.parent}.* is incomplete or corrupt"):
        rebuilt = arrays(load("standard", cache_dir=str(tmp_path), **KNOBS))
    assert path.stat().st_size == size
    for name, value in expected.items():
        assert np.array_equal(rebuilt[name], value), name


def test_an_entry_still_unreadable_is_refused_naming_its_folder(tmp_path):
    load("standard", cache_dir=str(tmp_path), **KNOBS)
    path = train_file(tmp_path)
    path.write_bytes(b"")
    builder = MNIST1D(generator=variant_config("standard", **KNOBS), cache_dir=str(tmp_path))
    with pytest.raises(CorruptCacheError, match=f"{path.parent}.*delete that folder"):
        read_complete(builder)


BUILD = """
import sys, numpy as np
from mnist1d_hf import load
dd = load("standard", cache_dir=sys.argv[1], num_samples=3000, max_translation=30)
x = np.asarray(dd["train"].with_format("numpy")[:]["x"])
print(len(dd["train"]), len(dd["test"]), float(x.sum()))
"""


def test_two_processes_building_one_config_at_once_agree(tmp_path):
    runs = [subprocess.Popen([sys.executable, "-c", BUILD, str(tmp_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outs]
    first, second = (out.strip().splitlines()[-1] for out, _ in outs)
    assert first == second and first.startswith("2400 600 ")
    assert len(list(tmp_path.rglob("mnist1d-train.arrow"))) == 1  # one entry, no leftover temporary build
    assert not [p for p in tmp_path.rglob("*.incomplete") if p.is_dir()]
    reread = arrays(load("standard", cache_dir=str(tmp_path), num_samples=3000, max_translation=30))
    assert f"{float(reread['x_train'].sum())}" == first.split()[2]
