"""The paper's networks: exact Table 1 sizes and layouts, the studies' options (double descent, pooling,
activations) with their exact parameter counts and computations."""

from copy import deepcopy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lightning_modules.nets import (ACTIVATIONS, CNN, GRU, MLP, ConvStack, Logistic, PoolingCNN,
                                    SharedActivation)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("net, params", [(Logistic(), 410), (MLP(), 15_210), (CNN(), 5_210), (GRU(), 5_134)])
def test_table1_parameter_counts_and_logit_shape(net, params):
    assert count(net) == params
    assert net(torch.randn(7, 40)).shape == (7, 10)


def test_sizes_are_arguments():
    assert count(MLP(hidden_size=500)) == 276_010  # the lottery-ticket network
    assert count(MLP(hidden_layers=1)) == 40 * 100 + 100 + 100 * 10 + 10
    assert count(GRU(hidden_size=6, bidirectional=False)) == 3 * (6 * 1 + 6 * 6 + 2 * 6) + 40 * 6 * 10 + 10
    assert count(CNN(channels=10)) == (10 * 5 + 10) + 2 * (10 * 10 * 3 + 10) + 50 * 10 + 10
    assert GRU(input_size=20)(torch.randn(3, 20)).shape == (3, 10)


def test_mlp_blocks_are_residual():
    net = MLP(hidden_layers=2)
    x = torch.randn(5, 40)
    with torch.no_grad():
        net.residual[0].weight.zero_()
        net.residual[0].bias.fill_(-1.0)  # relu(L h) == 0: the block must pass h through unchanged
        h = torch.relu(net.input(x))
        assert torch.allclose(net(x), net.readout(h))


def test_conv_stack_feature_maps_end_in_the_backbone_output():
    stack = ConvStack()
    x = torch.randn(4, 40)
    maps = stack.feature_maps(x)
    assert [m.shape[1] for m in maps] == [25 * 19, 25 * 10, 25 * 5]
    assert torch.equal(maps[-1], stack(x))
    assert stack.output_size(40) == 125


def test_invalid_sizes_name_the_argument():
    with pytest.raises(ValueError, match="hidden_layers=0"):
        MLP(hidden_layers=0)
    with pytest.raises(ValueError, match="kernel_sizes"):
        ConvStack(kernel_sizes=(5, 3), strides=(2, 2, 2))


# the studies' networks: options of the same classes ------------------------------------------------------------
DOUBLE_DESCENT_WIDTHS = sorted({int(w) for w in np.geomspace(2, 300, 20)}) + [400, 500, 600, 800]
DOUBLE_DESCENT_CHANNELS = list(range(2, 29, 2)) + list(range(30, 101, 5))


def test_the_study_grids_are_the_papers():
    assert DOUBLE_DESCENT_WIDTHS[:19] == [2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300]
    assert len(DOUBLE_DESCENT_CHANNELS) == 29


@pytest.mark.parametrize("n", DOUBLE_DESCENT_WIDTHS)
def test_double_descent_mlp_parameter_count(n):
    assert count(MLP(hidden_size=n, residual=False)) == n * n + 52 * n + 10


def test_double_descent_mlp_is_a_plain_two_hidden_layer_stack():
    net = MLP(hidden_size=47, residual=False)
    assert not hasattr(net, "residual") and len(net.hidden) == 1
    plain = nn.Sequential(net.input, nn.ReLU(), net.hidden[0], nn.ReLU(), net.readout)
    x = torch.randn(6, 40)
    assert torch.equal(net(x), plain(x))


@pytest.mark.parametrize("c", DOUBLE_DESCENT_CHANNELS)
def test_double_descent_cnn_parameter_count(c):
    assert count(CNN(channels=c)) == 6 * c * c + 58 * c + 10


def test_table1_defaults_keep_their_state_dict_layout():
    """Checkpoints saved before the options existed must still load: same names, same shapes."""
    assert {k: tuple(v.shape) for k, v in MLP().state_dict().items()} == {
        "input.weight": (100, 40), "input.bias": (100,), "residual.0.weight": (100, 100),
        "residual.0.bias": (100,), "readout.weight": (10, 100), "readout.bias": (10,)}
    assert {k: tuple(v.shape) for k, v in CNN().state_dict().items()} == {
        "backbone.blocks.0.0.weight": (25, 1, 5), "backbone.blocks.0.0.bias": (25,),
        "backbone.blocks.1.0.weight": (25, 25, 3), "backbone.blocks.1.0.bias": (25,),
        "backbone.blocks.2.0.weight": (25, 25, 3), "backbone.blocks.2.0.bias": (25,),
        "readout.weight": (10, 125), "readout.bias": (10,)}
    assert [type(m) for m in ConvStack().blocks[0]] == [nn.Conv1d, nn.ReLU]


POOLING_TABLE = [("no_pool", 800, 9_310), ("stride_2", 200, 3_310), ("max_pool", 200, 3_310),
                 ("avg_pool", 200, 3_310), ("l2_pool", 200, 3_310)]


