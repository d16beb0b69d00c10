"""Gradient-based metalearning through unrolled inner training (paper Figs. 5 and 6).

``unroll``: differentiable inner loops (SGD, hand-written RMSprop) on parameter dicts. ``inner``: the two
studies' inner runs as plain functions. ``activations``: the learned activation, the baselines, piecewise-linear
fits. ``MetaLearningRate`` and ``MetaActivation``: the outer loops as LightningModules, one outer step per
training step (``configs/metalearn_lr.yaml``, ``configs/metalearn_activation.yaml``). ``reference``: the
reference notebook's hand fit of its learned activation, as plain numbers.
"""

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .activation import MetaActivation
    from .activations import BASELINES, LearnedActivation, PiecewiseLinear, fit_piecewise_linear, reference_piecewise
    from .inner import InnerMLP, InnerRun, activation_inner_run, learning_rate_inner_run, mlp_forward
    from .inner import seeded_inner_mlp
    from .learning_rate import MetaLearningRate
    from .unroll import Unrolled, functional_loss, rmsprop_unroll, sequential_batches, sgd_unroll

_WHERE = {
    "MetaActivation": "activation", "MetaLearningRate": "learning_rate",
    **dict.fromkeys(["BASELINES", "LearnedActivation", "PiecewiseLinear", "fit_piecewise_linear",
                     "reference_piecewise"], "activations"),
    **dict.fromkeys(["InnerMLP", "InnerRun", "activation_inner_run", "learning_rate_inner_run", "mlp_forward",
                     "seeded_inner_mlp"], "inner"),
    **dict.fromkeys(["Unrolled", "functional_loss", "rmsprop_unroll", "sequential_batches", "sgd_unroll"], "unroll"),
}
__all__ = [
    "BASELINES", "InnerMLP", "InnerRun", "LearnedActivation", "MetaActivation", "MetaLearningRate",
    "PiecewiseLinear", "Unrolled", "activation_inner_run", "fit_piecewise_linear", "functional_loss",
    "learning_rate_inner_run", "mlp_forward", "reference_piecewise", "rmsprop_unroll",
    "seeded_inner_mlp", "sequential_batches", "sgd_unroll",
]
__getattr__, __dir__ = exports(__name__, _WHERE)
