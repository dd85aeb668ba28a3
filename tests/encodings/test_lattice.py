"""Lattice encoding: integer frequencies, a periodic network with an exact lattice spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import aire
from aire.config import NetworkConfig
from aire.encodings.lattice import LatticeEncoding, half_space
from aire.nn.sine_mlp import SineMLP
from aire.testing import rounding_bound
from aire.theory.spectrum import network_spectrum


def lattice_net(m, d, seed=0, hidden=(6,), w0=30.0, **kw):
    config = NetworkConfig(in_features=d, out_features=2, widths=(m, *hidden), omega0_first=w0, omega0_hidden=w0,
                           encoding="lattice")
    return SineMLP(config, LatticeEncoding(**kw), seed=seed, dtype=torch.float64)


@given(m=st.integers(1, 40), d=st.integers(1, 3), seed=st.integers(0, 999), period=st.floats(0.5, 4.0))
def test_frequencies_are_distinct_integer_vectors_in_a_half_space(m, d, seed, period):
    if d == 1:
        m = min(m, 10)  # only 10 positive integers below the default bandlimit in 1-D
    net = lattice_net(m, d, seed, period=period)
    k = net.canonical()[0][0] / (2 * math.pi / period)
    assert np.allclose(k, np.round(k), atol=1e-9)
    k = np.round(k).astype(int)
    assert len({tuple(v) for v in k}) == m
    assert half_space(torch.from_numpy(k)).all()


def test_low_band_comes_first():
    net = lattice_net(4, 2)
    k = np.round(net.canonical()[0][0] / math.pi).astype(int)
    assert np.abs(k).max() == 1  # the four vectors of the first shell: (0,1), (1,-1), (1,0), (1,1)


@settings(max_examples=10)
@given(d=st.integers(1, 3), seed=st.integers(0, 999))
def test_network_is_periodic(d, seed):
    net = lattice_net(6 if d > 1 else 5, d, seed, hidden=(5, 4))
    x = torch.rand(200, d, dtype=torch.float64) * 2 - 1
    shift = torch.zeros(d, dtype=torch.float64)
    shift[seed % d] = 2.0  # one period along one axis
    with torch.no_grad():
        diff = (net(x) - net(x + shift)).abs().max(dim=1).values
    # the shifted inputs are rounded to float64 first: an input error of eps*3 moves f by at most
    # that times the network's Lipschitz constant (product of canonical max norms)
    lip = np.prod([np.abs(w).sum(axis=1).max() for w, _ in net.canonical()])
    allowed = rounding_bound(net, x) + rounding_bound(net, x + shift) + 3 * 2.2e-16 * 3 * lip
    assert (diff <= allowed).all()


def test_2d_spectrum_is_on_the_lattice():
    net = lattice_net(4, 2, hidden=(5, 4))
    spec = network_spectrum(net, resolution=64)
    assert spec.method == "periodic" and spec.period == 2.0
    k0 = spec.axes[0] / math.pi
    assert np.allclose(k0, np.round(k0))  # every FFT bin is a lattice point (2 pi / period) * n


def test_doubling_stays_on_the_lattice():
    net = lattice_net(5, 2)
    rows, bias = aire.create("policy", "topk-doubling").propose(net, net.encoding, 3)
    k = rows.numpy() * 30.0 / math.pi
    assert np.allclose(k, np.round(k), atol=1e-9) and (np.abs(np.round(k)) >= 0).all()


def test_frozen_by_default_and_selectable_by_name():
    enc = aire.create("encoding", "lattice")
    assert not enc.trainable
    assert aire.create("encoding", "lattice", frozen=False).trainable
    with pytest.raises(ValueError, match="period"):
        LatticeEncoding(period=0)