@pytest.mark.parametrize("pooling, linear_in, params", POOLING_TABLE)
def test_pooling_nets_match_the_papers_table(pooling, linear_in, params):
    net = PoolingCNN(pooling=pooling)
    assert net.pooling == pooling
    assert net.readout.in_features == linear_in and count(net) == params
    assert net(torch.randn(3, 40)).shape == (3, 10)


@pytest.mark.parametrize("pooling", [p for p, _, _ in POOLING_TABLE])
def test_pooling_nets_compute_the_papers_layers(pooling):
    net = PoolingCNN(pooling)
    stride = 2 if pooling == "stride_2" else 1
    pool = {"max_pool": lambda h: F.max_pool1d(h, 2), "avg_pool": lambda h: F.avg_pool1d(h, 2),
            "l2_pool": lambda h: F.lp_pool1d(h, 2, 2)}.get(pooling, lambda h: h)
    (conv1, *_), (conv2, *_) = net.backbone.blocks
    x = torch.randn(4, 40)
    h = pool(torch.relu(F.conv1d(x[:, None], conv1.weight, conv1.bias, stride=stride, padding=1)))
    h = pool(torch.relu(F.conv1d(h, conv2.weight, conv2.bias, stride=stride, padding=1)))
    assert torch.allclose(net(x), net.readout(h.flatten(1)), atol=1e-6)


def test_l2_pool_gradients_are_finite_where_a_window_is_all_zero():
    net = PoolingCNN("l2_pool")
    with torch.no_grad():
        net.backbone.blocks[0][0].bias.fill_(-100.0)  # every first-layer unit dead: the pool sees zeros
    net(torch.randn(8, 40)).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_init_seed_shares_the_conv_init_and_leaves_the_run_generator_alone():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    nets = [PoolingCNN(v, init_seed=0) for v, _, _ in POOLING_TABLE]
    assert torch.equal(torch.random.get_rng_state(), state)
    for net in nets[1:]:
        for a, b in zip(nets[0].backbone.parameters(), net.backbone.parameters()):
            assert torch.equal(a, b)
    unseeded = [PoolingCNN("max_pool").backbone.blocks[0][0].weight for _ in range(2)]
    assert not torch.equal(*unseeded)  # default None: the run's generator decides
    a, b = MLP(init_seed=3), MLP(init_seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_invalid_options_name_the_argument():
    with pytest.raises(ValueError, match="pooling='max'"):
        PoolingCNN("max")
    with pytest.raises(ValueError, match="pool='median'"):
        CNN(pool="median")
    with pytest.raises(ValueError, match="activation='swishy'"):
        MLP(activation="swishy")
    with pytest.raises(ValueError, match="activation='swishy'"):
        CNN(activation="swishy")


# activations ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, f", [("relu", torch.relu), ("swish", F.silu), ("silu", F.silu), ("elu", F.elu),
                                     ("softplus", F.softplus), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                                     ("gelu", F.gelu)])
def test_activation_by_name(name, f):
    assert set(ACTIVATIONS) == {"relu", "swish", "silu", "elu", "softplus", "tanh", "sigmoid", "gelu"}
    x = torch.randn(5, 40)
    mlp = MLP(activation=name)
    h = f(mlp.input(x))
    assert torch.allclose(mlp(x), mlp.readout(h + f(mlp.residual[0](h))), atol=1e-6)
    cnn = CNN(activation=name)
    h = x[:, None]
    for block in cnn.backbone.blocks:
        h = f(block[0](h))
    assert torch.allclose(cnn(x), cnn.readout(h.flatten(1)), atol=1e-6)
    assert count(mlp) == 15_210 and count(cnn) == 5_210


class Learned(nn.Module):
    """A stand-in learned activation with parameters: x + a * tanh(x)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.a * torch.tanh(x)


@pytest.mark.parametrize("make", [lambda act: MLP(activation=act), lambda act: CNN(activation=act),
                                  lambda act: PoolingCNN("l2_pool", activation=act)])
def test_a_learned_activation_is_one_module_shared_by_every_layer(make):
    act = Learned()
    net = make(act)
    base = make("relu")
    assert count(net) == count(base) + 1
    keys = [k for k in net.state_dict() if k.endswith(".a") or k == "a"]
    assert keys in (["activation.a"], ["backbone.activation.a"])
    net(torch.randn(4, 40)).sum().backward()
    assert act.a.grad is not None and act.a.grad != 0
    with torch.no_grad():
        act.a.fill_(0.0)  # one parameter changes every layer: x + 0 * tanh(x) is the identity
    copy = deepcopy(net)
    with torch.no_grad():
        next(m for m in copy.modules() if isinstance(m, Learned)).a.fill_(1.0)
    x = torch.randn(4, 40)
    assert not torch.equal(copy(x), net(x))  # the copy's shared activation is the copy's own
    reloaded = make(Learned())
    reloaded.load_state_dict(net.state_dict())
    assert torch.equal(reloaded(x), net(x))


def test_conv_stack_shares_a_given_module_through_proxies():
    act = Learned()
    stack = ConvStack(activation=act)
    assert stack.activation is act
    assert all(isinstance(block[1], SharedActivation) and block[1].target is act for block in stack.blocks)
