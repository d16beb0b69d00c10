"""The installed distribution: only ``mnist1d_hf`` and ``lightning_modules`` as import names, every subpackage
listed, and the dataset card template found by ``mnist1d_hf`` outside a checkout."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    return next(out.glob("*.whl"))


def test_every_package_of_the_checkout_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("mnist1d_hf", "lightning_modules")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found | {"mnist1d_hf.hub_card"} == listed


def test_the_wheel_installs_two_import_names_and_the_card_template(wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if ".dist-info" not in n} == {"mnist1d_hf", "lightning_modules"}
    assert {"mnist1d_hf/hub_card/README.md", "mnist1d_hf/hub_card/mnist1d.png"} <= set(names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    probe = ("import mnist1d_hf, mnist1d_hf.card as card; print(mnist1d_hf.__file__); "
             "print(len(card._read_card_file('README.md')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    location, size = done.stdout.split()
    assert location.startswith(str(target)) and int(size) > 1000
