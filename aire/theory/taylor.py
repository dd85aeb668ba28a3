"""Taylor models in d variables: a polynomial of total degree <= P plus an interval remainder.

A Taylor model (Makino & Berz, "Taylor models and other validated functional inclusion methods",
2003) encloses a function v on a box x_c + r [-1, 1]^d as

    v(x) in p(t) + [-R, R],   t = (x - x_c) / r in [-1, 1]^d,   p of total degree <= P,

with rigorous R. Batched here over boxes and neurons: coefficients (B, M, n), remainders (B, n),
M = C(P + d, d) monomials sorted by degree (index 0 is the constant). Every operation adds its own
float64 rounding (gamma_n = n u / (1 - n u) per sum of n terms) to R, so enclosures hold in exact
arithmetic, not just up to rounding.

Operations: affine layers, products, and sin/cos of a model. sin and cos use the Taylor-series
recurrence of automatic differentiation (k S_g = sum_{b+a=g} |b| w_b C_a, k C_g = -sum |b| w_b S_a,
from E sin(w) = cos(w) E w with the Euler operator E = sum t_i d/dt_i), so one composition costs
two series products instead of P powers, and the truncation error is bounded by Cauchy's estimate
on a polydisk of radius rho > 1: |sin(c + w(t))| <= cosh(sum_a |w_a| rho^|a|) there, so the terms of
degree > P sum to at most that times rho^-(P+1) / (1 - 1/rho) on [-1, 1]^d (minimised over rho).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import numpy as np
import torch

U = 2.0**-53  # unit roundoff of float64
_TRIG = 4 * U  # sin/cos within two ulps of the exact value (|value| <= 1)


def gamma(n: int) -> float:
    """Higham's gamma_n: relative error bound of a float64 sum or dot product of n terms."""
    return n * U / (1 - n * U)


class Basis:
    """Monomials of total degree <= P in d variables (sorted by degree) and index tables."""

    def __init__(self, d: int, order: int, device: torch.device) -> None:
        if d < 1 or order < 1:
            raise ValueError(f"a Taylor model needs d >= 1 variables and order >= 1, got d={d}, order={order}")
        exps = sorted((e for e in itertools.product(range(order + 1), repeat=d) if sum(e) <= order),
                      key=lambda e: (sum(e), e))
        self.d, self.order, self.size = d, order, len(exps)
        self.exps = np.array(exps, dtype=np.int64).reshape(len(exps), d)
        index = {e: i for i, e in enumerate(exps)}
        degree = self.exps.sum(axis=1)
        #: monomials of degree k are rows start[k]:start[k+1]
        self.start = [int(np.searchsorted(degree, k)) for k in range(order + 2)]
        lt = lambda v: torch.as_tensor(np.asarray(v, dtype=np.int64), device=device)  # noqa: E731
        # products: for each a, the b with |a| + |b| <= P (a prefix, monomials being sorted by degree)
        self.prod = []
        for a in exps:
            n_b = self.start[order - sum(a) + 1]
            self.prod.append(lt([index[tuple(x + y for x, y in zip(a, b))] for b in exps[:n_b]]))
        # the same products as in-place multiply-adds over blocks: for each a and each degree m of b,
        # the targets a + b of the degree-m monomials b, when they form a slice (always in 1-D, 2-D)
        self.prod_blocks: list[tuple[int, slice, slice]] | None = []
        for ai, a in enumerate(exps):
            for m in range(order - sum(a) + 1):
                lo, hi = self.start[m], self.start[m + 1]
                idx = [index[tuple(x + y for x, y in zip(a, b))] for b in exps[lo:hi]]
                if idx != list(range(idx[0], idx[0] + len(idx))):
                    self.prod_blocks = None
                    break
                self.prod_blocks.append((ai, slice(idx[0], idx[-1] + 1), slice(lo, hi)))
            if self.prod_blocks is None:
                break
        # sin/cos recurrence: for each degree k and each b with 1 <= |b| <= k, the monomials a of
        # degree k - |b| (a contiguous slice) and the indices of a + b (a slice too when contiguous,
        # as always in 1-D and 2-D: then the step is one in-place multiply-add)
        self.rec = []
        for k in range(1, order + 1):
            steps = []
            for bi, b in enumerate(exps):
                if not 1 <= sum(b) <= k:
                    continue
                lo, hi = self.start[k - sum(b)], self.start[k - sum(b) + 1]
                idx = [index[tuple(x + y for x, y in zip(a, b))] for a in exps[lo:hi]]
                contiguous = idx == list(range(idx[0], idx[0] + len(idx)))
                target: Any = slice(idx[0], idx[-1] + 1) if contiguous else lt(idx)
                steps.append((bi, lo, hi, target))
            self.rec.append(steps)
        #: |b| for every monomial, as float64 (the recurrence's weights |b| / k, the 1 / k applied per degree)
        self.degree = torch.as_tensor(degree, dtype=torch.float64, device=device)
        #: (P+1, M): 1 where monomial m has total degree k
        self.degree_indicator = (self.degree[None, :] == torch.arange(order + 1, device=device)[:, None]).double()
        self.unit = [index[tuple(int(i == j) for j in range(d))] for i in range(d)]


