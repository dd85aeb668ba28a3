"""Theorem 1 truncated by amplitude, with a rigorous sup-norm bound and a mean-square estimate.

A first-hidden-layer neuron h(x) = sin(sum_l a_l sin(theta_l) + c), theta_l = <omega_l, x> + phi_l,
equals sum_{k in Z^m} alpha_k sin(<k, theta> + c) with alpha_k = prod_l J_{k_l}(a_l) (TUNER, Novello
et al. CVPR 2025; the AIRe paper, Theorem 1). Keeping the terms of largest |alpha_k| is what a budget of N terms
is best spent on; this module enumerates exactly the terms with |alpha_k| >= tau (coordinate by
coordinate, largest |a_l| first, pruning a partial product when even the largest completion
|J_n(a_l)| of the remaining coordinates cannot reach tau) and reports three numbers.

* ``sup_bound`` (RIGOROUS, any x): with F = prod_l e^{i a_l sin theta_l} (so h = Im e^{ic} F) and
  P_l the part of the kept set seen on the first l coordinates, F_l - P_l = e^{i a_l sin theta_l}
  (F_{l-1} - P_{l-1}) + (e^{i a_l sin theta_l} P_{l-1} - P_l), and |e^{i a sin t}| = 1, so

      sup |h - h_K| <= sum_l (S_l M_{l-1} - M_l),   S_l = sum_n |J_n(a_l)|,  M_l = sum of |alpha| in P_l.

  It is never above the plain L1 tail prod_l S_l - M_m (``l1_bound``, also rigorous) and is linear
  rather than exponential in sum_l |a_l|. Both hold on the whole torus theta in T^m, which is where
  Theorem 1 lives; on a fitted 256-wide layer the error on the torus itself exceeds 2 for any
  practical K (``torus_witness`` evaluates it at theta_l = sign(a_l) pi / 2), so no bound of this
  kind can be informative there: ``terms_needed`` says how many terms the L1 bound would need.
* ``mse_estimate`` (ESTIMATE): the mean of (h - h_K)^2 when theta is uniform on the torus (the
  frequencies incommensurate and the domain large against their differences, Weyl). Then the
  e^{i<k, theta>} are orthonormal and Neumann's identities sum_n J_n(a)^2 = 1 and
  sum_n (-1)^n J_n(a)^2 = J_0(2a) give the totals exactly:

      E (h - h_K)^2 = 1/2 [(1 - sum_K alpha_k^2) - cos 2c (prod_l J_0(2 a_l) - sum_K (-1)^{|k|} alpha_k^2)]

  for a kept set closed under k -> -k (ours is: |alpha_{-k}| = |alpha_k|). On [-1, 1]^d it is an
  estimate, which `aire verify` compares with the mean square measured at random points.

Bessel values come from a backend (aire.interfaces.Backend; cupy when present); their error
(aire.theory.harmonic.bessel_error: 1e-12 |J| + 1e-15 for the torch reference, tested against mpmath
and scipy) is carried through every product as an upper and a lower magnitude of each term, and
added to the rigorous bounds.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from aire.theory.harmonic import _bessel, abs_bessel_sum, bessel_error

_EPS = float(np.finfo(np.float64).eps)


@attrs.frozen
class AmplitudeExpansion:
    """The kept terms of Theorem 1 for one neuron and what truncating the rest costs.

    amplitude (N,), frequency (N, d) in radians per unit, phase (N,) in radians; the term vectors k
    as sparse rows (k_indptr, k_coords, k_orders: coordinate l and order k_l of each non-zero entry).
    """

    neuron: int
    amplitude: np.ndarray
    frequency: np.ndarray
    phase: np.ndarray
    k_indptr: np.ndarray
    k_coords: np.ndarray
    k_orders: np.ndarray
    threshold: float  # every term with |alpha_k| above this is kept
    sup_bound: float  # rigorous sup over all x (all theta on the torus) of |h - h_K|
    l1_bound: float  # rigorous, prod S_l - sum_K |alpha_k| (>= sup_bound)
    mse_estimate: float  # estimate of the mean of (h - h_K)^2 (theta uniform on the torus)
    energy: float  # the mean of h^2 under the same assumption
    torus_witness: float  # |h - h_K| at theta_l = sign(a_l) pi / 2: a lower bound on the torus sup
    terms_needed: float  # terms the L1 bound needs to fall below 2 (inf when beyond float range)

    def __call__(self, x: np.ndarray, chunk: int = 1 << 14) -> np.ndarray:
        """The truncated series at points x (n, d)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros(x.shape[0])
        for start in range(0, len(self), chunk):
            sl = slice(start, start + chunk)
            out += np.sin(x @ self.frequency[sl].T + self.phase[sl]) @ self.amplitude[sl]
        return out

    def __len__(self) -> int:
        return int(self.amplitude.shape[0])

    def k_dense(self, m: int) -> np.ndarray:
        """The term vectors as a dense (N, m) integer array (for small expansions)."""
        out = np.zeros((len(self), m), dtype=np.int64)
        rows = np.repeat(np.arange(len(self)), np.diff(self.k_indptr))
        out[rows, self.k_coords] = self.k_orders
        return out


