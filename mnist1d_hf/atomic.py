"""Never a half-written output: build it at a temporary path beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
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
    """Save a matplotlib figure; the format comes from ``path``'s suffix, as the temporary name has another.

    A PNG carries no "Software" text (matplotlib's version), so the same figure is the same file whichever
    matplotlib release drew it, and a report rewritten on another machine stays byte for byte.
    """
    fmt = Path(path).suffix.lstrip(".") or "png"
    if fmt == "png":
        savefig_options.setdefault("metadata", {"Software": None})
    return write_file(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_options))


def write_folder(out: str | Path, fill: Callable[[Path], Any]) -> Path:
    """Build a new folder with ``fill(tmp)`` in a temporary sibling, then rename it to ``out``.

    ``out`` must not exist or be an empty folder: nothing a user already has is overwritten. Its parent must
    exist (a mistyped path fails instead of creating folders), and the new folder gets the user's umask, as
    ``mkdir`` would give it.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out}: exists and is not an empty folder; choose a new path")
    require_parent_folder(out)
    tmp = _new_sibling_folder(out)
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


def require_parent_folder(path: str | Path) -> None:
    """A missing parent of an output path is an I/O error naming that parent (exit code 3), never created."""
    parent = Path(path).parent
    if not parent.is_dir():
        reason = "Not a directory" if parent.exists() else "No such file or directory"
        raise FileNotFoundError(errno.ENOTDIR if parent.exists() else errno.ENOENT,
                                f"{reason} (the folder an output goes into must exist)", str(parent))


def _new_sibling_folder(out: Path) -> Path:
    """An empty folder beside ``out``, with a unique hidden name; made by ``mkdir`` so it gets the user's umask
    (``tempfile.mkdtemp`` makes 0700 folders). An error names ``out``, not the temporary name."""
    for _ in range(100):
        tmp = out.with_name(f".{out.name}-{secrets.token_hex(4)}.tmp")
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue
        except OSError as err:
            _name_the_target(err, tmp, out)
            raise
    raise FileExistsError(f"--out {out}: no free temporary name beside it")


def _name_the_target(err: OSError, tmp: Path, target: Path) -> None:
    """An error about the temporary path names the path the user asked for instead."""
    if err.filename is None:
        return
    name = Path(os.fsdecode(err.filename))
    if name == tmp or tmp in name.parents:
        err.filename = str(target / name.relative_to(tmp)) if name != tmp else str(target)
