"""The paper's criterion: a neuron's contribution is the L1 norm of its outgoing weight column.

By Theorem 2 of the AIRe paper removing neuron j of sine layer i changes f by at most
||A_{i+1,*j}||_1 * prod_{l>i+1} ||A_l||_inf, so the smallest columns are the cheapest to remove.
"""

from __future__ import annotations

import torch

from aire.hookspecs import hookimpl
from aire.interfaces import Network, PruningCriterion


def column_l1(network: Network, layer: int) -> torch.Tensor:
    """L1 norms of the outgoing columns of sine layer `layer` (stored form; omega_0 is a common factor)."""
    return network.outgoing(layer).detach().abs().sum(dim=0)


class ColumnL1Criterion(PruningCriterion):
    """Scores = outgoing-column L1 norms."""

    def scores(self, network: Network, layer: int) -> torch.Tensor:
        return column_l1(network, layer)


@hookimpl
def aire_add_pruning_criteria() -> dict:
    return {"column-l1": ColumnL1Criterion}
