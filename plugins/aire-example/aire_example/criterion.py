"""A pruning criterion with a setting: the L_p norm of each neuron's outgoing weight column.

With p = 1 it is the paper's column-L1 criterion (AIRe, arXiv 2510.23943); p = 2 weighs a neuron by
the energy it sends on, p = inf by its single largest outgoing weight. Theorem 2 (SPEC section 2)
bounds the error of removing neuron j through ||c_j||_1, and for a column of length n
||c||_p <= ||c||_1 <= n^(1 - 1/p) ||c||_p: a neuron every p-norm scores near zero is safe to cut.
"""

from __future__ import annotations

import math

import torch

import aire
from aire.interfaces import Network, PruningCriterion


class ColumnLpCriterion(PruningCriterion):
    """score_j = ||outgoing column j||_p of sine layer `layer` (stored weights, no omega_0 factor).

    Raises aire.ConfigError for p < 1 (not a norm: a zero column would not always score lowest).
    """

    def __init__(self, p: float = 1.0) -> None:
        p = float(p)
        if math.isnan(p) or p < 1.0:
            raise aire.ConfigError(f"column-lp: p must be >= 1 (a norm), got {p}")
        self.p = p

    def scores(self, network: Network, layer: int) -> torch.Tensor:
        return torch.linalg.vector_norm(network.outgoing(layer).detach(), ord=self.p, dim=0)


@aire.hookimpl
def aire_add_pruning_criteria() -> dict:
    return {"column-lp": ColumnLpCriterion}
