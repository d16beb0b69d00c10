"""``mnist1d.data`` of the reference package, on this package's exact generator.

``make_dataset`` returns the reference's dict, bit for bit, from the vectorized reference mode (and leaves
``random`` and numpy's global generator in the state the reference leaves them). ``get_dataset`` keeps the
reference's calling conventions without its traps:

- the cache is keyed by path AND config: the config is stored beside the pickle (``<path>.config.json``), and a
  file that holds another config is never returned for this one;
- ``download=True`` makes the paper's dataset locally (no network) and warns when ``args`` differ from it;
- no failure turns into a regeneration over the user's file: unreadable or foreign files raise, and a file
  holding another config is left untouched (the requested data are generated in memory, with a warning);
- files are written atomically, and read with an unpickler that cannot run code.

Its side effects are the reference's: generating (``regenerate=True``, or no file with ``download=False``)
seeds ``random`` and numpy's global generator as the reference's ``make_dataset`` does; every path on which the
reference only loads or downloads leaves both as it found them, even where this module generates to check or
replace a file. Its messages are the reference's, ``verbose=True`` by default.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text
from ..generate import signal_t
from ..reference import reference_examples
from ..templates import NUM_CLASSES, template_t, templates
from .knobs import ReferenceKnobs, knobs_of
from .transform import transform
from .utils import ObjectView, from_pickle, set_seed, to_pickle

__all__ = ["MNIST1DCompatWarning", "get_dataset", "get_dataset_args", "get_templates", "make_dataset",
           "from_pickle", "to_pickle", "ObjectView", "set_seed", "transform"]

DEFAULT_PATH = "./mnist1d_data.pkl"
PAPER_URL = "https://github.com/greydanus/mnist1d/raw/master/mnist1d_data.pkl"  # kept for args.url; never fetched
DATASET_KEYS = ("x", "x_test", "y", "y_test", "t")
SIDECAR_SUFFIX = ".config.json"
SIDECAR_FORMAT = "mnist1d_hf.compat/1"


class MNIST1DCompatWarning(UserWarning):
    """``get_dataset`` returned something other than what the reference would have (and says why)."""


def get_dataset_args(as_dict: bool = False) -> ObjectView | dict:
    """The paper's knobs, as an ``ObjectView`` (or a dict); change any field before passing it on."""
    arg_dict = {"num_samples": 5000, "train_split": 0.8, "template_len": 12, "padding": [36, 60],
                "scale_coeff": 0.4, "max_translation": 48, "corr_noise_scale": 0.25, "iid_noise_scale": 2e-2,
                "shear_scale": 0.75, "shuffle_seq": False, "final_seq_length": 40, "seed": 42, "url": PAPER_URL}
    return arg_dict if as_dict else ObjectView(arg_dict)


def get_templates() -> dict[str, np.ndarray]:
    """The ten digit templates: ``x`` (10, 12), their time axis ``t`` (12,) and labels ``y`` 0..9."""
    return {"x": templates(), "t": template_t(), "y": np.arange(NUM_CLASSES)}


