"""Surgery is real (tensors shrink/grow), exact with zero outgoing weights, and carries Adam state."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from aire.nn.surgery import append_index, keep_index, remap
from aire.testing import rounding_bound, small_network

widths_st = st.lists(st.integers(2, 9), min_size=1, max_size=4)


def _inputs(d: int, n: int = 128, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


@given(widths=widths_st, data=st.data(), activation=st.sampled_from(["sine", "finer"]), d=st.integers(1, 3))
def test_removing_neurons_with_zero_outgoing_columns_is_exact(widths, data, activation, d):
    net = small_network(widths, in_features=d, activation=activation, seed=data.draw(st.integers(0, 99)))
    layer = data.draw(st.integers(0, len(widths) - 1))
    width = widths[layer]
    neurons = data.draw(st.lists(st.integers(0, width - 1), min_size=1, max_size=width - 1, unique=True))
    with torch.no_grad():
        net.outgoing(layer)[:, neurons] = 0.0
    x = _inputs(d)
    before = net(x).detach()
    params_before = net.num_parameters()
    bound = rounding_bound(net, x)
    net.remove_neurons(layer, torch.tensor(neurons))
    assert net.widths()[layer] == width - len(neurons)
    assert net.weights[layer].shape[0] == width - len(neurons)
    assert net.outgoing(layer).shape[1] == width - len(neurons)
    fan_in = net.weights[layer].shape[1]
    fan_out = net.outgoing(layer).shape[0]
    assert params_before - net.num_parameters() == len(neurons) * (fan_in + 1 + fan_out)
    # zero columns add exact zeros; only the summation order of the BLAS kernel may change
    assert ((net(x).detach() - before).abs().max(dim=1).values <= bound + rounding_bound(net, x)).all()


@given(widths=widths_st, added=st.integers(1, 5), seed=st.integers(0, 99), d=st.integers(1, 3))
def test_inserting_input_frequencies_with_zero_outgoing_columns_is_exact(widths, added, seed, d):
    net = small_network(widths, in_features=d, seed=seed)
    x = _inputs(d)
    before = net(x).detach()
    bound = rounding_bound(net, x)
    rows = torch.randn(added, d, dtype=torch.float64)
    net.insert_input_frequencies(rows, torch.randn(added, dtype=torch.float64))
    assert net.widths()[0] == widths[0] + added
    assert torch.equal(net.weights[0][-added:].detach(), rows)
    assert torch.equal(net.outgoing(0)[:, -added:].detach(), torch.zeros(net.outgoing(0).shape[0], added, dtype=torch.float64))
    assert ((net(x).detach() - before).abs().max(dim=1).values <= bound + rounding_bound(net, x)).all()


def _trained_optimizer(net, steps=3):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = _inputs(net.weights[0].shape[1])
    for _ in range(steps):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    return opt, x


def test_removal_carries_adam_moments_of_surviving_weights():
    net = small_network((6, 5, 4), seed=1)
    opt, x = _trained_optimizer(net)
    old_w1, old_w2 = net.weights[1], net.weights[2]
    old_state1 = {k: v.clone() for k, v in opt.state[old_w1].items()}
    old_state2 = {k: v.clone() for k, v in opt.state[old_w2].items()}
    removed = torch.tensor([0, 3])
    net.remove_neurons(1, removed, opt)
    keep = torch.tensor([1, 2, 4])
    new_w1, new_w2 = net.weights[1], net.weights[2]
    assert new_w1 is not old_w1 and all(p is not old_w1 for g in opt.param_groups for p in g["params"])
    assert any(p is new_w1 for p in opt.param_groups[0]["params"])
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(opt.state[new_w1][key], old_state1[key][keep])  # rows of the pruned layer
        assert torch.equal(opt.state[new_w2][key], old_state2[key][:, keep])  # columns of the next layer
    assert torch.equal(opt.state[new_w1]["step"], old_state1["step"])
    # the optimizer keeps working on the smaller tensors
    opt.zero_grad()
    net(x).pow(2).mean().backward()
    opt.step()
    assert opt.state[new_w1]["exp_avg"].shape == new_w1.shape


def test_insertion_gives_new_weights_zero_moments_and_keeps_old_ones():
    net = small_network((4, 5), seed=2)
    opt, x = _trained_optimizer(net)
    old_w1 = net.weights[1]
    old = opt.state[old_w1]["exp_avg_sq"].clone()
    net.insert_input_frequencies(torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), opt)
    state = opt.state[net.weights[1]]["exp_avg_sq"]
    assert state.shape == (5, 6)
    assert torch.equal(state[:, :4], old) and torch.equal(state[:, 4:], torch.zeros(5, 2, dtype=torch.float64))
    assert len(opt.state) == sum(1 for _ in net.parameters())  # no stale entries for the old tensors


def test_cannot_remove_every_neuron_or_a_missing_layer():
    net = small_network((3, 3))
    with pytest.raises(ValueError, match="cannot remove all"):
        net.remove_neurons(0, torch.arange(3))
    with pytest.raises(IndexError):
        net.remove_neurons(5, torch.tensor([0]))


def test_index_helpers():
    assert keep_index(5, torch.tensor([1, 3])).tolist() == [0, 2, 4]
    assert append_index(2, 2).tolist() == [0, 1, -1, -1]
    t = torch.arange(6.0).reshape(2, 3)
    assert remap(t, 1, torch.tensor([2, -1, 0])).tolist() == [[2.0, 0.0, 0.0], [5.0, 0.0, 3.0]]
