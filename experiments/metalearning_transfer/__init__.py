"""The metalearned activation function transferred to the Table 1 MLP and CNN, ranked among the six baselines
(paper Sec. 5, Fig. 6).

The paper transferred its learned function to convnets on MNIST and CIFAR-10, which cannot be downloaded here; the
transfer is to MNIST-1D's own Table 1 models instead. The function is the one learned by the ``metalearning``
study's activation run (seed 0), used frozen (a fixed function, as the paper used it) and deterministic (without
the hidden noise of metatraining). Its runs need that run (``experiments.learned_activation``): the runner runs it
into the metalearning store first if it is missing.

    python -m experiments run metalearning_transfer            # the baselines and the learned function
    python -m experiments run metalearning_transfer --quick    # 10 steps (and the quick activation run)

Modules: ``protocol`` (the runs), ``tasks``, ``claims``, ``report`` (table and figure), ``study``.
"""

from .study import MetaLearningTransfer

__all__ = ["MetaLearningTransfer"]
