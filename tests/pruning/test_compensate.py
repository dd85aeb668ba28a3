"""Least-squares compensation at a cut: the next layer's kept columns and bias refit in closed form."""

from __future__ import annotations

import torch

import aire
from aire.pruning.compensate import next_preactivations, refit_next_layer
from aire.signals.image import ImageSignal, synthetic_image


def _network(seed: int = 2):
    signal = ImageSignal(image=synthetic_image(8))
    return aire.build_network(signal, [12, 10, 6], seed=seed).double()


def test_next_preactivations_are_the_next_layers_stored_form_input():
    net = _network()
    x = torch.rand(40, 2, dtype=torch.float64) * 2 - 1
    h1 = net.hidden_outputs(x)[1]
    expected = h1 @ net.weights[2].T + net.biases[2]
    assert torch.allclose(next_preactivations(net, 1, x), expected)
    assert torch.allclose(next_preactivations(net, 2, x), net(x))  # after the last sine layer: the output


def test_a_removed_neuron_that_is_constant_on_the_data_is_absorbed_by_the_bias_exactly():
    net = _network()
    with torch.no_grad():
        net.weights[1][4] = 0.0
        net.biases[1][4] = 0.01  # neuron 4 of layer 1 outputs sin(0.3) everywhere
    x = torch.rand(200, 2, dtype=torch.float64) * 2 - 1
    target = next_preactivations(net, 1, x)
    column = net.weights[2][:, 4].detach().clone()
    bias = net.biases[2].detach().clone()
    residual = refit_next_layer(net, 1, torch.tensor([4]), x, target, ridge=1e-12)
    assert residual < 1e-6
    assert torch.allclose(net.biases[2].detach(), bias + column * torch.sin(torch.tensor(0.3, dtype=torch.float64)),
                          atol=1e-6)
    net.remove_neurons(1, torch.tensor([4]))
    assert torch.allclose(next_preactivations(net, 1, x), target, atol=1e-6)  # the function did not change


def test_the_refit_is_the_ridge_least_squares_solution():
    net = _network(5)
    x = torch.rand(300, 2, dtype=torch.float64) * 2 - 1
    target = next_preactivations(net, 1, x) + 0.05 * torch.randn(300, 6, dtype=torch.float64)
    removed = torch.tensor([0, 7])
    keep = [j for j in range(10) if j not in (0, 7)]
    a = torch.cat([net.hidden_outputs(x)[1][:, keep], torch.ones(300, 1, dtype=torch.float64)], 1).detach()
    current = torch.cat([net.weights[2][:, keep], net.biases[2][:, None]], 1).detach().T
    lam = 1e-3 * (a.T @ a).diagonal().mean()
    expected = torch.linalg.solve(a.T @ a + lam * torch.eye(9, dtype=torch.float64), a.T @ target + lam * current)
    removed_columns = net.weights[2][:, [0, 7]].detach().clone()
    refit_next_layer(net, 1, removed, x, target)
    assert torch.allclose(net.weights[2][:, keep].detach(), expected[:-1].T, atol=1e-8)
    assert torch.allclose(net.biases[2].detach(), expected[-1], atol=1e-8)
    assert torch.equal(net.weights[2][:, [0, 7]].detach(), removed_columns)  # the cut takes those away
