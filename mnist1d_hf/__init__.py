"""MNIST-1D as a first-class dataset: the paper's generator, its variants, and the Hugging Face Hub."""

from .config import MNIST1DConfig
from .generate import MNIST1DData, generate
from .variants import VARIANTS, variant, variant_config  # variant: deprecated, warns once

__all__ = ["MNIST1D", "MNIST1DConfig", "MNIST1DData", "VARIANTS", "generate", "load", "variant_config"]


def __getattr__(name: str):
    # importing `datasets` takes over a second: the builder is imported on first use, not with the package
    if name in ("MNIST1D", "load"):
        from . import builder

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
