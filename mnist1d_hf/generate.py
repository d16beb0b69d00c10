"""``generate(config)``: one entry point for both generation modes, returning the paper's data layout."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .config import MNIST1DConfig
from .errors import ConfigError, TooLargeError
from .resample import resample
from .templates import template_t, templates


@dataclass(frozen=True)
class MNIST1DData:
    """A generated dataset: float64 signals (N, L), int64 labels, the shared time axis and the templates."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    t: np.ndarray
    templates: np.ndarray
    config: MNIST1DConfig

    def as_legacy_dict(self) -> dict:
        """The reference package's dict layout (``x``, ``x_test``, ``y``, ``y_test``, ``t``, ``templates``)."""
        return {"x": self.x_train, "x_test": self.x_test, "y": self.y_train, "y_test": self.y_test,
                "t": self.t, "templates": {"x": self.templates, "t": template_t(),
                                           "y": np.arange(len(self.templates))}}


def signal_t(cfg: MNIST1DConfig) -> np.ndarray:
    """The template time axis carried through both resamplings (before normalization)."""
    return resample(resample(template_t(), cfg.dilated_length), cfg.final_seq_length)


def estimated_bytes(cfg: MNIST1DConfig) -> int:
    """About the peak memory of ``generate(cfg)``: the float64 signals twice (generated and standardized), the
    per-example random draws and transforms at the dilated length, and the resampling plans."""
    n, d, length = cfg.total, cfg.dilated_length, cfg.final_seq_length
    return 8 * (n * (2 * length + 4 * d) + 8 * (length + d))


def available_bytes() -> int | None:
    """Memory the system can still give (``MemAvailable``), or ``None`` where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(cfg: MNIST1DConfig) -> None:
    """Refuse, before allocating anything, a config whose data would not fit in the available memory."""
    need, have = estimated_bytes(cfg), available_bytes()
    if have is not None and need > have:
        raise TooLargeError(
            f"{cfg.total:,} examples of final_seq_length={cfg.final_seq_length:,} (dilated length "
            f"{cfg.dilated_length:,}) need about {need / 2**30:,.1f} GiB but {have / 2**30:,.1f} GiB are available: "
            "lower num_samples, final_seq_length or padding")


def generate(cfg: MNIST1DConfig, *, show_progress: bool | None = None, **fast_options) -> MNIST1DData:
    """Generate the dataset a config describes.

    Reference mode reproduces the paper's generator exactly; fast mode (``fast_options``: ``chunk_size``,
    ``workers``) draws from a different, counter-based stream with the same distribution. A config whose data
    cannot fit in memory is refused up front (``TooLargeError`` with the estimate).
    """
    check_fits_in_memory(cfg)
    if cfg.mode == "reference":
        from .reference import reference_examples, reference_label_noise

        if fast_options:
            raise ConfigError(f"options {sorted(fast_options)} apply to mode='fast' only")
        x, y, rng = reference_examples(cfg, show_progress)
        # the reference standardizes train and test together, and scales t by the same std
        mean, std = x.mean(), x.std()
        x -= mean
        x /= std
        relabel = lambda labels: reference_label_noise(labels, cfg.label_noise, rng)  # noqa: E731
    else:
        from .fast import fast_examples, fast_label_noise

        # the same standardization, by the workers that made the rows
        x, y, mean, std = fast_examples(cfg, show_progress=show_progress, standardize=True, **fast_options)
        relabel = lambda labels: fast_label_noise(labels, cfg)  # noqa: E731

    n = cfg.num_train
    y_train = relabel(y[:n]) if cfg.label_noise > 0 else y[:n]
    return MNIST1DData(x_train=x[:n], y_train=y_train, x_test=x[n:], y_test=y[n:], t=signal_t(cfg) / std,
                       templates=templates(), config=cfg)
