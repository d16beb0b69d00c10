"""``--ckpt_path last`` and ``best`` from a new process: the checkpoint of the latest run of the config, or one line.

Each run of a config writes its own folder, ``<save_dir>/<name>/version_N`` (logs, and its checkpoints in
``checkpoints/``), so no run overwrites an earlier run's checkpoints. Lightning looks for ``last`` only in the
folder of the run being started, which is new and empty, and then starts from scratch with a warning; and it knows
``best`` only within the process that trained. Here ``last`` and ``best`` name the file in the highest
``version_N`` that has it (or in the checkpoint callback's fixed ``dirpath``, when the config sets one), and
asking for a checkpoint that no run has saved is an error, never a silent fresh start.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from mnist1d_hf.errors import ConfigError

SPECIAL = ("last", "best")
VERSION = re.compile(r"version_(\d+)")


class NothingToLoadError(FileNotFoundError):
    """``--ckpt_path last`` (or ``best``) when no run of the config has saved that checkpoint yet (exit code 3)."""


def resolve_ckpt_path(ckpt_path: str | None, trainer: Any) -> str | None:
    """``ckpt_path`` with ``last``/``best`` replaced by the latest run's checkpoint file; other values unchanged."""
    if ckpt_path not in SPECIAL:
        return ckpt_path
    callback = trainer.checkpoint_callback
    if not isinstance(callback, ModelCheckpoint):
        raise ConfigError(f"--ckpt_path {ckpt_path}: this config saves no checkpoints (no ModelCheckpoint "
                          "callback); pass the path of a checkpoint file")
    name = checkpoint_file_name(ckpt_path, callback)
    folders = checkpoint_folders(trainer, callback)
    for folder in folders:
        if (folder / name).is_file():
            return str(folder / name)
    where = folders[0] if callback.dirpath else _run_root(trainer) / "version_*" / "checkpoints"
    raise NothingToLoadError(f"--ckpt_path {ckpt_path}: nothing to load: no run of this config has saved "
                             f"{shown(where / name)} yet (run fit without --ckpt_path first)")


def checkpoint_file_name(ckpt_path: str, callback: ModelCheckpoint) -> str:
    """The file that ``last`` or ``best`` names for this checkpoint callback, or a ConfigError saying why none."""
    if ckpt_path == "last":
        if not (callback.save_last or callback.filename == callback.CHECKPOINT_NAME_LAST):
            raise ConfigError("--ckpt_path last: this config's ModelCheckpoint writes no last checkpoint (set "
                              "save_last: true); pass the path of a checkpoint file")
        return f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
    if callback.monitor is None:
        raise ConfigError("--ckpt_path best: this config selects no best checkpoint (its ModelCheckpoint monitors "
                          "no metric); use --ckpt_path last or the path of a checkpoint file")
    if not callback.filename or "{" in callback.filename or callback.save_top_k != 1:
        raise ConfigError("--ckpt_path best needs a ModelCheckpoint that keeps one checkpoint under a fixed name "
                          "(save_top_k: 1, filename: best, as cli.yaml has); pass the path of a checkpoint file")
    return f"{callback.filename}{callback.FILE_EXTENSION}"


def checkpoint_folders(trainer: Any, callback: ModelCheckpoint) -> list[Path]:
    """Where runs of this config keep their checkpoints, the latest run first (the layout of ModelCheckpoint's
    own folder choice: its ``dirpath``, else ``<save_dir>/<name>/<version>/checkpoints``)."""
    if callback.dirpath:
        return [Path(callback.dirpath)]
    if not trainer.loggers:
        return [Path(trainer.default_root_dir) / "checkpoints"]
    root = _run_root(trainer)
    versions = sorted((int(match.group(1)), path) for path in root.glob("version_*")
                      if (match := VERSION.fullmatch(path.name)) and path.is_dir())
    folders = [path / "checkpoints" for _, path in reversed(versions)]
    named = getattr(trainer.loggers[0], "_version", None)  # a version the config names, e.g. "resumed"
    if isinstance(named, str):
        folders.insert(0, root / named / "checkpoints")
    return folders


def _run_root(trainer: Any) -> Path:
    """The folder that holds every run's ``version_N`` folder."""
    logger = trainer.loggers[0]
    return Path(logger.save_dir if logger.save_dir is not None else trainer.default_root_dir) / str(logger.name)


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it is inside it, as a user would type it."""
    path = Path(path)
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