def amplitude_expansion(network: Any, neuron: int, max_terms: int = 1_000_000, backend: Any = None) -> AmplitudeExpansion:
    """The (at most) `max_terms` terms of largest |alpha_k| of first-hidden-layer neuron `neuron`.

    Raises ValueError for non-sine activations or networks without a hidden layer. Memory is
    O(max_terms * d); time O(m * max_terms).
    """
    if getattr(network, "activation", "sine") != "sine":
        raise ValueError("Theorem 1 holds for sine activations only (FINER's sin((1+|u|/w0) u) is not a sine)")
    if network.num_sine_layers < 2:
        raise ValueError("the network needs a first hidden layer (at least two sine layers)")
    if max_terms < 1:
        raise ValueError(f"max_terms must be at least 1, got {max_terms}")
    pairs = network.canonical()
    omega, phi = pairs[0]
    a_all = np.asarray(pairs[1][0][neuron], dtype=np.float64)
    c = float(pairs[1][1][neuron])
    return _expand(a_all, c, omega, phi, int(neuron), int(max_terms), backend)


def _expand(a_all: np.ndarray, c: float, omega: np.ndarray, phi: np.ndarray, neuron: int, max_terms: int,
            backend: Any) -> AmplitudeExpansion:
    d = omega.shape[1]
    live = np.nonzero(a_all != 0)[0]
    live = live[np.argsort(-np.abs(a_all[live]), kind="stable")]  # largest |a_l| first
    a = a_all[live]
    m = a.shape[0]
    amax = float(np.abs(a).max(initial=0.0))
    n_max = _order_cap(amax)
    orders = np.arange(-n_max, n_max + 1)
    table = _bessel(orders[:, None], a[None, :], backend) if m else np.zeros((orders.size, 0))  # (2N+1, m)
    S = abs_bessel_sum(a, backend) if m else np.zeros(0)
    rtol, atol = bessel_error(backend)
    best = np.abs(table).max(axis=0) * (1 + rtol) + atol  # largest |J_n(a_l)| (J_n beyond N are smaller)
    suffix = np.ones(m + 1)
    for l in range(m - 1, -1, -1):
        suffix[l] = suffix[l + 1] * best[l]

    amp = np.ones(1)
    hi, lo = np.ones(1), np.ones(1)  # bounds on |exact alpha| of each partial term, given J_n's error
    table_hi = np.abs(table) * (1 + rtol) + atol
    table_lo = np.maximum(np.abs(table) * (1 - rtol) - atol, 0.0)
    node = np.full(1, -1, dtype=np.int64)
    parents: list[np.ndarray] = []
    coords: list[np.ndarray] = []
    kvals: list[np.ndarray] = []
    n_nodes = 0
    tau = 0.0
    cap = max_terms
    masses_hi, masses_lo = [1.0], [1.0]
    for l in range(m):
        col = table[:, l]
        order_idx = np.argsort(-np.abs(col), kind="stable")
        vals = np.abs(col[order_idx])
        # children with |amp * J_n| * suffix >= tau: a prefix of the orders sorted by |J_n|
        scale = np.maximum(np.abs(amp) * suffix[l + 1], 1e-300)
        count = np.searchsorted(-vals, -tau / scale, side="right")
        total = int(count.sum())
        if total > cap:  # raise tau until at most `cap` children survive
            if total <= 16 * cap:  # the cap-th largest reach among the candidates
                parent = np.repeat(np.arange(amp.size), count)
                rank = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
                reach = scale[parent] * vals[rank]
                tau = float(np.nextafter(np.partition(reach, total - cap - 1)[total - cap - 1], np.inf))
                del parent, rank, reach
            else:
                tau = _raise_threshold(vals, scale, tau, cap)
            count = np.searchsorted(-vals, -tau / scale, side="right")
        parent = np.repeat(np.arange(amp.size), count)
        rank = np.arange(parent.size) - np.repeat(np.cumsum(count) - count, count)
        choice = order_idx[rank]
        n = orders[choice]
        amp = amp[parent] * col[choice]
        hi = hi[parent] * table_hi[choice, l]
        lo = lo[parent] * table_lo[choice, l]
        node = node[parent]
        moved = n != 0
        new = np.arange(n_nodes, n_nodes + int(moved.sum()))
        parents.append(node[moved])
        coords.append(np.full(new.size, live[l]))
        kvals.append(n[moved])
        node[moved] = new
        n_nodes += new.size
        masses_hi.append(float(hi.sum()))
        masses_lo.append(float(lo.sum()))
    if amp.size > max_terms:  # keep the largest, whole +-k pairs (equal |alpha|) together
        cut = np.sort(np.abs(amp))[amp.size - max_terms]
        keep = np.abs(amp) > cut * (1 + 1e-9)
        amp, node, hi, lo = amp[keep], node[keep], hi[keep], lo[keep]
        tau = max(tau, cut * (1 + 1e-9))
        masses_hi[-1], masses_lo[-1] = float(hi.sum()), float(lo.sum())
    indptr, k_coords, k_orders = _sparse_k(node, parents, coords, kvals)
    rows = np.repeat(np.arange(amp.size), np.diff(indptr))
    freq = np.zeros((amp.size, d))
    np.add.at(freq, rows, k_orders[:, None] * omega[k_coords])
    phase = np.full(amp.size, c)
    np.add.at(phase, rows, k_orders * phi[k_coords])
    sup_bound, l1_bound = _sup_bounds(S, masses_hi, masses_lo, float((hi - lo).sum()), amp.size)
    signs = (-1.0) ** (np.abs(k_orders).astype(np.int64) % 2)
    parity = np.multiply.reduceat(np.append(signs, 1.0), indptr[:-1]) if amp.size else np.zeros(0)
    parity = np.where(np.diff(indptr) == 0, 1.0, parity)
    j0_2a = _bessel(np.zeros(1, dtype=np.int64)[:, None], 2 * a[None, :], backend)[0] if m else np.zeros(0)
    prod_j0 = float(np.prod(j0_2a))
    kept_sq = float((amp**2).sum())
    kept_signed = float((parity * amp**2).sum())
    mse = 0.5 * ((1.0 - kept_sq) - math.cos(2 * c) * (prod_j0 - kept_signed))
    energy = 0.5 * (1.0 - math.cos(2 * c) * prod_j0)
    theta = np.where(a_all >= 0, math.pi / 2, -math.pi / 2)  # every sin(theta_l) = sign(a_l)
    witness = _witness(a_all, c, amp, indptr, k_coords, k_orders, theta)
    return AmplitudeExpansion(neuron=neuron, amplitude=amp, frequency=freq, phase=phase, k_indptr=indptr,
                              k_coords=k_coords, k_orders=k_orders, threshold=float(tau), sup_bound=sup_bound,
                              l1_bound=l1_bound, mse_estimate=max(mse, 0.0), energy=energy,
                              torus_witness=witness, terms_needed=terms_needed(a_all, S_upper=S, backend=backend))


