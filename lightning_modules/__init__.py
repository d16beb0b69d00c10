"""The paper's experiments as Lightning modules, callbacks and plain networks."""

from .classifier import Classifier
from .data import MNIST1DDataModule
from .lottery import LotteryTicket
from .population import PopulationClassifier
from .ssl import SimCLR

__all__ = ["Classifier", "LotteryTicket", "MNIST1DDataModule", "PopulationClassifier", "SimCLR"]
