"""``import mnist1d_hf.compat.alias``: from then on ``mnist1d`` and its modules are this package's drop-in.

One line at the top of a notebook or script written for the reference package makes every import form resolve
here: ``import mnist1d``, ``import mnist1d.data``, ``from mnist1d.data import get_dataset``, ``from mnist1d.utils
import ObjectView``, ``from mnist1d.transform import interpolate``, including in modules imported later (a
``train.py`` beside the notebook). It must run before anything imports the reference package: once that is in
memory, two different ``mnist1d`` modules would live side by side, so ``install`` refuses.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

COMPAT = __name__.rpartition(".")[0]
# by module name: the package attribute ``transform`` is the function, as in the reference
ALIASES: dict[str, ModuleType] = {
    reference_name: importlib.import_module(COMPAT + reference_name[len("mnist1d"):])
    for reference_name in ("mnist1d", "mnist1d.data", "mnist1d.utils", "mnist1d.transform")
}


def install() -> None:
    """Make the reference package's module names this package's; refuse if the reference is already imported."""
    for name, module in ALIASES.items():
        found = sys.modules.get(name)
        if found is not None and found is not module:
            where = getattr(found, "__file__", None) or "an unknown location"
            raise ImportError(f"{name} is already imported (from {where}): import mnist1d_hf.compat.alias before "
                              "anything imports mnist1d (restart the kernel or interpreter, then put it first)")
    sys.modules.update(ALIASES)


install()
