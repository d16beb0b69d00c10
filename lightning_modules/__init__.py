"""The paper's experiments as Lightning modules, callbacks and plain networks."""

from typing import TYPE_CHECKING

from .lazy import exports

if TYPE_CHECKING:
    from .classifier import Classifier
    from .data import MNIST1DDataModule
    from .lottery import LotteryTicket
    from .population import PopulationClassifier
    from .ssl import SimCLR

__all__ = ["Classifier", "LotteryTicket", "MNIST1DDataModule", "PopulationClassifier", "SimCLR"]
__getattr__, __dir__ = exports(__name__, {"Classifier": "classifier", "LotteryTicket": "lottery",
                                          "MNIST1DDataModule": "data", "PopulationClassifier": "population",
                                          "SimCLR": "ssl"})
