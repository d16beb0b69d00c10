"""The hard rules of the architecture: the dataset package never pulls in torch or Lightning, and declaring a
study's runs needs neither."""

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import mnist1d_hf
for module in pkgutil.walk_packages(mnist1d_hf.__path__, "mnist1d_hf."):
    if module.name != "mnist1d_hf.__main__":
        importlib.import_module(module.name)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "lightning", "pytorch_lightning", "torchmetrics"})
print(",".join(heavy))
"""


def test_mnist1d_hf_never_imports_torch_or_lightning():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


DECLARE = """
import sys
from experiments.runner import protocol_keys
protocol_keys()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "lightning", "pytorch_lightning", "torchmetrics"})
print(",".join(heavy))
"""


def test_declaring_every_studys_runs_imports_no_torch():
    """``experiments list``, ``status`` and a sweep's driver declare runs without training: they stay a fraction of a
    second (importing Lightning costs seconds), so packages export lazily and studies read constants, not networks."""
    out = subprocess.run([sys.executable, "-c", DECLARE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
