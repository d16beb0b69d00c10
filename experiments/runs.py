"""What a study runs: ``Run`` (a resolved config, the task that executes it, its axis values, the runs it needs) and
config building.

A run's identity is a hash of its task, its resolved config and the keys of the runs it needs: the declared
protocol only, never a number computed at run time. A finished run is recognised whatever order, worker or machine
produced it, and any change to the protocol (or to an upstream run's) makes a new run rather than reusing an old one.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
FIT = "experiments.tasks:fit"
QUIET_TRAINER = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False,
                 "enable_checkpointing": False}


@dataclass(frozen=True)
class Run:
    """One run of a study.

    Args:
        tags: the run's place on the study's axes (e.g. ``{"model": "cnn", "variant": "shuffled", "seed": 0}``);
            descriptive only, not part of the identity.
        config: the resolved config the task receives (for ``fit``: a LightningCLI config dict).
        task: ``"module:function"`` that executes the config and returns a JSON-able result, or an ``Output``
            with artifacts too.
        needs: the runs whose results and artifacts this run receives (the task's ``upstream`` argument, in this
            order); the runner runs them first.
        study: the study whose store keeps this run, when it is another study's (a run that several studies
            need is stored once, by the study that declares it); None: the study being run.
    """

    tags: dict[str, Any]
    config: dict[str, Any]
    task: str = FIT
    needs: tuple[Run, ...] = ()
    study: str | None = None

    @property
    def key(self) -> str:
        """16 hex digits of the SHA-256 of the task, the canonical JSON of the config and the needed runs' keys."""
        identity: dict[str, Any] = {"task": self.task, "config": self.config}
        if self.needs:
            identity["needs"] = [run.key for run in self.needs]
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.tags.items())


@dataclass(frozen=True)
class Upstream:
    """What a run receives of a run it needs: that run's stored result and its artifacts (file name -> bytes)."""

    result: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)

    def digest(self) -> str:
        """SHA-256 of the result (canonical JSON) and the artifacts: a run records the digest of what it received,
        so a needed run made again with another outcome shows in the runs made from the earlier one."""
        sha = hashlib.sha256(json.dumps(self.result, sort_keys=True, separators=(",", ":")).encode())
        for name in sorted(self.artifacts):
            sha.update(name.encode())
            sha.update(hashlib.sha256(self.artifacts[name]).digest())
        return sha.hexdigest()


@dataclass(frozen=True)
class Output:
    """A task's result with artifacts: files (name -> bytes) that the store keeps beside the run, for the runs
    that need it (masks, learned weights, a checkpoint to start from). They travel through the driver, so no
    folder is shared between workers."""

    result: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """What a backend executes: a task on a config, producing the results of one run or of several.

    A plain job is one run. A population job trains the seeds of several runs at once (``PopulationClassifier``);
    ``seeds[k]`` is the seed of ``members[k]``, whose result is split out of the job's result.
    """

    task: str
    config: dict[str, Any]
    members: tuple[Run, ...]
    seeds: tuple[int, ...] | None = None
    upstream: tuple[Upstream, ...] = ()  # attached by the driver when the needed runs are stored
    scratch: str | None = None  # a folder on the worker's machine where the task may keep resume files

    @classmethod
    def of(cls, run: Run) -> Job:
        return cls(run.task, run.config, (run,))

    @property
    def needs(self) -> tuple[Run, ...]:
        """The runs this job's members need (members of one population need the same runs)."""
        return self.members[0].needs

    @property
    def label(self) -> str:
        if self.seeds is None:
            return self.members[0].label
        tags = {k: v for k, v in self.members[0].tags.items() if k != "seed"}
        return " ".join(f"{k}={v}" for k, v in tags.items()) + f" seeds={list(self.seeds)}"


def load_config(*paths: str | Path) -> dict[str, Any]:
    """LightningCLI configs merged like repeated ``--config`` (later files win; mappings merge, lists replace).

    Relative paths are taken from the checkout's root, so a study works from any working directory.
    """
    merged: dict[str, Any] = {}
    for path in paths:
        path = Path(path)
        path = path if path.is_absolute() else ROOT / path
        if not path.is_file():
            raise FileNotFoundError(f"config {path} does not exist")
        stat = path.stat()
        merged = merge(merged, _parsed(path, stat.st_mtime_ns, stat.st_size))  # merge copies: the cache stays intact
    return merged


@functools.lru_cache(maxsize=256)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """A config file's contents, parsed once per version of the file: a study declares hundreds of runs from a
    handful of files (``experiments list`` parsed 310 files with the pure-Python parser in 8 s)."""
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` deep-updated by ``update``: nested mappings merge, any other value replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def override(config: Mapping[str, Any], **dotted: Any) -> dict[str, Any]:
    """A copy of ``config`` with values set by dotted path, as on the command line.

    ``override(cfg, **{"model.init_args.net.init_args.hidden_size": 47, "seed_everything": 1})``; missing
    intermediate mappings are created. A mapping value replaces the subtree (to switch a ``class_path``).
    """
    out = copy.deepcopy(dict(config))
    for path, value in dotted.items():
        node = out
        *parents, last = path.split(".")
        for name in parents:
            child = node.get(name)
            if child is None:
                child = node[name] = {}
            elif not isinstance(child, dict):
                raise ValueError(f"override {path!r}: {name!r} holds {child!r}, not a mapping")
            node = child
        node[last] = copy.deepcopy(value)
    return out


def fit_run(tags: dict[str, Any], config: Mapping[str, Any]) -> Run:
    """A ``fit`` run of a LightningCLI config as a study runs it: one torch thread, no logger, progress bar,
    model summary or checkpoints (those settings are not part of the protocol, so not of the run's key)."""
    trainer = dict(config.get("trainer") or {})
    trainer.update(QUIET_TRAINER)
    trainer["callbacks"] = [c for c in trainer.get("callbacks") or []
                            if "ModelCheckpoint" not in str(c.get("class_path", ""))]
    return Run(dict(tags), {**copy.deepcopy(dict(config)), "trainer": trainer, "torch_threads": 1})
