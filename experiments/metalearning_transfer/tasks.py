"""The transfer study's task: a Table 1 fit whose network uses the learned activation handed over by the
activation run it needs."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..learned_activation import WEIGHTS, learned_weights
from ..runs import Upstream, override
from .protocol import ACTIVATION_PATH


def transfer_fit(config: dict[str, Any], upstream: Sequence[Upstream]) -> dict[str, Any]:
    """``tasks.fit`` of ``config`` with the learned weights written to a temporary file that
    ``LearnedActivation(weights=...)`` loads (the file is not part of the config: the run's identity is the
    activation run it needs)."""
    import torch

    from ..tasks import fit

    (metalearned,) = upstream
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / WEIGHTS
        torch.save(learned_weights(metalearned), path)
        return fit(override(config, **{f"{ACTIVATION_PATH}.init_args.weights": str(path)}))