@functools.lru_cache(maxsize=8)
def basis(d: int, order: int, device: str = "cpu") -> Basis:
    return Basis(d, order, torch.device(device))


class TM:
    """Batched Taylor models: coefficients c (M, B, n) of the monomials in the scaled variable t,
    remainder R (B, n)."""

    __slots__ = ("c", "R", "deg")

    def __init__(self, c: torch.Tensor, R: torch.Tensor, deg: torch.Tensor | None = None) -> None:
        self.c, self.R = c, R
        self.deg = deg  # degree_sums, once computed (c is never changed in place after they are)

    def degree_sums(self, B: Basis) -> torch.Tensor:
        """(P+1, B, n): sum of |coefficients| of each total degree, rounded up; computed once per model
        (a model feeds several products: its abs is the costliest part of them)."""
        if self.deg is None:
            self.deg = _degree_sums(self.c, B)
        return self.deg

    def spread(self, B: Basis | None = None) -> torch.Tensor:
        """Bound on |p(t) - p(0)| over [-1, 1]^d: the sum of |non-constant coefficients| (rounded up);
        from the cached degree sums when the basis is given."""
        if B is None:
            return self.c[1:].abs().sum(dim=0) * (1 + gamma(self.c.shape[0]))
        return self.degree_sums(B)[1:].sum(dim=0) * (1 + gamma(B.order))

    def half_width(self, B: Basis | None = None) -> torch.Tensor:
        """Bound on |v(x) - p(0)| over the box."""
        return self.spread(B) + self.R

    def bound(self, B: Basis | None = None) -> torch.Tensor:
        """Bound on |v(x)| over the box."""
        return (self.c[0].abs() + self.half_width(B)) * (1 + 2 * U)


def variables(centre: torch.Tensor, radius: torch.Tensor, B: Basis) -> TM:
    """The identity x = x_c + r t on boxes (centre (B, d), radius (B,)) as an exact Taylor model."""
    n_box, d = centre.shape
    c = torch.zeros(B.size, n_box, d, dtype=torch.float64, device=centre.device)
    c[0] = centre
    for i, j in enumerate(B.unit):
        c[j, :, i] = radius
    return TM(c, torch.zeros_like(centre))


def linear(v: TM, w: torch.Tensor, w_abs: torch.Tensor, b: torch.Tensor | None, B: Basis | None = None) -> TM:
    """W v + b. Rounding: each coefficient is a dot product of n terms (gamma_{n+2} with the bias).
    Given the basis, v's degree sums are computed (once) and kept for the products v feeds later."""
    g = gamma(w.shape[1] + 2)
    c = v.c @ w.T  # (M, B, n) @ (n, m)
    if b is not None:
        c[0] += b
    # sum over monomials of |coefficient| (each |t^a| <= 1), from the degree sums when known
    if B is not None:
        v.degree_sums(B)
    mass = v.c.abs().sum(dim=0) if v.deg is None else v.deg.sum(dim=0) * (1 + gamma(v.deg.shape[0]))
    R = ((v.R * (1 + g) + g * mass) @ w_abs.T) * (1 + g)
    if b is not None:
        R = R + g * b.abs()
    return TM(c, R)


