"""Densification policies: the paper's top-K doubling and the residual-spectrum policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import aire
from aire.densify.residual_spectrum import ResidualSpectrum, spectrum_scores
from aire.interfaces import DensifyContext
from aire.signals.image import ImageSignal
from aire.testing import check_densification_policy, small_network


def test_contracts():
    check_densification_policy(aire.create("policy", "topk-doubling"))
    check_densification_policy(aire.create("policy", "residual-spectrum"))
    check_densification_policy(aire.create("policy", "residual-spectrum", neighbours=True))


def test_spectrum_scores_find_a_pure_tone():
    n = 64
    coords = np.linspace(-1, 1, n)
    nu = 2 * math.pi * 5 / (n * (2 / (n - 1)))  # exactly bin 5 along axis 0
    grid = np.sin(nu * coords)[:, None, None] * np.ones((1, n, 1))
    power = (np.abs(np.fft.fftn(grid, axes=(0, 1))) ** 2).sum(-1)
    cands = np.array([[nu, 0.0], [2 * nu, 0.0], [0.0, nu], [1e6, 0.0]])
    scores = spectrum_scores(power, (2 / (n - 1), 2 / (n - 1)), cands, radius=0)
    assert np.argmax(scores) == 0 and scores[3] == 0.0  # beyond Nyquist: no evidence, score zero


def test_residual_spectrum_picks_the_doubled_frequency_where_the_residual_is():
    n = 48
    # an image whose only content is a stripe pattern at frequency nu along the rows
    nu = 2 * math.pi * 6 / (n * (2 / (n - 1)))
    rows = np.linspace(-1, 1, n)
    image = 0.5 + 0.4 * np.sin(nu * rows)[:, None, None] * np.ones((1, n, 3))
    signal = ImageSignal(image=image)
    net = small_network((4, 5), in_features=2, dtype=torch.float32)
    with torch.no_grad():  # input frequencies: nu/2 along axis 0 and three others
        net.weights[0].copy_(torch.tensor([[nu / 2, 0.0], [0.0, 3.0], [1.0, 1.0], [0.0, 0.5]]) / net.omega(0))
        net.outgoing(0).zero_()  # the network outputs a constant: the residual is the stripes
    rows_new, _ = ResidualSpectrum().propose(net, net.encoding, 1, DensifyContext(signal, net, aire.get_backend("torch")))
    np.testing.assert_allclose(rows_new[0].numpy() * net.omega(0), [nu, 0.0], rtol=1e-5)


def test_residual_spectrum_needs_a_grid():
    net = small_network()
    with pytest.raises(ValueError, match="residual grid"):
        ResidualSpectrum().propose(net, net.encoding, 2, DensifyContext(None, net, None))
