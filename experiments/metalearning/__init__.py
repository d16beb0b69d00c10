"""Metalearning through unrolled training (paper Figs. 5 and 6): a learning rate and an activation function.

Runs: the inner learning rate metalearned from 1.5 and from 0.15 over theta0 seeds; the activation function
metalearned for 301 outer steps per seed (``experiments.learned_activation``, about an hour each on one thread);
per seed the six baseline activations, the reference's hand-fitted piecewise-linear function, the learned function
and a least-squares piecewise-linear fit of it, one inner run each of the same task. The last two need the
activation run: the runner runs them once it is stored, so one command runs everything:

    python -m experiments run metalearning --workers 1   # everything missing; an interrupted activation run
                                                         # resumes from its checkpoint in partial/<key>/
    python -m experiments run metalearning --quick       # a few outer steps of short unrolls: the pipeline

Modules: ``protocol`` (the runs), ``tasks`` (what a run executes), ``readers``, ``claims``, ``tables``,
``figures``, ``paper`` (the paper's numbers), ``study`` (the ``MetaLearning`` study). The transfer of the learned
function to the Table 1 networks is the study ``metalearning_transfer``.
"""

from .study import MetaLearning

__all__ = ["MetaLearning"]