def _raise_threshold(vals: np.ndarray, scale: np.ndarray, tau: float, cap: int) -> float:
    """Smallest threshold (to a factor 1 + 1e-6, by bisection on its log) that leaves at most `cap`
    children, child (p, j) having reach scale[p] * vals[j] (vals sorted descending)."""
    lo, hi = math.log(max(tau, 1e-300)), math.log(float(scale.max() * vals[0]) * 1.01 + 1e-300)
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        n = int(np.searchsorted(-vals, -math.exp(mid) / scale, side="right").sum())
        lo, hi = (mid, hi) if n > cap else (lo, mid)
    return math.exp(hi)


def _order_cap(amax: float) -> int:
    """An order N with (amax/2)^n / n! < 1e-40 for n > N: terms beyond never reach a threshold."""
    n, term = 0, 1.0
    while term >= 1e-40 or n < 4:
        n += 1
        term *= (amax / 2) / n
    return n


def _sparse_k(node: np.ndarray, parents: list, coords: list, kvals: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk each kept term's chain of non-zero choices back to a CSR representation of k."""
    parent = np.concatenate(parents) if parents else np.zeros(0, dtype=np.int64)
    coord = np.concatenate(coords) if coords else np.zeros(0, dtype=np.int64)
    kval = np.concatenate(kvals) if kvals else np.zeros(0, dtype=np.int64)
    rows, cols, vals = [], [], []
    current = node.copy()
    idx = np.arange(node.size)
    while True:
        alive = current >= 0
        if not alive.any():
            break
        rows.append(idx[alive])
        cols.append(coord[current[alive]])
        vals.append(kval[current[alive]])
        current = np.where(alive, parent[np.maximum(current, 0)] if parent.size else -1, -1)
    if rows:
        r = np.concatenate(rows)
        order = np.argsort(r, kind="stable")
        r, cl, vl = r[order], np.concatenate(cols)[order], np.concatenate(vals)[order]
    else:
        r = cl = vl = np.zeros(0, dtype=np.int64)
    indptr = np.zeros(node.size + 1, dtype=np.int64)
    np.add.at(indptr, r + 1, 1)
    return np.cumsum(indptr), cl.astype(np.int64), vl.astype(np.int64)


def _sup_bounds(S: np.ndarray, masses_hi: list[float], masses_lo: list[float], amp_error: float,
                n_terms: int) -> tuple[float, float]:
    """(telescoping bound, plain L1 bound) on sup |h - h~_K|, h~_K the series with the computed
    amplitudes: the bounds for the exact h_K plus sum_K |alpha~ - alpha| (<= amp_error). Masses are
    upper/lower bounds of sum |alpha| on each prefix; float sums and products of n terms are within
    (n + m) u of exact, folded in as a relative slack."""
    m = len(S)
    slack = 4 * _EPS * (n_terms + m + 4)
    tele = 0.0
    for l in range(m):
        tele += S[l] * masses_hi[l] * (1 + slack) - masses_lo[l + 1] * (1 - slack)
    l1 = float(np.prod(S)) * (1 + slack) - masses_lo[-1] * (1 - slack)
    extra = amp_error * (1 + slack)
    l1 = max(l1, 0.0) + extra
    return min(max(tele, 0.0) + extra, l1), l1


def _witness(a: np.ndarray, c: float, amp: np.ndarray, indptr: np.ndarray, coords: np.ndarray, orders: np.ndarray,
             theta: np.ndarray) -> float:
    """|h - h_K| at one point theta of the torus (a true value of the error, so a lower bound on its sup)."""
    h = math.sin(float(np.sum(a * np.sin(theta))) + c)
    dot = np.add.reduceat(np.append(orders * theta[coords], 0.0), indptr[:-1]) if amp.size else np.zeros(0)
    dot = np.where(np.diff(indptr) == 0, 0.0, dot)
    return abs(h - float(np.sin(dot + c) @ amp))


def terms_needed(a: np.ndarray, target: float = 2.0, S_upper: np.ndarray | None = None, backend: Any = None,
                 bin_width: float = 0.02) -> float:
    """Estimated number of terms of largest |alpha_k| for the L1 tail prod S_l - sum_K |alpha_k| to
    fall below `target` (0 when no term is needed; inf beyond float range).

    Counts of the k whose log|alpha_k| lies in each bin (width `bin_width`) below the largest
    possible value are the convolution over coordinates of each coordinate's histogram of
    log max_n |J_n(a_l)| - log |J_n(a_l)| (the largest choice, usually n = 0, is exact; each other
    choice is rounded to the nearest bin, so a term's log-amplitude is known to |k|_0 * bin_width / 2).
    The L1 tail of the top-N terms falls below `target` at the bin where the remaining mass does.
    An estimate, used to report how far a rigorous bound is from being informative.
    """
    a = np.abs(np.asarray(a, dtype=np.float64))
    a = a[a > 0]
    S = abs_bessel_sum(a, backend) if S_upper is None else np.asarray(S_upper)
    total = float(np.prod(S)) if a.size else 1.0
    if total < target:
        return 0.0
    n_max = _order_cap(float(a.max()))
    orders = np.arange(-n_max, n_max + 1)
    logs = np.log(np.maximum(np.abs(_bessel(orders[:, None], a[None, :], backend)), 1e-320))  # (2N+1, m)
    top = logs.max(axis=0)
    ceiling = float(top.sum())  # log of the largest |alpha_k|
    n_bins = int((ceiling + 745.0) / bin_width) + 2  # below e^-745 nothing is representable
    count = np.zeros(n_bins)
    count[0] = 1.0
    for l in range(a.size):
        shift = np.rint((top[l] - logs[:, l]) / bin_width).astype(np.int64)
        new = np.zeros(n_bins)
        for s_ in shift[shift < n_bins]:
            new[s_:] += count[: n_bins - s_]
        count = np.minimum(new, 1e300)
    amplitude = np.exp(ceiling - np.arange(n_bins) * bin_width)
    mass = np.cumsum(count * amplitude)
    # the binned masses are estimates: measure what is left as a fraction of their own total
    short = np.nonzero(total * (1 - mass / mass[-1]) < target)[0]
    if short.size == 0:
        return math.inf
    needed = float(np.cumsum(count)[short[0]])
    return needed if needed < 1e300 else math.inf
