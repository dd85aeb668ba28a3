"""Activation-aware criterion ``activation-l1``: a neuron's contribution is the RMS of its output on
the data times the L1 norm of its outgoing column.

The column L1 norm (aire.pruning.column_l1, Theorem 2) bounds the change of the next layer for an
output of size 1 anywhere; on the data a neuron whose sine output stays small (a low frequency seen
over a short range, a phase near a zero) moves the next layer less than its column suggests. The
score RMS_x(h_j(x)) * ||W_{:,j}||_1 is the structured (per-neuron) form of Wanda's |W| * ||X||_2
(Sun et al., "A Simple and Effective Pruning Approach for Large Language Models", ICLR 2024),
where the inputs of the next layer are the neuron's outputs.

The criterion is data-aware: the schedule gives it training inputs through ``observe(inputs)``
before each selection (aire.schedules.cuts.show_inputs); scoring without them is refused.
"""

from __future__ import annotations

import torch

from aire.config import ConfigError
from aire.hookspecs import hookimpl
from aire.interfaces import Network, PruningCriterion
from aire.pruning.column_l1 import column_l1


class ActivationL1Criterion(PruningCriterion):
    """Scores = RMS of the neuron's output over the observed inputs x outgoing column L1 norm."""

    def __init__(self) -> None:
        self.inputs: torch.Tensor | None = None

    def observe(self, inputs: torch.Tensor) -> None:
        """The network inputs (n, in_features) to score on: training coordinates of the signal."""
        self.inputs = inputs

    @torch.no_grad()
    def scores(self, network: Network, layer: int) -> torch.Tensor:
        """One score per neuron of sine layer `layer`, shape (width,)."""
        if self.inputs is None:
            raise ConfigError("criterion 'activation-l1' scores neurons on data: its schedule gave it no inputs "
                              "(use a schedule of the aire family or the magnitude baselines)")
        h = network.hidden_outputs(self.inputs)[layer]
        rms = h.detach().float().pow(2).mean(dim=0).sqrt()
        return rms * column_l1(network, layer).float()


@hookimpl
def aire_add_pruning_criteria() -> dict:
    return {"activation-l1": ActivationL1Criterion}
