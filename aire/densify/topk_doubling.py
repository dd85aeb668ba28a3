"""The paper's densification: for the K most important input frequencies omega_j add 2 * omega_j.

Score of input neuron j: the L1 norm of its outgoing column in A_1 — how strongly the first hidden
layer uses that frequency (the same measure the pruning criterion ranks by, from the other end).
The new neurons get zero outgoing weights, so f is unchanged at the moment of insertion.
"""

from __future__ import annotations

import torch

from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, DensifyContext, Encoding, Network
from aire.pruning.column_l1 import column_l1


class TopKDoubling(DensificationPolicy):
    """Double the K input frequencies with the largest outgoing-column L1 norm."""

    def propose(self, network: Network, encoding: Encoding, k: int,
                context: DensifyContext | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        scores = column_l1(network, 0)
        k = max(0, min(int(k), scores.numel()))
        top = torch.argsort(scores, descending=True, stable=True)[:k]
        rows = network.weights[0].detach()[top]
        bias = network.biases[0].detach()[top]
        return encoding.doubled(rows, bias)


@hookimpl
def aire_add_densification_policies() -> dict:
    return {"topk-doubling": TopKDoubling}
