"""Reading pickles without running code: only numpy arrays, dtypes, numpy scalars and plain containers.

A pickle can name any importable callable and call it while loading, so ``pickle.load`` on a downloaded file
runs whatever the file says. MNIST-1D pickles (the paper's frozen ``mnist1d_data.pkl`` and files written by the
reference package) hold nothing but dicts, lists and numpy arrays; this unpickler rebuilds exactly those and
refuses every other global with an error that names it.
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


class SafeUnpickler(pickle.Unpickler):
    """An unpickler whose only globals are numpy's array/dtype/scalar rebuilders and a few builtin containers."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: this file asks to call code while loading. Only numpy "
                "arrays, dtypes and plain containers (dict, list, tuple, str, numbers) are allowed; if you trust "
                "the file, load it with pickle.load yourself") from None

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
