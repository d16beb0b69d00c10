"""The paper's experiments as Lightning modules, callbacks and plain networks."""

from .classifier import Classifier
from .data import MNIST1DDataModule

__all__ = ["Classifier", "MNIST1DDataModule"]
