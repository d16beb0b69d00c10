"""Building a Classifier run from its config (LightningCLI, once per run): activation names are matched as names,
class paths still build modules, no name sends the parser searching every ``nn.Module`` subclass, and the config
dict is left as given."""

import copy
from typing import get_args

import jsonargparse._typehints as typehints
import pytest
import torch
from torch import nn

from experiments.lottery.protocol import QUICK, random_mask_config, search_config
from experiments.runs import fit_run, load_config
from experiments.tasks import build
from lightning_modules.nets import ACTIVATIONS, ActivationName, SharedActivation


def cnn_config(activation=None) -> dict:
    config = fit_run({}, load_config("configs/cnn.yaml")).config
    if activation is not None:
        config = copy.deepcopy(config)
        config["model"]["init_args"]["net"]["init_args"] = {"activation": activation}
    return config


def built(config: dict):
    """``build(config)``, with the caller's torch thread count restored (a run sets one thread)."""
    threads = torch.get_num_threads()
    try:
        return build(config)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def subclass_searches(monkeypatch):
    """The base classes whose every subclass the config parser listed (to resolve a bare name)."""
    searched = []
    search = typehints.get_all_subclass_paths

    def recording(cls, *args, **kwargs):
        searched.append(cls)
        return search(cls, *args, **kwargs)

    monkeypatch.setattr(typehints, "get_all_subclass_paths", recording)
    return searched


def test_activation_name_type_lists_exactly_the_activations():
    assert sorted(get_args(ActivationName)) == sorted(ACTIVATIONS)


def test_table1_cnn_config_builds_without_searching_module_subclasses(subclass_searches):
    cli = built(cnn_config())
    assert [type(block[1]) for block in cli.model.net.backbone.blocks] == [nn.ReLU] * 3
    assert subclass_searches == []  # a bare "relu" searched all nn.Module subclasses, most of the build's time


@pytest.mark.parametrize(("activation", "expected"), [("swish", nn.SiLU), ("torch.nn.Tanh", nn.Tanh),
                                                      ({"class_path": "torch.nn.GELU"}, nn.GELU)])
def test_activation_names_and_class_paths_build_their_modules(activation, expected):
    net = built(cnn_config(activation)).model.net
    first = net.backbone.blocks[0][1]
    activation_module = first.target if isinstance(first, SharedActivation) else first
    assert type(activation_module) is expected


def test_building_a_run_leaves_its_config_as_given():
    """LightningCLI's parser turns a config's callbacks into namespaces in place; the run's key hashes that dict
    afterwards (an in-process caller, a bench)."""
    config = random_mask_config(search_config(0, QUICK), 0, 91)
    given = copy.deepcopy(config)
    cli = built(config)
    assert type(cli.trainer.callbacks[0]).__name__ == "RandomMask"
    assert config == given
