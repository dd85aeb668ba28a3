"""Theorem 1 (TUNER's harmonic expansion) for a first-hidden-layer neuron, with a rigorous tail bound.

h_{1,j}(x) = sin(sum_l a_l sin(theta_l) + c_j), theta_l = <omega_l, x> + phi_l, a_l = A_{1,jl}. The
Jacobi-Anger identity e^{i a sin t} = sum_n J_n(a) e^{int} gives

    h_{1,j}(x) = sum_{k in Z^m} alpha_k sin(<k, theta> + c_j),   alpha_k = prod_l J_{k_l}(a_l).

Because alpha_k factorises, sum over all k of |alpha_k| = prod_l S_l with S_l = sum_n |J_n(a_l)|, so
whatever set of terms is kept, |h - truncated| <= prod_l S_l - sum_kept |alpha_k| exactly; this is
the tail bound we report (it covers both orders above max_order and tiny terms dropped inside it).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

_ORDER_CAP = 80  # S_l is summed to this order, with a rigorous remainder bound beyond it
#: error of the backends' J_n(x): |computed - exact| <= BESSEL_RTOL |J_n(x)| + BESSEL_ATOL (Miller's
#: recurrence normalised by the sum rule is accurate to ~1e-13 |J| + 1e-16; tests check this bound
#: against mpmath and scipy with a factor 10 to spare)
BESSEL_RTOL = 1e-12
BESSEL_ATOL = 1e-15


def bessel_error(backend: Any = None) -> tuple[float, float]:
    """(rtol, atol) of a backend's J_n used in rigorous bounds: the torch reference's tested model,
    or, for any other backend, aire.testing.check_backend's contract (1e-12 absolute against scipy,
    1e-10 relative as the cupy kernel is tested) with scipy's own error on top."""
    if backend is None or getattr(backend, "name", "torch") == "torch":
        return BESSEL_RTOL, BESSEL_ATOL
    return 1e-10, 2e-12


@attrs.frozen
class HarmonicExpansion:
    """Terms of the expansion: integer vectors k, amplitudes, frequencies (terms x d), phases."""

    k: np.ndarray
    amplitude: np.ndarray
    frequency: np.ndarray
    phase: np.ndarray
    tail_bound: float
    neuron: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The truncated series at points x (N x d)."""
        return np.sin(np.asarray(x, dtype=np.float64) @ self.frequency.T + self.phase) @ self.amplitude

    def __len__(self) -> int:
        return int(self.amplitude.shape[0])


def _bessel(orders: np.ndarray, x: np.ndarray, backend: Any) -> np.ndarray:
    if backend is None:
        from aire.backends.torch_backend import bessel_j

        return bessel_j(orders, x).numpy()
    value = backend.bessel_j(orders, x)
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(getattr(value, "get", lambda: value)())


def abs_bessel_sum(a: np.ndarray, backend: Any = None) -> np.ndarray:
    """Upper bounds on S_l = sum_{n in Z} |J_n(a_l)|: the sum to order 80 (each value rounded up by the
    backend's error bound) plus a bound on the rest.

    For |n| > N, |J_n(a)| <= (|a|/2)^|n| / |n|!, a geometric-dominated tail when N + 2 > |a|/2.
    """
    a = np.abs(np.asarray(a, dtype=np.float64))
    n = np.arange(-_ORDER_CAP, _ORDER_CAP + 1)
    rtol, atol = bessel_error(backend)
    body = (np.abs(_bessel(n[:, None], a[None, :], backend)) * (1 + rtol) + atol).sum(axis=0)
    half = a / 2
    first = np.exp((_ORDER_CAP + 1) * np.log(np.maximum(half, 1e-300)) - math.lgamma(_ORDER_CAP + 2))
    ratio = half / (_ORDER_CAP + 2)
    tail = 2 * first / np.maximum(1 - ratio, 1e-12)
    return body * (1 + 1e-13) + tail  # the sum of 161 terms: within 161 u of exact


def harmonic_expansion(network: Any, neuron: int, max_order: int, tol: float = 1e-12,
                       max_terms: int = 200_000, backend: Any = None) -> HarmonicExpansion:
    """Theorem 1 expansion of neuron `neuron` of the first hidden layer, |k|_1 <= max_order.

    Terms are enumerated coordinate by coordinate (vectorised, with parent pointers): a partial
    product whose amplitude times the largest |J_n| the remaining coordinates can contribute is
    below `tol` is dropped with its whole subtree, and at most `max_terms` partial terms (the
    largest) are carried, so hundreds of input frequencies stay tractable. Whatever is dropped,
    the tail bound accounts for it exactly.
    """
    if getattr(network, "activation", "sine") != "sine":
        raise ValueError("Theorem 1 holds for sine activations only (FINER's sin((1+|u|/w0) u) is not a sine)")
    if network.num_sine_layers < 2:
        raise ValueError("the network needs a first hidden layer (at least two sine layers)")
    pairs = network.canonical()
    omega, phi = pairs[0]
    a_row, c = pairs[1][0][neuron], float(pairs[1][1][neuron])
    m = a_row.shape[0]
    orders = np.arange(-max_order, max_order + 1)
    table = _bessel(orders[:, None], a_row[None, :], backend)  # (2B+1) x m
    best = np.abs(table).max(axis=0)
    suffix = np.ones(m + 1)
    for l in range(m - 1, -1, -1):
        suffix[l] = suffix[l + 1] * best[l]
    amp = np.ones(1)
    used = np.zeros(1, dtype=np.int64)
    parents, choices = [], []
    for l in range(m):
        cand_amp = amp[:, None] * table[None, :, l]
        cand_used = used[:, None] + np.abs(orders)[None, :]
        reach = np.abs(cand_amp) * suffix[l + 1]  # the most any completion of this partial term can be
        keep = (cand_used <= max_order) & (reach >= tol)
        rows, cols = np.nonzero(keep)
        if rows.size > max_terms:  # beam: keep the partial terms that can grow largest
            best_idx = np.argpartition(-reach[rows, cols], max_terms - 1)[:max_terms]
            best_idx.sort()
            rows, cols = rows[best_idx], cols[best_idx]
        parents.append(rows)
        choices.append(orders[cols])
        amp = cand_amp[rows, cols]
        used = cand_used[rows, cols]
    ks = np.zeros((amp.shape[0], m), dtype=np.int64)
    idx = np.arange(amp.shape[0])
    for l in range(m - 1, -1, -1):  # walk the parent pointers back to the full vectors k
        ks[:, l] = choices[l][idx]
        idx = parents[l][idx]
    total = float(np.prod(abs_bessel_sum(a_row, backend)))
    kept = float(np.abs(amp).sum())
    tail = max(0.0, total - kept) + 4 * np.finfo(np.float64).eps * (total + kept) * max(1, m)
    return HarmonicExpansion(k=ks, amplitude=amp, frequency=ks @ omega, phase=ks @ phi + c,
                             tail_bound=float(tail), neuron=int(neuron))


def amplitude_bound(k: np.ndarray, a: np.ndarray) -> np.ndarray:
    """|alpha_k| <= prod_l (|a_l|/2)^|k_l| / |k_l|! for each row k."""
    k = np.abs(np.asarray(k))
    half = np.abs(np.asarray(a, dtype=np.float64)) / 2
    from scipy.special import gammaln

    logs = np.where(k > 0, k * np.log(np.maximum(half, 1e-300)[None, :]) - gammaln(k + 1), 0.0)
    return np.exp(logs.sum(axis=1))