def add(u: TM, v: TM, alpha: float = 1.0, beta: float = 1.0, B: Basis | None = None) -> TM:
    """alpha u + beta v (alpha, beta powers of two: exact scalings). Each coefficient's rounding is
    at most u |exact| <= u / (1 - u) |computed|. Given the basis, the result keeps its degree sums."""
    c = torch.add(u.c, v.c, alpha=beta / alpha) * alpha if alpha != 1.0 else torch.add(u.c, v.c, alpha=beta)
    deg = None if B is None else _degree_sums(c, B)
    mass = c.abs().sum(dim=0) if deg is None else deg.sum(dim=0)
    return TM(c, (abs(alpha) * u.R + abs(beta) * v.R) * (1 + 2 * U) + 2 * U * mass * (1 + gamma(c.shape[0])), deg)


def scale(v: TM, factor: float) -> TM:
    """factor * v for a power of two (exact)."""
    return TM(v.c * factor, v.R * abs(factor))


def _degree_sums(c: torch.Tensor, B: Basis) -> torch.Tensor:
    """(P+1, B, n): sum of |coefficients| of each total degree (rounded up): one product with the
    0/1 degree-indicator matrix (a sum of M terms in any order: within gamma_M). An infinite
    coefficient would make 0 * inf = nan in the other degrees' sums: nan reads as +inf (no bound)."""
    sums = (B.degree_indicator.to(c.device) @ c.abs().reshape(c.shape[0], -1)).reshape(-1, *c.shape[1:])
    return torch.nan_to_num(sums * (1 + gamma(c.shape[0])), nan=math.inf, posinf=math.inf)


def multiply(u: TM, v: TM, B: Basis) -> TM:
    """u * v: the product polynomial truncated at degree P; the dropped terms, the remainders'
    cross terms and the rounding go to R."""
    c = torch.zeros_like(u.c)
    if B.prod_blocks is not None:
        for a, target, block in B.prod_blocks:
            c[target].addcmul_(u.c[a], v.c[block])
    else:
        for a, targets in enumerate(B.prod):
            c.index_add_(0, targets, u.c[a] * v.c[:targets.numel()])
    du, dv = u.degree_sums(B), v.degree_sums(B)
    P = B.order
    high = torch.zeros_like(u.R)
    for i in range(1, P + 1):  # the dropped degrees i + j > P
        high = high + du[i] * dv[P + 1 - i:].sum(dim=0)
    nu, nv = du.sum(dim=0), dv.sum(dim=0)
    R = nu * v.R + nv * u.R + u.R * v.R + high * (1 + gamma(P + 2))
    R = R * (1 + 4 * U) + gamma(B.size + 2) * nu * nv * 2
    return TM(c, R)