def make_dataset(args: Any = None, template: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The reference's ``make_dataset``: the same dict and the same numbers, bit for bit.

    ``args`` is any object with the knobs as attributes (unknown ones are ignored); every config the reference
    makes data from is accepted (see ``knobs``). The split is the reference's: the first ``int(N * train_split)``
    rows are ``x``. Seeds ``random`` and numpy's global generator with ``args.seed`` and leaves the latter where
    the reference leaves it.
    """
    knobs = knobs_of(get_dataset_args() if args is None else args)
    if template is not None:
        return _make_from_templates(knobs, template)
    xs, ys, rng = reference_examples(knobs)
    random.seed(knobs.seed)
    np.random.set_state(rng.get_state())  # where the reference's global generator ends up
    std = xs.std()
    t = signal_t(knobs) / std
    xs = (xs - xs.mean()) / std
    return _split(xs, ys, t, get_templates(), knobs.train_split)


def _make_from_templates(knobs: ReferenceKnobs, tpl: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Custom templates: the reference's own loop over ``transform`` (exact, and as slow as the reference)."""
    set_seed(knobs.seed)
    args = ObjectView(knobs.as_dict())
    xs, ys = [], []
    per_class = knobs.num_samples // len(tpl["y"])
    new_t = None
    for label_ix in range(len(tpl["y"])):
        for _ in range(per_class):
            x, new_t = transform(tpl["x"][label_ix], tpl["t"], args)
            xs.append(x)
            ys.append(tpl["y"][label_ix])
    order = np.random.permutation(len(ys))
    xs, ys = np.stack(xs)[order], np.stack(ys)[order]
    if knobs.shuffle_seq:
        xs = xs[..., np.random.permutation(knobs.final_seq_length)]
    std = xs.std()
    return _split((xs - xs.mean()) / std, ys, new_t / std, tpl, knobs.train_split)


def _split(xs: np.ndarray, ys: np.ndarray, t: np.ndarray, tpl: Any, train_split: float) -> dict[str, Any]:
    split_ix = int(len(ys) * train_split)
    return {"x": xs[:split_ix].copy(), "x_test": xs[split_ix:].copy(), "y": ys[:split_ix].copy(),
            "y_test": ys[split_ix:].copy(), "t": t, "templates": tpl}


@contextlib.contextmanager
def global_generators_kept() -> Iterator[None]:
    """Restore ``random``'s and numpy's global generators on exit: for generation the reference does not do.

    torch's generator needs no care: nothing in this package touches it.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _make_quietly(knobs: ReferenceKnobs, kwargs: dict[str, Any]) -> dict[str, Any]:
    with global_generators_kept():
        return make_dataset(ObjectView(knobs.as_dict()), **kwargs)


# the cache --------------------------------------------------------------------------------------------------
def get_dataset(args: Any = None, path: str | Path | None = None, verbose: bool = True, download: bool = True,
                regenerate: bool = False, **kwargs: Any) -> dict[str, Any]:
    """The reference's cached ``get_dataset``, keyed by path and config (see the module docstring).

    ``download=True`` (the default, as in the reference) gives the paper's dataset, generated locally;
    ``download=False`` gives the dataset of ``args``, from ``path`` if it holds exactly that config;
    ``regenerate=True`` (with ``download=False``) generates it and replaces the file at ``path``.
    ``kwargs`` (``template``) go to ``make_dataset``.
    """
    if download and regenerate:
        raise ValueError("download=True and regenerate=True: download=True gives the paper's dataset, "
                         "regenerate=True rebuilds the dataset of args; pass download=False to regenerate")
    unknown = sorted(set(kwargs) - {"template"})
    if unknown:
        raise TypeError(f"get_dataset() got unexpected keyword argument(s) {unknown}; allowed: template")
    shown = DEFAULT_PATH if path is None else path  # messages show the path as given, as the reference's do
    path = Path(shown)
    knobs = knobs_of(get_dataset_args() if args is None else args)
    if download:
        if kwargs.get("template") is not None:
            warnings.warn("download=True gives the paper's dataset and ignores template, as the reference does; "
                          "pass download=False to use the templates", MNIST1DCompatWarning, stacklevel=2)
        return _paper_dataset(path, shown, _paper_knobs(knobs), verbose)
    key = _cache_key(knobs, kwargs.get("template"))
    if regenerate or not path.exists():
        _say(verbose, f"Did or could not load data from {shown}. Rebuilding dataset...")
        data = make_dataset(ObjectView(knobs.as_dict()), **kwargs)  # seeds the global generators, as the reference
        _write(path, data, key)
        return data
    return _read(path, shown, key, knobs, kwargs, verbose)


def _paper_dataset(path: Path, shown: Any, knobs: ReferenceKnobs, verbose: bool) -> dict[str, Any]:
    """``download=True``: where the reference downloads the frozen file, make the paper's data locally."""
    key = _cache_key(knobs, None)
    if path.exists():
        _say(verbose, "File already exists. Skipping download.")
        return _read(path, shown, key, knobs, {}, verbose)
    print(f"Making the MNIST1D dataset of {PAPER_URL} locally (nothing is downloaded)")
    _write(path, _make_quietly(knobs, {}), key)
    print(f"Saving to {shown}")
    data = from_pickle(path)  # what the reference returns: the file it just saved, read back
    _say(verbose, f"Successfully loaded data from {shown}")
    return data


def _paper_knobs(requested: ReferenceKnobs) -> ReferenceKnobs:
    paper = knobs_of(get_dataset_args())
    differ = {k: v for k, v in requested.as_dict().items() if v != paper.as_dict()[k]}
    if differ:
        warnings.warn(f"download=True gives the paper's dataset and ignores args, which differ from it in "
                      f"{differ}; pass download=False to get the dataset of args", MNIST1DCompatWarning,
                      stacklevel=3)
    return paper


def _cache_key(knobs: ReferenceKnobs, template: Mapping[str, np.ndarray] | None) -> dict[str, Any]:
    tpl = get_templates() if template is None else template
    digest = hashlib.sha256()
    for name in ("x", "t", "y"):
        digest.update(np.ascontiguousarray(tpl[name], dtype=np.float64).tobytes())
    return {"format": SIDECAR_FORMAT, "config": knobs.as_dict(), "templates_sha256": digest.hexdigest()}


def sidecar_path(path: str | Path) -> Path:
    """Where ``get_dataset`` records the config of the pickle at ``path``."""
    return Path(f"{path}{SIDECAR_SUFFIX}")


def _write(path: Path, data: dict[str, Any], key: dict[str, Any]) -> None:
    to_pickle(data, path)
    record = {**key, "pickle_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    write_text(sidecar_path(path), json.dumps(record, indent=1, sort_keys=True) + "\n")


def _read(path: Path, shown: Any, key: dict[str, Any], knobs: ReferenceKnobs, kwargs: dict[str, Any],
          verbose: bool) -> dict[str, Any]:
    """Load ``path`` if it holds the data of ``knobs``; the global generators are left as they were."""
    raw = path.read_bytes()
    stored = _stored_key(path, raw)
    if stored == key:
        data = _checked_layout(from_pickle(path), path)
        _say(verbose, f"Successfully loaded data from {shown}")
        return data
    if stored is not None:
        changed = {k: (stored["config"].get(k), v) for k, v in key["config"].items() if stored["config"].get(k) != v}
        what = f"knobs (stored, requested) {changed}" if changed else "other templates"
        return _generated_instead(path, f"it holds another config: {what}", knobs, kwargs)
    # a file without a (matching) record: the paper's frozen file, or one the reference package wrote
    data = _checked_layout(from_pickle(path), path)
    fresh = _make_quietly(knobs, kwargs)
    if _same_dataset(data, fresh):
        _say(verbose, f"Successfully loaded data from {shown}")
        return data
    return _generated_instead(path, "its data are not those of the requested config", knobs, kwargs, fresh)


def _stored_key(path: Path, raw: bytes) -> dict[str, Any] | None:
    """The recorded key, if the record exists and still describes these very bytes."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    record = json.loads(side.read_text())
    if record.pop("pickle_sha256", None) != hashlib.sha256(raw).hexdigest():
        return None  # the pickle was replaced after the record was written
    return record


def _generated_instead(path: Path, why: str, knobs: ReferenceKnobs, kwargs: dict[str, Any],
                       fresh: dict[str, Any] | None = None) -> dict[str, Any]:
    warnings.warn(f"{path}: {why}. Returning data generated for the requested config and leaving the file "
                  "untouched; pass download=False, regenerate=True to replace it, or choose another path",
                  MNIST1DCompatWarning, stacklevel=4)
    return fresh if fresh is not None else _make_quietly(knobs, kwargs)


def _checked_layout(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or any(k not in data for k in DATASET_KEYS):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path} is not an MNIST-1D dataset: expected a dict with keys {list(DATASET_KEYS)}, "
                         f"found {found}; it was left untouched")
    return data


def _same_dataset(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same labels and shapes, signals and time axis equal to 1e-12 (files made with older library arithmetic
    differ from today's in the last bits of some values)."""
    for name in DATASET_KEYS:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.shape != y.shape:
            return False
        exact = name in ("y", "y_test")
        if (exact and not np.array_equal(x, y)) or (not exact and not np.allclose(x, y, rtol=0, atol=1e-12)):
            return False
    return True


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(message)
