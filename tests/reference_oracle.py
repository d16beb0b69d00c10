"""The reference package (``pip install mnist1d``) as a test oracle: never imported by product code."""

from __future__ import annotations

import numpy as np
from mnist1d.data import get_dataset_args, make_dataset

from mnist1d_hf import MNIST1DConfig


def reference_dataset(cfg: MNIST1DConfig) -> dict:
    """The reference generator's output for ``cfg``, plus the double-descent label noise drawn after it."""
    args = get_dataset_args()
    for name in ("num_samples", "template_len", "scale_coeff", "max_translation", "corr_noise_scale",
                 "iid_noise_scale", "shear_scale", "shuffle_seq", "final_seq_length", "seed"):
        setattr(args, name, getattr(cfg, name))
    args.padding = list(cfg.padding)
    args.train_split = cfg.num_train / cfg.total if isinstance(cfg.train_split, int) else cfg.train_split
    data = make_dataset(args)
    if cfg.label_noise > 0:
        y = data["y"].copy()
        for i in range(len(y)):
            if np.random.random_sample() < cfg.label_noise:
                y[i] = np.random.randint(0, 10)
        data["y"] = y
    return data
