"""Sampling along rays and volume rendering (NeRF's quadrature) on a white background.

Each ray's interval [near, far] is cut into bins with edges z_0 < ... < z_S; one point is taken in
each bin (uniformly at random when training, the midpoint otherwise) and the density there is held
over the whole bin, so with delta_i = z_{i+1} - z_i

    alpha_i = 1 - exp(-sigma_i delta_i),   T_i = prod_{j<i} (1 - alpha_j),   w_i = T_i alpha_i,
    C = sum_i w_i c_i + (1 - sum_i w_i) * background.

A constant density sigma over [t0, t1] thus gives opacity 1 - exp(-sigma (t1 - t0)) exactly.
"""

from __future__ import annotations

import torch


def bin_edges(near: torch.Tensor, far: torch.Tensor, n: int) -> torch.Tensor:
    """(R, n+1) evenly spaced edges from near to far of each ray."""
    u = torch.linspace(0.0, 1.0, n + 1, device=near.device, dtype=near.dtype)
    return near[:, None] + (far - near)[:, None] * u


def stratified_points(edges: torch.Tensor, jitter: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """One distance per bin: uniform inside it (jitter, drawn on the generator's device) or its midpoint."""
    lo, hi = edges[:, :-1], edges[:, 1:]
    if not jitter:
        return 0.5 * (lo + hi)
    u = torch.rand(lo.shape, generator=generator, device=generator.device if generator is not None else lo.device)
    return lo + (hi - lo) * u.to(lo.device, lo.dtype)


def importance_points(edges: torch.Tensor, weights: torch.Tensor, n: int, jitter: bool,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """n distances per ray drawn from the piecewise-constant density proportional to `weights` on the
    bins `edges` (inverse-CDF sampling, NeRF's hierarchical resampling); sorted."""
    w = weights.detach() + 1e-5
    pdf = w / w.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), pdf.cumsum(dim=-1)], dim=-1).clamp_max(1.0)
    if jitter:
        u = torch.rand((edges.shape[0], n), generator=generator,
                       device=generator.device if generator is not None else edges.device).to(edges.device, edges.dtype)
    else:
        u = torch.linspace(0.5 / n, 1.0 - 0.5 / n, n, device=edges.device, dtype=edges.dtype).expand(edges.shape[0], n)
    u = u.contiguous()
    idx = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[-1] - 1)
    c0, c1 = cdf.gather(-1, idx - 1), cdf.gather(-1, idx)
    e0, e1 = edges.gather(-1, idx - 1), edges.gather(-1, idx)
    frac = ((u - c0) / (c1 - c0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return torch.sort(e0 + frac * (e1 - e0), dim=-1).values


def edges_around(points: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """(R, S+1) bin edges for sorted points: midpoints between neighbours, closed by near and far."""
    mids = 0.5 * (points[:, 1:] + points[:, :-1])
    return torch.cat([near[:, None], mids, far[:, None]], dim=-1)


def composite(sigma: torch.Tensor, rgb: torch.Tensor, edges: torch.Tensor,
              background: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Volume-render densities (R, S) and colours (R, S, 3) held over bins `edges` (R, S+1).

    Returns (colour (R, 3) composited on the background, weights (R, S))."""
    delta = (edges[:, 1:] - edges[:, :-1]).clamp_min(0.0)
    optical = sigma * delta
    alpha = 1.0 - torch.exp(-optical)
    # T_i = exp(-sum_{j<i} sigma_j delta_j): an exclusive cumulative sum, stable for large densities
    transmittance = torch.exp(-torch.cat([torch.zeros_like(optical[:, :1]), optical.cumsum(dim=-1)[:, :-1]], dim=-1))
    weights = transmittance * alpha
    colour = (weights[..., None] * rgb).sum(dim=1) + (1.0 - weights.sum(dim=1, keepdim=True)) * background
    return colour, weights
