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


def next_preactivations(network: Network, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Stored-form pre-activations of the layer after sine layer `layer` on inputs x, shape
    (n, width of the next layer): H_layer W_{layer+1}^T + b_{layer+1} (omega_0 left out; it is a
    common factor of a sine layer)."""
    with torch.no_grad():
        h = network.hidden_outputs(x)[layer]
        return h @ network.outgoing(layer).T + network.biases[layer + 1]


@torch.no_grad()
def refit_next_layer(network: Network, layer: int, neurons: torch.Tensor, x: torch.Tensor, target: torch.Tensor,
                     ridge: float = 1e-3) -> float:
    """Refit the next layer's kept columns AND its bias in place so that, with `neurons` of sine layer
    `layer` gone, its pre-activations on x match `target` (n, width of the next layer), e.g. the
    pre-cut ones (`next_preactivations` taken before the cut or before the TWD phase).

    Closed-form ridge least squares over [H_K, 1] (the kept neurons' outputs and a constant):

        min_{W', b'}  || H_K W'^T + 1 b'^T - target ||^2 + lambda || [W', b'] - [W_K, b] ||^2,

    lambda = `ridge` times the mean diagonal of the Gram matrix; the least-squares compensation of
    structured pruning (e.g. the reconstruction step of ThiNet, Luo et al., ICCV 2017, solved here
    in closed form rather than by selecting). Returns the relative residual ||fit - target|| / ||target||.
    """
    h = network.hidden_outputs(x)[layer].double()
    w, b = network.outgoing(layer), network.biases[layer + 1]
    keep = torch.ones(w.shape[1], dtype=torch.bool, device=w.device)
    keep[neurons] = False
    a = torch.cat([h[:, keep], torch.ones(h.shape[0], 1, dtype=h.dtype, device=h.device)], dim=1)
    current = torch.cat([w.detach().double()[:, keep], b.detach().double()[:, None]], dim=1).T  # (k + 1, out)
    gram = a.T @ a
    lam = ridge * gram.diagonal().mean().clamp_min(1e-12)
    rhs = a.T @ target.double() + lam * current
    solved = torch.linalg.solve(gram + lam * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device), rhs)
    w[:, keep] = solved[:-1].T.to(w.dtype)
    b.copy_(solved[-1].to(b.dtype))
    return float((a @ solved - target.double()).norm() / target.double().norm().clamp_min(1e-30))
