"""The paper's networks: exact Table 1 sizes, output shapes, and their sizes as arguments."""

import pytest
import torch

from lightning_modules.nets import CNN, GRU, MLP, ConvStack, Logistic


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
