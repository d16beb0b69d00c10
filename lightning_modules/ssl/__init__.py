"""Self-supervised learning on MNIST-1D: batched augmentation, contrastive losses, layer-wise probes, SimCLR."""

from lightning_modules.ssl.augment import augment
from lightning_modules.ssl.loss import info_nce, nt_xent
from lightning_modules.ssl.probes import OnlineProbes, evaluate_layers, knn_accuracy, linear_probe_accuracy
from lightning_modules.ssl.simclr import SimCLR

__all__ = ["OnlineProbes", "SimCLR", "augment", "evaluate_layers", "info_nce", "knn_accuracy", "linear_probe_accuracy",
           "nt_xent"]
