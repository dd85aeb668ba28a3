"""The network: SIREN initialisation, canonical export and the contract of `canonical()`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from aire.config import ConfigError, NetworkConfig
from aire.encodings.siren import SirenEncoding
from aire.nn.sine_mlp import SineMLP
from aire.testing import rounding_bound, small_network


def canonical_forward(net: SineMLP, x: np.ndarray) -> np.ndarray:
    layers = net.canonical()
    h = x
    for i, (w, b) in enumerate(layers[:-1]):
        h = net.canonical_activation(i)(h @ w.T + b)
    w, b = layers[-1]
    return h @ w.T + b


@given(widths=st.lists(st.integers(1, 8), min_size=1, max_size=4), d=st.integers(1, 3),
       activation=st.sampled_from(["sine", "finer"]), seed=st.integers(0, 999),
       w0=st.floats(1.0, 90.0), w0h=st.floats(1.0, 90.0))
def test_canonical_form_computes_the_same_function(widths, d, activation, seed, w0, w0h):
    config = NetworkConfig(in_features=d, out_features=2, widths=tuple(widths), omega0_first=w0, omega0_hidden=w0h)
    net = SineMLP(config, SirenEncoding(), activation=activation, seed=seed).double()
    x = torch.rand(64, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1
    ours = net(x).detach().numpy()
    theirs = canonical_forward(net, x.numpy())
    bound = 2 * rounding_bound(net, x).numpy()
    assert (np.abs(ours - theirs).max(axis=1) <= bound).all()
    pairs = net.canonical()
    assert len(pairs) == len(widths) + 1
    assert pairs[0][0].shape == (widths[0], d) and pairs[-1][0].shape == (2, widths[-1])
    assert all(w.dtype == np.float64 and b.dtype == np.float64 for w, b in pairs)
    np.testing.assert_allclose(pairs[0][0], w0 * net.weights[0].detach().numpy(), rtol=1e-15)


def test_siren_initialisation_ranges():
    config = NetworkConfig(in_features=2, out_features=3, widths=(64, 64), omega0_first=30.0, omega0_hidden=30.0)
    net = SineMLP(config, SirenEncoding(), seed=0)
    assert net.weights[0].abs().max() <= 1 / 2
    assert net.weights[1].abs().max() <= math.sqrt(6 / 64) / 30
    assert net.weights[1].abs().max() > 0.9 * math.sqrt(6 / 64) / 30  # uniform, fills its range
    assert net.activation == "sine"


def test_frozen_encoding_and_widths():
    config = NetworkConfig(in_features=2, out_features=1, widths=(5, 4))
    net = SineMLP(config, SirenEncoding(frozen=True))
    assert not net.weights[0].requires_grad and net.weights[1].requires_grad
    assert net.widths() == [5, 4, 1]
    assert net.num_parameters() == (2 * 5 + 5) + (5 * 4 + 4) + (4 + 1)


def test_same_seed_same_network():
    a, b = small_network(seed=3), small_network(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("bad", [dict(widths=()), dict(widths=(0, 4)), dict(widths=(3, -1)), dict(omega0_first=0.0),
                                 dict(in_features=0)])
def test_bad_network_config_names_the_field(bad):
    settings = dict(in_features=2, out_features=3, widths=(4, 4)) | bad
    with pytest.raises(ConfigError, match=next(iter(bad))):
        NetworkConfig(**settings)
