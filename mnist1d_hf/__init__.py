"""MNIST-1D as a first-class dataset: the paper's generator, its variants, and the Hugging Face Hub."""

from .config import MNIST1DConfig
from .generate import MNIST1DData, generate
from .variants import VARIANTS, variant

__all__ = ["MNIST1DConfig", "MNIST1DData", "VARIANTS", "generate", "variant"]
