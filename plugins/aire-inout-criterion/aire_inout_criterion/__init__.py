"""Prune by incoming-row L2 norm times outgoing-column L1 norm (an alternative to column-L1)."""

from __future__ import annotations

import torch

import aire
from aire.interfaces import Network, PruningCriterion


class InOutCriterion(PruningCriterion):
    """score_j = ||incoming row j (weights and bias, omega_0 absorbed)||_2 * ||outgoing column j||_1."""

    def scores(self, network: Network, layer: int) -> torch.Tensor:
        w0 = network.omega(layer)
        incoming = torch.cat([network.weights[layer].detach(), network.biases[layer].detach()[:, None]], dim=1)
        return (w0 * incoming).norm(dim=1) * network.outgoing(layer).detach().abs().sum(dim=0)


@aire.hookimpl
def aire_add_pruning_criteria() -> dict:
    return {"inout": InOutCriterion}
