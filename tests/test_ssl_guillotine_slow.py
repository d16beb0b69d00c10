"""The paper's guillotine claim for the default projector, reproduced end to end through the study's own run
(200 epochs of SimCLR, then every layer's probe; 3 to 8 minutes on one CPU thread): run with -m slow."""

import pytest
import torch

from experiments.guillotine import BACKBONE_OUTPUT, PROJECTOR_DROP, Guillotine, linear, peak, train_and_evaluate


@pytest.mark.slow
def test_default_projector_peaks_at_the_backbone_and_the_projector_output_is_lower():
    [run] = [r for r in Guillotine().runs(quick=False, seeds=[0]) if r.tags["variant"] == "default"]
    threads = torch.get_num_threads()
    try:
        result = train_and_evaluate(run.config)
    finally:
        torch.set_num_threads(threads)
    accuracy = linear(result)
    assert result["layers"][BACKBONE_OUTPUT] == "conv3" and peak(accuracy) == BACKBONE_OUTPUT
    assert accuracy[BACKBONE_OUTPUT] >= 80.0
    assert accuracy[BACKBONE_OUTPUT] - accuracy[-1] >= PROJECTOR_DROP
    assert 100 * result["knn"] >= 65.0
