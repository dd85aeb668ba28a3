"""The reference backend: torch on CPU or CUDA, float64.

Bessel J_n for integer n uses Miller's backward recurrence (stable for every n and x, unlike the
forward recurrence when n > |x|), normalised by J_0 + 2 sum_k J_2k = 1, with rescaling to avoid
overflow; the power series handles |x| < 2, where it converges without cancellation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from aire.hookspecs import hookimpl
from aire.interfaces import Backend

_RESCALE_AT = 1e150
_CHUNK = 1 << 18


def _start_order(n_max: int, x_max: float) -> int:
    """Starting order for Miller's recurrence: past both n and |x| by a margin that grows like sqrt."""
    base = max(n_max, int(math.ceil(x_max)))
    start = base + 20 + int(math.sqrt(60.0 * (base + 1)))
    return start + (start % 2)  # even, so the normalisation sum pairs up


def _bessel_nonneg(n: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """J_n(x) for n >= 0 and x >= 2 (1-D tensors of equal length), by backward recurrence."""
    n_max = int(n.max())
    start = _start_order(n_max, float(x.max()))
    table = torch.zeros(n_max + 1, x.numel(), dtype=torch.float64, device=x.device)
    j_next = torch.zeros_like(x)
    j_cur = torch.ones_like(x)  # not a tiny seed: values near 1e-300 turn subnormal, 100x slower on x86
    norm = torch.zeros_like(x)
    two_over_x = 2.0 / x
    for k in range(start, 0, -1):
        if k <= n_max:
            table[k] = j_cur
        if k % 2 == 0:
            norm += 2.0 * j_cur
        j_prev = k * two_over_x * j_cur - j_next
        j_next, j_cur = j_cur, j_prev
        if k % 8 and k > 1:  # growth per step is at most 2k/x <= k here: checking every 8 steps is safe
            continue
        big = j_cur.abs() > _RESCALE_AT
        if bool(big.any()):
            scale = torch.where(big, torch.full_like(x, 1.0 / _RESCALE_AT), torch.ones_like(x))
            j_cur, j_next, norm = j_cur * scale, j_next * scale, norm * scale
            if k <= n_max:
                table[k:] *= scale
    table[0] = j_cur
    norm += j_cur
    table /= norm
    return table.gather(0, n.view(1, -1)).view(-1)


_SERIES_BELOW = 2.0
_SERIES_TERMS = 30


def _bessel_series(n: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """J_n(x) = (x/2)^n / n! * sum_m (-x^2/4)^m / (m! (n+1)_m) for 0 <= x < 2: terms shrink by at
    least 4x from the first, so there is no cancellation; 30 terms reach float64 precision."""
    nf = n.to(torch.float64)
    q = -(x * x) / 4.0
    term = torch.ones_like(x)
    total = torch.ones_like(x)
    for m in range(1, _SERIES_TERMS):
        term = term * q / (m * (nf + m))
        total = total + term
    lead = torch.exp(nf * torch.log((x / 2.0).clamp_min(1e-300)) - torch.lgamma(nf + 1.0))
    lead = torch.where(nf == 0, torch.ones_like(lead), torch.where(x == 0, torch.zeros_like(lead), lead))
    return lead * total


def bessel_j(orders: Any, x: Any, device: str | torch.device | None = None) -> torch.Tensor:
    """J_n(x) for integer orders n, broadcasting like scipy.special.jv; float64 result.

    |x| < 2 uses the power series; larger |x| Miller's recurrence, in buckets of similar |x| so each
    starts at an order suited to it.
    """
    n_t = torch.as_tensor(orders, device=device)
    if n_t.is_floating_point() and not bool((n_t == n_t.round()).all()):
        raise ValueError("bessel_j supports integer orders only")
    x_t = torch.as_tensor(x, dtype=torch.float64, device=n_t.device if device is None else device)
    n_t = n_t.to(device=x_t.device).round().long()
    n_b, x_b = torch.broadcast_tensors(n_t, x_t)
    shape = n_b.shape
    n_f, x_f = n_b.reshape(-1), x_b.reshape(-1)
    n_abs, x_abs = n_f.abs(), x_f.abs()
    # J_{-n}(x) = (-1)^n J_n(x) and J_n(-x) = (-1)^n J_n(x)
    sign = torch.where(((n_f < 0) ^ (x_f < 0)) & (n_abs % 2 == 1), -1.0, 1.0).to(torch.float64)
    out = torch.empty_like(x_f)
    small = x_abs < _SERIES_BELOW
    if bool(small.any()):
        out[small] = _bessel_series(n_abs[small], x_abs[small])
    edges = [_SERIES_BELOW, 8.0, 32.0, math.inf]
    for lo, hi in zip(edges[:-1], edges[1:]):
        bucket = ((x_abs >= lo) & (x_abs < hi)).nonzero().flatten()
        for chunk in bucket.split(_CHUNK) if bucket.numel() else ():
            out[chunk] = _bessel_nonneg(n_abs[chunk], x_abs[chunk])
    return (out * sign).reshape(shape)


class TorchBackend(Backend):
    """Reference backend on torch (CPU, or CUDA when `device='cuda'`)."""

    name = "torch"

    def __init__(self, device: str | None = None) -> None:
        self.device = device or "cpu"

    def bessel_j(self, orders: Any, x: Any) -> torch.Tensor:
        return bessel_j(orders, x, device=self.device)

    def harmonic_amplitudes(self, k: Any, a: Any) -> torch.Tensor:
        k_t = torch.as_tensor(np.asarray(k), device=self.device)
        a_t = torch.as_tensor(np.asarray(a), dtype=torch.float64, device=self.device)
        return self.bessel_j(k_t, a_t[None, :]).prod(dim=-1)

    def power_spectrum(self, values: Any) -> torch.Tensor:
        v = torch.as_tensor(values, device=self.device)
        spatial = tuple(range(v.dim() - 1))
        return (torch.fft.fftn(v, dim=spatial).abs() ** 2).sum(dim=-1)


@hookimpl
def aire_add_backends() -> dict:
    return {"torch": TorchBackend}
