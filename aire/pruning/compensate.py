"""Least-squares compensation at a cut: refit the next layer's kept columns to absorb the removed neurons.

With H the activations of sine layer i on sample inputs and W the outgoing matrix, removing the
neurons R changes the next pre-activations by H_R W_R^T. Solving

    min_W'  || H_K W'^T - H W^T ||^2 + lambda || W' - W_K ||^2

(ridge towards the current weights) moves as much of that as the kept neurons can express into
them, in one linear solve of size |K|. When TWD has already zeroed W_R this returns W_K unchanged.
"""

from __future__ import annotations

import torch

from aire.interfaces import Network


@torch.no_grad()
def least_squares_compensation(network: Network, layer: int, neurons: torch.Tensor, x: torch.Tensor,
                               ridge: float = 1e-3) -> float:
    """Refit the kept outgoing columns of `layer` in place; returns the relative residual left."""
    h = network.hidden_outputs(x)[layer].double()
    w = network.outgoing(layer)
    keep = torch.ones(w.shape[1], dtype=torch.bool, device=w.device)
    keep[neurons] = False
    hk = h[:, keep]
    target = h @ w.detach().double().T
    gram = hk.T @ hk
    lam = ridge * gram.diagonal().mean().clamp_min(1e-12)
    rhs = hk.T @ target + lam * w.detach().double()[:, keep].T
    solved = torch.linalg.solve(gram + lam * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device), rhs)
    w[:, keep] = solved.T.to(w.dtype)
    residual = (hk @ solved - target).norm() / target.norm().clamp_min(1e-30)
    return float(residual)
