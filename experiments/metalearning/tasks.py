"""The metalearning study's tasks: a learning-rate metatraining run, and one inner run of the activation task with
a given activation (the learned one and its piecewise fit built from the activation run they need)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..learned_activation import learned_weights
from ..runs import Upstream


def meta_learning_rate(config: dict[str, Any]) -> dict[str, Any]:
    """One ``MetaLearningRate`` fit: the per-outer-step history (rate used, rate after, losses, gradient)."""
    from ..tasks import train

    model = train(config).model
    return {"history": model.history, "final_lr": model.inner_lr.item()}


def activation_from_spec(spec: dict[str, Any], upstream: Sequence[Upstream] = ()):
    """A baseline's name, a piecewise-linear function, or the learned function of the activation run handed over
    in ``upstream`` (as it is, or fitted by least squares at the run's breakpoints)."""
    from lightning_modules.meta import LearnedActivation, PiecewiseLinear, fit_piecewise_linear

    kind = spec["kind"]
    if kind == "baseline":
        return spec["name"]
    if kind == "piecewise":
        return PiecewiseLinear(spec["breakpoints"], spec["slopes"], spec["intercepts"])
    if kind in ("learned", "fitted piecewise"):
        if len(upstream) != 1:
            raise ValueError(f"activation kind={kind!r} needs the activation run: got {len(upstream)} upstream runs")
        learned = LearnedActivation(**spec["init_args"])
        learned.load_state_dict(learned_weights(upstream[0]))
        if kind == "learned":
            return learned
        return fit_piecewise_linear(learned, spec["breakpoints"], spec["low"], spec["high"], spec["points"])
    raise ValueError(f"activation kind={kind!r} is invalid: allowed 'baseline', 'piecewise', 'learned' or "
                     "'fitted piecewise'")


def inner_evaluation(config: dict[str, Any], upstream: Sequence[Upstream] = ()) -> dict[str, Any]:
    """One inner run of the activation study's task with the config's activation: losses, their mean, test
    accuracy, the activation's curve (and, for a fit, its pieces)."""
    from lightning_modules.data import MNIST1DDataModule
    from lightning_modules.meta import PiecewiseLinear
    from lightning_modules.meta.evaluation import evaluate_activation

    data = MNIST1DDataModule(**config["data"])
    data.setup("fit")
    activation = activation_from_spec(config["activation"], upstream)
    result = evaluate_activation(activation, *data.split("train"), *data.split("test"), **config["inner"])
    if config["activation"]["kind"] == "fitted piecewise" and isinstance(activation, PiecewiseLinear):
        result["fit"] = {"breakpoints": activation.breakpoints.tolist(), "slopes": activation.slopes.tolist(),
                         "intercepts": activation.intercepts.tolist()}
    return result
