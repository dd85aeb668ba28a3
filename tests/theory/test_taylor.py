"""Taylor models enclose what they model: every operation checked at random points of random boxes.

A check is `|v(x) - p(t)| <= R + rounding of evaluating p here`, the rounding being gamma_M times
the sum of |terms| (Higham), so no tolerance is tuned.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aire.theory import taylor as tm

EPS = float(np.finfo(np.float64).eps)


def _evaluate(model: tm.TM, B: tm.Basis, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """p(t) for points t (k, d) in every box, and the rounding bound of that evaluation: (k, boxes, n)."""
    exps = torch.as_tensor(B.exps, dtype=torch.float64)
    mono = torch.prod(t[:, None, :] ** exps[None], dim=-1)  # (k, M)
    value = torch.einsum("km,mbn->kbn", mono, model.c)
    mass = torch.einsum("km,mbn->kbn", mono.abs(), model.c.abs())
    return value, tm.gamma(B.size + B.d * B.order + 2) * mass


def _contains(truth: torch.Tensor, model: tm.TM, B: tm.Basis, t: torch.Tensor) -> float:
    """Largest |truth - p| / (R + rounding) over points and boxes (<= 1 when enclosed)."""
    value, rounding = _evaluate(model, B, t)
    gap = (truth - value).abs()
    allowed = model.R[None] + rounding + 4 * EPS * truth.abs()  # truth's own sin/cos rounding
    return float((gap / allowed.clamp_min(1e-300)).max())


boxes = st.integers(1, 4)


@settings(max_examples=30)
@given(d=st.integers(1, 3), order=st.integers(1, 6), n_box=boxes, seed=st.integers(0, 10_000),
       log_r=st.floats(-4, 0.3), scale=st.floats(0.1, 30.0))
def test_a_two_layer_sine_chain_is_enclosed(d, order, n_box, seed, log_r, scale):
    gen = torch.Generator().manual_seed(seed)
    B = tm.basis(d, order)
    centre = torch.rand(n_box, d, generator=gen, dtype=torch.float64) * 2 - 1
    radius = torch.full((n_box,), 10**log_r, dtype=torch.float64)
    w0 = (torch.rand(5, d, generator=gen, dtype=torch.float64) * 2 - 1) * scale
    b0 = torch.rand(5, generator=gen, dtype=torch.float64) * 6 - 3
    w1 = (torch.rand(4, 5, generator=gen, dtype=torch.float64) * 2 - 1) * 2
    b1 = torch.rand(4, generator=gen, dtype=torch.float64) - 0.5
    x = tm.variables(centre, radius, B)
    z0 = tm.linear(x, w0, w0.abs(), b0)
    h0, c0 = tm.sincos(z0, B)
    z1 = tm.linear(h0, w1, w1.abs(), b1)
    h1, c1 = tm.sincos(z1, B)
    prod = tm.multiply(h1, c1, B)
    diff = tm.add(h1, c1, 1.0, -0.5)
    t = torch.rand(64, d, generator=gen, dtype=torch.float64) * 2 - 1
    t[0] = 1.0  # a corner
    points = centre[None] + radius[None, :, None] * t[:, None, :]  # (k, boxes, d)
    tz0 = points @ w0.T + b0
    tz1 = torch.sin(tz0) @ w1.T + b1
    for truth, model in ((tz0, z0), (torch.sin(tz0), h0), (torch.cos(tz0), c0), (tz1, z1), (torch.sin(tz1), h1),
                         (torch.sin(tz1) * torch.cos(tz1), prod), (torch.sin(tz1) - 0.5 * torch.cos(tz1), diff)):
        assert _contains(truth, model, B, t) <= 1.0


@given(lo=st.floats(-50, 50), width=st.floats(0, 8))
def test_sin_range_is_the_exact_range(lo, width):
    low, high = tm.sin_range(torch.tensor([lo], dtype=torch.float64), torch.tensor([lo + width], dtype=torch.float64))
    x = torch.linspace(lo, lo + width, 20001, dtype=torch.float64)
    s = torch.sin(x)
    assert float(low) <= float(s.min()) and float(high) >= float(s.max())
    # and not wider than the sampling gap allows (a sample lies within width/20000 of the extremum)
    slack = (width / 20000) ** 2 / 2 + 1e-14
    assert float(s.min()) - float(low) <= slack + 1e-12 and float(high) - float(s.max()) <= slack + 1e-12


def test_exp_majorant_tail_scales_with_the_argument():
    # sin(eps t) has Taylor terms of degree > P of size eps^(P+1) / (P+1)!: the tail bound must follow
    B = tm.basis(1, 3)
    for eps in (1e-1, 1e-3):
        c = torch.zeros(B.size, 1, 1, dtype=torch.float64)
        c[1] = eps
        s, _ = tm.sincos(tm.TM(c, torch.zeros(1, 1, dtype=torch.float64)), B)
        assert float(s.R) <= 2 * eps**4 / math.factorial(4) + 1e-15


def test_polynomial_part_is_the_taylor_expansion():
    # sin(c + a t): coefficients a^k sin^(k)(c) / k!
    B = tm.basis(1, 5)
    c = torch.zeros(B.size, 1, 1, dtype=torch.float64)
    c[0], c[1] = 0.3, 0.7
    s, co = tm.sincos(tm.TM(c, torch.zeros(1, 1, dtype=torch.float64)), B)
    expect = [0.7**k * math.sin(0.3 + k * math.pi / 2) / math.factorial(k) for k in range(6)]
    np.testing.assert_allclose(s.c[:, 0, 0].numpy(), expect, rtol=1e-13, atol=1e-16)
    expect_cos = [0.7**k * math.cos(0.3 + k * math.pi / 2) / math.factorial(k) for k in range(6)]
    np.testing.assert_allclose(co.c[:, 0, 0].numpy(), expect_cos, rtol=1e-13, atol=1e-16)


def test_basis_counts_monomials():
    assert tm.basis(2, 5).size == math.comb(7, 2)
    assert tm.basis(3, 4).size == math.comb(7, 3)
    with pytest.raises(ValueError):
        tm.basis(0, 3)


@settings(max_examples=40)
@given(order=st.integers(1, 6), seed=st.integers(0, 10_000), log_scale=st.floats(-4, 1))
def test_exp_majorant_tail_is_exp_minus_its_partial_sum(order, seed, log_scale):
    """The closed-form tail bounds exp(W(1)) - (E_0 + ... + E_P) computed exactly (mpmath, 60 digits),
    and by no more than the rounding of exp(W(1))."""
    mpmath = pytest.importorskip("mpmath")
    gen = torch.Generator().manual_seed(seed)
    D = torch.rand(order, 1, 1, generator=gen, dtype=torch.float64) * 10**log_scale
    tail, total = tm._exp_majorant_tail(D, order)
    with mpmath.workdps(60):
        d = [mpmath.mpf(float(x)) for x in D.reshape(-1)]
        E = [mpmath.mpf(1)]
        for m in range(1, order + 1):
            E.append(sum(k * d[k - 1] * E[m - k] for k in range(1, m + 1)) / m)
        exact_total = mpmath.exp(sum(d))
        exact = exact_total - sum(E)
    assert float(total) >= exact_total and float(tail) >= exact
    assert float(tail) <= float(exact) * (1 + 1e-12) + 64 * EPS * float(exact_total)
