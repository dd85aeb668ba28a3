"""BatchedSineMLP: the stacked members compute, lose and gain neurons exactly as their SineMLPs do."""

from __future__ import annotations

import pytest
import torch

import aire
from aire.nn.batched_mlp import BatchedSineMLP, gather_members
from aire.signals.image import ImageSignal, synthetic_image


def members(count: int = 3, widths=(6, 5, 4), activation: str = "siren"):
    signal = ImageSignal(image=synthetic_image(8))
    return [aire.build_network(signal, widths, seed=s, network=activation) for s in range(count)]


def test_gather_members_takes_each_members_own_index_and_zeros_new_entries():
    t = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 4)
    out = gather_members(t, 2, torch.tensor([[3, 0, -1], [1, -1, 2]]))
    assert out.tolist() == [[[3, 0, 0], [7, 4, 0], [11, 8, 0]], [[13, 0, 14], [17, 0, 18], [21, 0, 22]]]


@pytest.mark.parametrize("activation", ["siren", "finer"])
def test_forward_is_each_members_forward(activation):
    nets = members(activation=activation)
    batched = BatchedSineMLP(nets)
    x = torch.rand(1, 50, 2) * 2 - 1
    y = batched(x)
    assert y.shape == (3, 50, 3)
    for n, net in enumerate(nets):
        torch.testing.assert_close(y[n], net(x[0]), rtol=0, atol=2e-6)
        member = batched.member(n)
        assert member.architecture() == net.architecture()
        for a, b in zip(member.weights, net.weights):
            assert torch.equal(a, b)


def test_each_member_removes_its_own_neurons_like_sine_mlp():
    nets = members()
    batched = BatchedSineMLP(nets)
    cuts = torch.tensor([[0, 3], [4, 1], [2, 4]])
    batched.remove_neurons(1, cuts)
    assert batched.widths() == [6, 3, 4, 3]
    for n, net in enumerate(nets):
        net.remove_neurons(1, cuts[n])
        for a, b in zip(batched.member(n).weights, net.weights):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match="all 3 neurons"):
        batched.remove_neurons(1, torch.tensor([[0, 1, 2]] * 3))


def test_inserted_frequencies_are_per_member_with_zero_outgoing_columns():
    nets = members()
    batched = BatchedSineMLP(nets)
    x = torch.rand(1, 20, 2) * 2 - 1
    before = batched(x)
    rows, bias = torch.randn(3, 2, 2), torch.randn(3, 2)
    batched.insert_input_frequencies(rows, bias)
    assert batched.widths()[0] == 8
    torch.testing.assert_close(batched(x), before, rtol=0, atol=1e-6)  # f unchanged (up to the longer dot product)
    for n, net in enumerate(nets):
        net.insert_input_frequencies(rows[n], bias[n])
        for a, b in zip(batched.member(n).weights, net.weights):
            assert torch.equal(a, b)


def test_members_of_different_architectures_are_refused():
    signal = ImageSignal(image=synthetic_image(8))
    with pytest.raises(ValueError, match="one architecture"):
        BatchedSineMLP([aire.build_network(signal, [4, 4]), aire.build_network(signal, [4, 5])])
