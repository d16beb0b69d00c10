"""What the classifier studies share: how to read a trained classifier's accuracy from its stored result, and the
paper's Table 1 numbers.

Table 1, per-class errors and pooling each train ``lightning_modules.Classifier`` through ``tasks.fit`` (or read
its metrics history) and quote the same paper numbers; they take both from here, never from each other.
"""

from __future__ import annotations

from typing import Any

# Paper Table 1: test accuracy (%) on MNIST-1D and on its column-shuffled variant. The paper selected models by
# early stopping ("All models used the Adam optimizer and early stopping for model selection"), so these are the
# best test accuracy over a run, not the last step's.
TABLE1_PAPER = {"standard": {"logistic": 32, "mlp": 68, "cnn": 94, "gru": 91},
                "shuffled": {"logistic": 32, "mlp": 68, "cnn": 56, "gru": 57}}
# The reference notebooks' own runs (min, max test accuracy %), for context only: not a judge of any claim.
NOTEBOOK_SPREAD = {"standard": {"logistic": (31.5, 31.5), "mlp": (64.2, 66.0), "cnn": (92.3, 94.2),
                                "gru": (89.1, 92.1)},
                   "shuffled": {"cnn": (57.9, 58.7), "gru": (50.8, 53.3)}}
TEST_METRIC = "val/acc"  # the studies validate on the test split, as the paper does


def final_test_acc(result: dict[str, Any]) -> float:
    """Test accuracy (%) at the last step of a ``tasks.fit`` result."""
    return 100 * result["final"][TEST_METRIC]


def curve(result: dict[str, Any], metric: str) -> tuple[list[int], list[float]]:
    """Steps and values (%) of ``metric`` over a run's evaluations."""
    rows = [r for r in result["history"] if metric in r]
    return [r["step"] for r in rows], [100 * r[metric] for r in rows]


def best_test_acc(result: dict[str, Any]) -> float:
    """The best test accuracy (%) over a run's evaluations: the early-stopping reading of the paper and the
    reference notebooks."""
    steps, values = curve(result, TEST_METRIC)
    if not values:
        raise ValueError(f"the result holds no {TEST_METRIC!r} in its history: nothing to select from")
    return max(values)


def best_test_step(result: dict[str, Any]) -> int:
    """The step of the best test accuracy (the first one on a tie)."""
    steps, values = curve(result, TEST_METRIC)
    return steps[values.index(max(values))]
