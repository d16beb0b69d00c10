"""Reading pickles without running code: numpy arrays, dtypes, numpy scalars, plain containers, ``ObjectView``.

A pickle can name any importable callable and call it while loading, so ``pickle.load`` on a downloaded file
runs whatever the file says. MNIST-1D pickles (the paper's frozen ``mnist1d_data.pkl`` and files written by the
reference package) hold nothing but dicts, lists and numpy arrays, and its users' results add ``ObjectView``
args; this unpickler rebuilds exactly those and refuses every other global with a one-line error that names it
and the opt-in for a trusted file.
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

try:  # numpy >= 2 keeps the pickling helpers in numpy._core; older pickles name numpy.core
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes; any other codec is refused."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}: only 'latin1' is allowed")
    return codecs.encode(text, "latin1")


_NUMPY = {"_reconstruct": _reconstruct, "scalar": scalar}
ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, name): obj for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, obj in _NUMPY.items()},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    # protocol 2 names the builtins module "__builtin__"
    **{(module, kind.__name__): kind for module in ("builtins", "__builtin__")
       for kind in (set, frozenset, complex, bytearray)},
    ("collections", "OrderedDict"): collections.OrderedDict,
}
# ObjectView under the reference's module path and ours; protocols 0 and 1 build it through copyreg
OBJECT_VIEW_PATHS = (("mnist1d.utils", "ObjectView"), ("mnist1d_hf.compat.utils", "ObjectView"))
RECONSTRUCTOR_PATHS = (("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"))
OBJECT_PATHS = (("builtins", "object"), ("__builtin__", "object"))


def _object_view_class() -> type:
    from .utils import ObjectView  # here, not at import: utils imports this module

    return ObjectView


def _reconstruct_object_view(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` as protocols 0 and 1 use it, for ``ObjectView`` only."""
    if cls is not _object_view_class() or base is not object or state is not None:
        raise pickle.UnpicklingError(f"refusing copyreg._reconstructor{(cls, base, state)!r}: only ObjectView "
                                     "is rebuilt this way")
    return object.__new__(cls)


class SafeUnpickler(pickle.Unpickler):
    """An unpickler whose only globals are numpy's array/dtype/scalar rebuilders, a few builtin containers and
    ``ObjectView``."""

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in ALLOWED:
            return ALLOWED[key]
        if key in OBJECT_VIEW_PATHS:
            return _object_view_class()
        if key in RECONSTRUCTOR_PATHS:
            return _reconstruct_object_view
        if key in OBJECT_PATHS:
            return object
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: this file needs code beyond numpy arrays, plain containers and "
            "ObjectView to load; if you trust it, pass trusted=True to from_pickle (it may then run any code)")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"refusing persistent id {pid!r}: not an MNIST-1D pickle")


def safe_loads(data: bytes) -> Any:
    return SafeUnpickler(io.BytesIO(data)).load()


def safe_load(path: str | Path) -> Any:
    """Load the pickle at ``path`` with ``SafeUnpickler``; the error names the file."""
    try:
        return safe_loads(Path(path).read_bytes())
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(f"{path}: {err}") from None
