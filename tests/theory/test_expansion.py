"""Theorem 1 truncated by amplitude: terms, the rigorous sup bound, the mean-square estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aire.backends.torch_backend import bessel_j
from aire.testing import small_network
from aire.theory.expansion import amplitude_expansion, terms_needed
from aire.theory.harmonic import BESSEL_ATOL, BESSEL_RTOL
from aire.theory.verify import first_layer_rounding

EPS = float(np.finfo(np.float64).eps)


def _first_layer(net, x: np.ndarray, neuron: int) -> np.ndarray:
    with torch.no_grad():
        return net.hidden_outputs(torch.from_numpy(x))[1][:, neuron].numpy()


def _series_rounding(exp, x: np.ndarray) -> float:
    """Float64 rounding of evaluating the series at x: each sin argument and the sum of terms."""
    arg = 1 + np.abs(x).max() * np.abs(exp.frequency).sum(axis=1) + np.abs(exp.phase)
    return float(4 * EPS * (arg @ np.abs(exp.amplitude) + len(exp) * np.abs(exp.amplitude).sum()))


@settings(max_examples=25)
@given(d=st.integers(1, 3), m=st.integers(1, 6), seed=st.integers(0, 10_000), terms=st.integers(1, 3000),
       w0=st.floats(5.0, 90.0))
def test_sup_bound_holds_and_never_exceeds_the_l1_tail(d, m, seed, terms, w0):
    net = small_network((m, 2), in_features=d, seed=seed)
    net.omega0_hidden = w0  # larger a_l: slower convergence
    exp = amplitude_expansion(net, seed % 2, max_terms=terms)
    assert len(exp) <= terms
    x = np.random.default_rng(seed).uniform(-1, 1, (400, d))
    error = np.abs(exp(x) - _first_layer(net, x, seed % 2)).max()
    assert error <= exp.sup_bound + _series_rounding(exp, x) + first_layer_rounding(net, x, seed % 2)
    assert exp.sup_bound <= exp.l1_bound
    # amplitudes are the products of Bessel values, every frequency an integer combination
    k = exp.k_dense(m)
    a = net.canonical()[1][0][seed % 2]
    np.testing.assert_allclose(exp.amplitude, scipy.special.jv(k, a[None, :]).prod(axis=1), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(exp.frequency, k @ net.canonical()[0][0], rtol=0, atol=1e-12 * (1 + np.abs(k).sum()))
    # the kept set is all terms above the threshold: nothing heavier was left out
    assert np.abs(exp.amplitude).min(initial=np.inf) >= exp.threshold * (1 - 1e-9) or len(exp) == 0


def test_kept_terms_are_the_largest_and_pairs_stay_together():
    net = small_network((5, 3), in_features=2, seed=4)
    exp = amplitude_expansion(net, 1, max_terms=200)
    k = exp.k_dense(5)
    rows = {tuple(r) for r in k}
    assert all(tuple(-r) in rows for r in k)  # closed under k -> -k (the mean-square formula needs it)
    bigger = amplitude_expansion(net, 1, max_terms=5000)
    dropped = np.sort(np.abs(bigger.amplitude))[::-1][len(exp):]
    assert dropped.max() <= np.abs(exp.amplitude).min() * (1 + 1e-9)


def test_mean_square_estimate_is_exact_when_the_domain_covers_the_torus():
    # theta_l = q_l pi x_l + phi_l with one coordinate per input frequency: uniform x on [-1, 1]^m makes
    # theta uniform on the torus, the estimate's assumption, so estimate = the domain mean
    m = 2
    net = small_network((m, 3), in_features=m, seed=7)
    net.omega0_hidden = 60.0
    with torch.no_grad():
        net.weights[0].copy_(torch.diag(torch.tensor([2.0, 3.0], dtype=torch.float64)) * math.pi / net.omega(0))
    n = 256
    axis = -1 + 2 * np.arange(n) / n  # one period per coordinate, exact for trigonometric polynomials of degree < n
    x = np.stack([g.reshape(-1) for g in np.meshgrid(axis, axis, indexing="ij")], axis=1)
    h = _first_layer(net, x, 0)
    for terms in (5, 40, 300):
        exp = amplitude_expansion(net, 0, max_terms=terms)
        observed = float(np.mean((h - exp(x)) ** 2))
        assert exp.mse_estimate == pytest.approx(observed, rel=1e-6, abs=1e-14)
    assert exp.energy == pytest.approx(float(np.mean(h**2)), rel=1e-9)


def test_torus_witness_is_the_error_at_its_point():
    net = small_network((6, 2), in_features=2, seed=1)
    net.omega0_hidden = 80.0
    exp = amplitude_expansion(net, 0, max_terms=50)
    a, c = net.canonical()[1][0][0], float(net.canonical()[1][1][0])
    theta = np.where(a >= 0, math.pi / 2, -math.pi / 2)
    series = float(np.sin(exp.k_dense(6) @ theta + c) @ exp.amplitude)
    assert exp.torus_witness == pytest.approx(abs(math.sin(np.abs(a).sum() + c) - series), rel=1e-9)
    assert exp.torus_witness <= exp.sup_bound


def test_terms_needed_matches_the_enumeration():
    net = small_network((8, 2), in_features=2, seed=2)
    a = net.canonical()[1][0][0]
    needed = terms_needed(a)
    assert 1000 < needed < 1e5
    # the L1 tail of the top-N terms crosses 2 near N = needed (the estimate's binning is 0.02 in log)
    assert amplitude_expansion(net, 0, max_terms=int(needed / 1.5)).l1_bound > 2
    assert amplitude_expansion(net, 0, max_terms=int(needed * 1.5)).l1_bound < 2
    assert terms_needed(a * 1e-3) == 0.0  # prod S_l < 2: no term needed


def test_backend_bessel_is_within_its_stated_error():
    # the bounds add BESSEL_RTOL |J| + BESSEL_ATOL per value; scipy (itself within ~1e-15) as the
    # reference, with half the allowance each way
    n = np.arange(-40, 41)[:, None]
    x = np.concatenate([np.linspace(-8, 8, 1601), np.geomspace(1e-8, 8, 300)])[None, :]
    ref = scipy.special.jv(n, x)
    got = bessel_j(n, x).numpy()
    assert (np.abs(got - ref) <= (BESSEL_RTOL * np.abs(ref) + BESSEL_ATOL) / 2).all()
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(0)
    for order, arg in zip(rng.integers(-60, 61, 400), rng.uniform(-50, 50, 400)):
        exact = float(mpmath.besselj(int(order), float(arg)))
        assert abs(float(bessel_j(int(order), float(arg))) - exact) <= BESSEL_RTOL * abs(exact) + BESSEL_ATOL


def test_refusals():
    with pytest.raises(ValueError, match="sine"):
        amplitude_expansion(small_network(activation="finer"), 0)
    with pytest.raises(ValueError, match="max_terms"):
        amplitude_expansion(small_network(), 0, max_terms=0)
