"""Tasks of a two-stage toy study for the runner's tests, importable by workers as ``tests.staged_tasks``: a
``make`` stage that produces a result and an artifact, and a ``use`` stage that needs it."""

from __future__ import annotations

import hashlib
import os

from experiments.runner import Results, Study
from experiments.runs import Output, Run

MAKE, USE = "tests.staged_tasks:make", "tests.staged_tasks:use"


def make(config: dict) -> Output:
    """An artifact of 32 x ``config["size"]`` bytes derived from the seed; its digest as the result."""
    if config["size"] < 1:
        raise ValueError(f"size={config['size']} is invalid: allowed an integer >= 1")
    data = hashlib.sha256(str(config["seed"]).encode()).digest() * config["size"]
    return Output({"digest": hashlib.sha256(data).hexdigest(), "cwd": os.getcwd()}, {"blob.bin": data})


def use(config: dict, upstream) -> dict:
    """Reads the artifact it was handed (never a file of the driver's store) and checks it against the result."""
    (made,) = upstream
    blob = made.artifacts["blob.bin"]
    if hashlib.sha256(blob).hexdigest() != made.result["digest"]:
        raise ValueError("the artifact does not match its run's result")
    return {"digest": made.result["digest"], "length": len(blob) * config["scale"], "cwd": os.getcwd()}


class Staged(Study):
    """Per seed: one ``make`` run, then two ``use`` runs that need it."""

    name = "staged"
    title = "two stages"
    seeds = (0, 1)
    quick_seeds = (0,)

    def __init__(self, size: int = 1000) -> None:
        self.size = size

    def runs(self, quick, seeds):
        runs = []
        for seed in seeds:
            made = Run({"stage": "make", "seed": seed}, {"seed": seed, "size": self.size}, MAKE)
            runs.append(made)
            runs += [Run({"stage": "use", "seed": seed, "scale": k}, {"scale": k}, USE,
                         needs=(made,)) for k in (1, 2)]
        # the downstream runs first: the runner must still run each after the run it needs
        return sorted(runs, key=lambda run: run.tags["stage"] != "use")

    def table(self, results: Results, quick: bool) -> str:
        return "\n".join(f"{r['tags']} {r['result'].get('length', '')}" for r in results.records)
