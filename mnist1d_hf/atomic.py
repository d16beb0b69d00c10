"""Never a half-written output: build it at a temporary path beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_file(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` (parents created), then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        _name_the_target(err, tmp, path)
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_file(path, lambda tmp: tmp.write_text(text))


def save_figure(fig: Any, path: str | Path, **savefig_options: Any) -> Path:
    """Save a matplotlib figure; the format comes from ``path``'s suffix, as the temporary name has another."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return write_file(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_options))


def write_folder(out: str | Path, fill: Callable[[Path], Any]) -> Path:
    """Build a new folder with ``fill(tmp)`` in a temporary sibling, then rename it to ``out``.

    ``out`` must not exist or be an empty folder: nothing a user already has is overwritten.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out}: exists and is not an empty folder; choose a new path")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        fill(tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            _name_the_target(err, tmp, out)
        raise
    return out


def _name_the_target(err: OSError, tmp: Path, target: Path) -> None:
    """An error about the temporary path names the path the user asked for instead."""
    if err.filename is None:
        return
    name = Path(os.fsdecode(err.filename))
    if name == tmp or tmp in name.parents:
        err.filename = str(target / name.relative_to(tmp)) if name != tmp else str(target)
