"""The paper's guillotine claim, reproduced end to end (about 2 to 7 minutes on one CPU thread): run with -m slow."""

import pytest
import torch

from experiments.guillotine import PROJECTORS, peak, train_and_probe


@pytest.mark.slow
def test_default_projector_peaks_at_the_backbone_and_the_projector_output_is_lower():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = train_and_probe(PROJECTORS["default"], epochs=200, seed=0)
    finally:
        torch.set_num_threads(threads)
    accuracy = run["linear"]
    assert run["layers"][3] == "conv3" and peak(accuracy) == 3
    assert accuracy[3] >= 80.0
    assert accuracy[3] - accuracy[-1] >= 4.0
    assert run["knn"] >= 65.0