def sin_range(lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact range [min, max] of sin over [lo, hi] (elementwise), widened by sin's rounding."""
    two_pi = 2 * math.pi
    slack = 1e-12 * (1 + lo.abs() + hi.abs())  # a peak a rounding error outside [lo, hi] still counts
    a, b = lo - slack, hi + slack
    s_lo, s_hi = torch.sin(lo), torch.sin(hi)
    # sin's own rounding, and that of the argument (|lo|, |hi| come from sums rounded to 2 ulps)
    err = _TRIG + 4 * U * torch.maximum(lo.abs(), hi.abs())
    low = torch.minimum(s_lo, s_hi) - err
    high = torch.maximum(s_lo, s_hi) + err
    has_max = torch.ceil((a - math.pi / 2) / two_pi) <= torch.floor((b - math.pi / 2) / two_pi)
    has_min = torch.ceil((a + math.pi / 2) / two_pi) <= torch.floor((b + math.pi / 2) / two_pi)
    full = (hi - lo) >= two_pi
    high = torch.where(has_max | full, torch.ones_like(high), high.clamp(max=1.0))
    low = torch.where(has_min | full, -torch.ones_like(low), low.clamp(min=-1.0))
    return low, high


def _exp_majorant_tail(D: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bound on the terms of degree > P of sin(c + w(t)) and cos(c + w(t)) on [-1, 1]^d, and on the sum
    of |all coefficients|, given D[k-1] = sum of |w_a| over |a| = k.

    Along a ray t = s t0, every derivative of sin and cos being at most 1, the Taylor coefficients in
    s are majorised by those of exp(W(s)), W(s) = sum_k D_k s^k (Faa di Bruno). Its coefficients E_m
    follow m E_m = sum_k k D_k E_{m-k}, all >= 0, so the tail is exactly exp(W(1)) - (E_0 + ... + E_P):
    it scales like |w|^(P+1) for small arguments, unlike a cosh(|w|) bound. Computed as an upper
    bound on exp (W(1) and exp rounded up) minus a lower bound on the partial sum (its rounding, a
    few ulps per step of the recurrence, taken off); the difference's own rounding is a few ulps of
    exp(W(1)), far below the rounding sincos adds for `total` anyway.
    """
    P = order
    E = [torch.ones_like(D[0])]
    for m in range(1, P + 1):
        acc = D[0] * E[m - 1]
        for k in range(2, m + 1):
            acc = acc + k * D[k - 1] * E[m - k]
        E.append(acc / m)
    partial = sum(E) * (1 - gamma((P + 4) ** 2))  # each E_m within (1 + gamma(m (P + 3))) of exact
    total = torch.exp(D.sum(dim=0) * (1 + gamma(P + 1))) * (1 + 8 * U)  # exp within an ulp (libm, SLEEF)
    tail = torch.nan_to_num((total - partial) * (1 + 2 * U), nan=math.inf, posinf=math.inf).clamp_min(0.0)
    return tail, total


def sincos(v: TM, B: Basis) -> tuple[TM, TM]:
    """(sin v, cos v) as Taylor models, each falling back per neuron to the exact interval of the
    function over v's range when that is narrower than the model's remainder (the polynomial then
    carries only the interval's midpoint)."""
    c0 = v.c[0]
    S = torch.zeros_like(v.c)
    C = torch.zeros_like(v.c)
    S[0], C[0] = torch.sin(c0), torch.cos(c0)
    wd = v.c * B.degree[:, None, None]  # |b| w_b
    for k, steps in enumerate(B.rec, start=1):  # degree by degree: each uses only lower degrees
        lo_k, hi_k = B.start[k], B.start[k + 1]
        for bi, lo, hi, target in steps:  # S_k += |b| w_b C_a, C_k += |b| w_b S_a (signs and 1/k below)
            if isinstance(target, slice):
                S[target].addcmul_(wd[bi], C[lo:hi])
                C[target].addcmul_(wd[bi], S[lo:hi])
            else:
                S.index_add_(0, target, wd[bi] * C[lo:hi])
                C.index_add_(0, target, wd[bi] * S[lo:hi])
        S[lo_k:hi_k] /= k
        C[lo_k:hi_k] /= -k
    D = v.degree_sums(B)[1:]  # (P, B, n): |w| of degrees 1..P on [-1, 1]^d
    tail, total = _exp_majorant_tail(D, B.order)
    rounding = ((B.order + 2) * gamma(B.size + 2) + 2 * _TRIG) * total * 1.01
    R = (v.R + tail) * (1 + 8 * U) + rounding  # sin and cos are 1-Lipschitz: the input remainder passes through
    out = []
    width = v.half_width(B)
    for coef, phase in ((S, 0.0), (C, math.pi / 2)):
        lo, hi = sin_range(c0 - width + phase, c0 + width + phase)
        interval = (hi - lo) / 2
        use = interval <= R
        if not bool(use.any()):
            out.append(TM(coef, R))
            continue
        coef.masked_fill_(use, 0.0)  # coef is this function's own: no copy needed
        coef[0] = torch.where(use, (hi + lo) / 2, coef[0])
        out.append(TM(coef, torch.where(use, interval * (1 + 4 * U) + 2 * U, R)))
    return out[0], out[1]


def select(v: TM, boxes: torch.Tensor | None = None, neurons: torch.Tensor | None = None) -> TM:
    """The models of some boxes and/or neurons (index tensors; None: all), degree sums included."""
    c, R, deg = v.c, v.R, v.deg
    if boxes is not None:
        c, R, deg = c[:, boxes], R[boxes], None if deg is None else deg[:, boxes]
    if neurons is not None:
        c, R, deg = c[..., neurons], R[..., neurons], None if deg is None else deg[..., neurons]
    return TM(c, R, deg)

