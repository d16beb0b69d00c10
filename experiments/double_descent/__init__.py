"""Deep double descent (paper Fig. 4): test error against model size, with label noise, for two losses.

``protocol`` declares the curves and their runs, ``paper`` holds the paper's numbers, ``curves`` reads the stored
runs into per-seed curves and their landmarks, ``claims`` judges the paper's claims by ``experiments.verdicts``,
``report`` writes the tables and ``figures`` the plots. ``DoubleDescent`` (in ``study``) ties them to the runner.

    python -m experiments run double_descent --workers 1   # the protocol, cheapest points first
    python -m experiments run double_descent --quick       # 1-2 widths per curve, 600 steps, seed 0
    python -m experiments report double_descent
"""

from .study import DoubleDescent

__all__ = ["DoubleDescent"]
