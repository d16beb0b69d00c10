"""The paper's studies on one runner: ``python -m experiments list | run NAME | report NAME``.

Each study is a small module (its protocol, the paper's numbers, its claims and figures); ``runner`` does the
rest. ``STUDIES`` maps a study's name to the class that declares it, imported only when used.
"""

from __future__ import annotations

import importlib

STUDIES = {
    "table1": "experiments.table1:Table1",
    "per_class": "experiments.per_class:PerClass",
    "pooling": "experiments.pooling:Pooling",
    "double_descent": "experiments.double_descent:DoubleDescent",
    "lottery": "experiments.lottery:Lottery",
    "guillotine": "experiments.guillotine:Guillotine",
    "metalearning": "experiments.metalearning:MetaLearning",
    "metalearning_transfer": "experiments.metalearning_transfer:MetaLearningTransfer",
}


def study(name: str):
    """The study called ``name``."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}: allowed one of {sorted(STUDIES)}")
    module, _, cls = STUDIES[name].partition(":")
    return getattr(importlib.import_module(module), cls)()
