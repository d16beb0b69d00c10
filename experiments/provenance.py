"""Which code and libraries made a stored run: recorded with every run, shown by ``report`` and ``status``.

The environment (library versions, threads, machine) is read where the run executes, the worker; the code (the
checkout's git commit and whether its code differed from it) where the sweep is driven, since Ray workers get a
copy of the checkout without its git history.
"""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .runs import ROOT

LIBRARIES = ("mnist1d-hf", "torch", "lightning", "numpy", "scipy")
# what a run's numbers cannot depend on: the results and benchmark records themselves
NOT_CODE = (":!results", ":!bench/results")
UNKNOWN = "unknown"


def environment() -> dict[str, Any]:
    """Library versions, torch's thread count, Python, the machine and the vector instructions torch's CPU
    kernels use (AVX2, AVX512...: the last bits of a float result can depend on them)."""
    import torch

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"versions": versions, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "machine": platform.machine(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


@lru_cache(maxsize=None)
def code(root: Path = ROOT) -> dict[str, Any]:
    """The checkout's commit and whether its code (everything but results) differs from it; unknown outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", ".", *NOT_CODE))
    except (OSError, subprocess.SubprocessError):
        return {"commit": UNKNOWN, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def describe(provenance: dict[str, Any] | None) -> str:
    """One phrase for a run's code: ``commit 1a2b3c4d`` (``+ local changes``), or why it is unknown."""
    if not provenance:
        return "unknown code (stored before provenance was recorded)"
    commit = provenance.get("commit", UNKNOWN)
    if commit == UNKNOWN:
        return "unknown code (not a git checkout)"
    return f"commit {commit[:8]}" + (" + local changes" if provenance.get("dirty") else "")


def resolve(commit: str, root: Path = ROOT) -> str:
    """The full hash of ``commit`` (a hash, a branch, ``HEAD~3``...) in the checkout's history."""
    resolved = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
                              capture_output=True, text=True, timeout=30)
    if resolved.returncode:
        raise ValueError(f"commit {commit!r} is not known to the checkout's git history")
    return resolved.stdout.strip()


def is_older(provenance: dict[str, Any] | None, commit: str, root: Path = ROOT) -> bool:
    """Whether a run was made by code older than ``commit``: its commit is a strict ancestor of it, or unknown."""
    target = resolve(commit, root)
    made_by = (provenance or {}).get("commit", UNKNOWN)
    if made_by == UNKNOWN:
        return True
    if made_by == target:
        return False
    ancestor = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", made_by, target],
                              capture_output=True, timeout=30)
    return ancestor.returncode == 0
