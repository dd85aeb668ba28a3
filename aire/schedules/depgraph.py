"""Baseline schedules ``depgraph-oneshot`` and ``depgraph-iterative``: DepGraph structured pruning
(Fang et al., "DepGraph: Towards Any Structural Pruning", CVPR 2023) through the real
`torch-pruning` library, plus fine-tuning, at the same cut steps as the magnitude baselines
(aire.schedules.magnitude: one cut at 30 % of the steps, or three at 10/20/30 %).

At each cut the SineMLP is mirrored as a plain ``nn.Sequential`` of ``nn.Linear`` and sine modules
(stored form: the same weights, omega_0 a constant factor inside the sine module). torch-pruning
builds the dependency graph of the mirror, scores each hidden neuron's group (its incoming row and
bias, its outgoing column) with ``GroupMagnitudeImportance(p=1)`` (group L1 magnitude) and prunes the
lowest ones from the mirror. The same neurons are then removed from the SineMLP through
``remove_neurons`` (so Adam's moments follow), and the two are checked to hold identical weights:
training continues on our SineMLP with the same loop, not on the mirror.

Needs the ``baselines`` extra (``pip install 'aire-inr[baselines]'``); without it the factory raises
a one-line ConfigError naming it. Only SIREN/FINER SineMLP networks are supported.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aire.config import ConfigError, ScheduleConfig
from aire.hookspecs import hookimpl
from aire.interfaces import PruningCriterion, TrainerView
from aire.schedules import cuts
from aire.schedules.magnitude import ITERATIVE_CUTS, MagnitudeSchedule
from aire.train import schedule as sched


def _torch_pruning() -> Any:
    try:
        import torch_pruning
    except ImportError:
        raise ConfigError("the depgraph schedules need torch-pruning: pip install 'aire-inr[baselines]'") from None
    return torch_pruning


class _Sine(nn.Module):
    """sin(omega_0 * x), elementwise (torch-pruning passes channel dependencies through it)."""

    def __init__(self, omega0: float) -> None:
        super().__init__()
        self.omega0 = omega0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega0 * x)


def mirror(network: Any) -> tuple[nn.Sequential, list[nn.Linear]]:
    """An nn.Sequential copy of a SineMLP's stored form and its Linear layers (sine layers, then output)."""
    linears, modules = [], []
    last = len(network.weights) - 1
    for i, (w, b) in enumerate(zip(network.weights, network.biases)):
        linear = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype, device=w.device)
        with torch.no_grad():
            linear.weight.copy_(w)
            linear.bias.copy_(b)
        linears.append(linear)
        modules.append(linear)
        if i < last:
            modules.append(_Sine(network.omega(i)))
    return nn.Sequential(*modules), linears


class DepGraphSchedule(MagnitudeSchedule):
    """MagnitudeSchedule whose neurons are chosen and cut by torch-pruning's DepGraph (group L1)."""

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, cuts: int) -> None:
        self.tp = _torch_pruning()
        super().__init__(config, criterion, cuts)

    def cut(self, trainer: TrainerView, index: int) -> None:
        network = trainer.network
        if not hasattr(network, "weights") or not hasattr(network, "omega"):
            raise ConfigError(f"schedule {self.config.kind!r} supports SineMLP networks (siren, finer) only")
        tp = self.tp
        target = sched.cycle_target(trainer.initial_params, self.config.target_params, index, len(self.steps))
        model, linears = mirror(network)
        example = torch.zeros(1, network.weights[0].shape[1], dtype=network.weights[0].dtype,
                              device=network.weights[0].device)
        graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
        importance = tp.importance.GroupMagnitudeImportance(p=1)
        for layer, k in cuts.neurons_per_layer(trainer, self.layers(network), target).items():
            if k <= 0:
                continue
            everything = list(range(linears[layer].out_features))
            group = graph.get_pruning_group(linears[layer], tp.prune_linear_out_channels, idxs=everything)
            scores = importance(group)
            neurons = torch.argsort(scores.detach().cpu(), stable=True)[:k]
            group = graph.get_pruning_group(linears[layer], tp.prune_linear_out_channels, idxs=neurons.tolist())
            group.prune()
            cuts.cut(trainer, layer, neurons.to(network.weights[0].device), method="depgraph")
        self._check_same(network, linears)
        self.after_cuts(trainer)

    @staticmethod
    def _check_same(network: Any, linears: list[nn.Linear]) -> None:
        """torch-pruning's mirror and our SineMLP must hold the same weights after the cut."""
        for i, linear in enumerate(linears):
            if linear.weight.shape != network.weights[i].shape or not torch.equal(linear.weight, network.weights[i]) \
                    or not torch.equal(linear.bias, network.biases[i]):
                raise RuntimeError(f"depgraph: torch-pruning's cut and the SineMLP's differ at layer {i}")


def depgraph_oneshot(config: ScheduleConfig, criterion: PruningCriterion, policy: Any = None) -> DepGraphSchedule:
    """Factory of ``depgraph-oneshot``: one DepGraph cut at 30 % of the steps."""
    return DepGraphSchedule(config, criterion, cuts=1)


def depgraph_iterative(config: ScheduleConfig, criterion: PruningCriterion, policy: Any = None) -> DepGraphSchedule:
    """Factory of ``depgraph-iterative``: DepGraph cuts at 10, 20 and 30 % of the steps."""
    return DepGraphSchedule(config, criterion, cuts=ITERATIVE_CUTS)


@hookimpl
def aire_add_schedules() -> dict:
    return {"depgraph-oneshot": depgraph_oneshot, "depgraph-iterative": depgraph_iterative}
