"""The ``aire-distill`` schedule: AIRe whose TWD phases also distil the pre-TWD network into the
network as it will be after the cut.

At the start of each TWD phase a frozen copy of the network (the teacher) is kept and training
inputs x are drawn (``points``, from the schedule's own generator). On every TWD step, after the
signal's loss has put its gradients in place, the network with its TWD targets' outgoing columns set
to 0 (the pruned network the cut will leave) is evaluated on x and

    distill_weight * mean || f_pruned(x) - f_teacher(x) ||^2

is back-propagated into the same gradients (knowledge distillation toward the pre-cut network,
Hinton et al. 2015, on the network outputs, as a regression loss). The targets' own gradients are
then zeroed as in TWD. Settings (``--schedule-set``): ``distill_weight`` (1.0), ``points`` (4096).
"""

from __future__ import annotations

from typing import Any

import torch

from aire.config import ConfigError, ScheduleConfig
from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, PruningCriterion, TrainerView
from aire.schedules.adaptive import AireSchedule
from aire.train import schedule as sched


class DistillSchedule(AireSchedule):
    """AireSchedule with a distillation loss toward the pre-TWD network during each TWD phase."""

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                 distill_weight: float = 1.0, points: int = 4096) -> None:
        if not float(distill_weight) >= 0:
            raise ConfigError(f"schedule aire-distill: distill_weight must be >= 0, got {distill_weight!r}")
        super().__init__(config, criterion, policy)
        self.weight, self.points = float(distill_weight), int(points)
        self.inputs: torch.Tensor | None = None
        self.teacher_outputs: torch.Tensor | None = None

    def begin_cycle(self, trainer: TrainerView, cycle: sched.Cycle) -> None:
        super().begin_cycle(trainer, cycle)  # densified, targets chosen, nothing decayed yet: the teacher
        self.inputs = trainer.signal.network_inputs(self.points, self.generator).to(trainer.network.weights[0].device)
        with torch.no_grad():
            self.teacher_outputs = trainer.network(self.inputs)

    def distillation_loss(self, network: Any) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """mean_x || f_pruned(x) - f_teacher(x) ||^2 of the network with the TWD targets' outgoing
        columns set to 0 (differentiable in every other weight), and those columns' values, which the
        caller puts back after backward (the graph holds the zeroed tensors)."""
        saved = {}
        with torch.no_grad():
            for layer, targets in self.twd_targets.items():
                saved[layer] = network.outgoing(layer)[:, targets].clone()
                network.outgoing(layer)[:, targets] = 0.0
        prediction = network(self.inputs)
        loss = (prediction - self.teacher_outputs).pow(2).sum(dim=1).mean()
        return loss, saved

    def after_backward(self, trainer: TrainerView, step: int) -> None:
        """Add the distillation gradients, then zero the targets' gradients (TWD)."""
        if self.twd_targets and self.teacher_outputs is not None and self.weight > 0:
            network = trainer.network
            loss, saved = self.distillation_loss(network)
            (self.weight * loss).backward()  # before the columns come back: the graph holds the zeroed ones
            with torch.no_grad():
                for layer, columns in saved.items():
                    network.outgoing(layer)[:, self.twd_targets[layer]] = columns
        super().after_backward(trainer, step)

    def prune(self, trainer: TrainerView) -> None:
        super().prune(trainer)
        self.inputs = self.teacher_outputs = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "inputs": self.inputs, "teacher_outputs": self.teacher_outputs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.inputs, self.teacher_outputs = state.get("inputs"), state.get("teacher_outputs")


def aire_distill(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                 **settings: Any) -> DistillSchedule:
    """Factory of ``aire-distill``."""
    return DistillSchedule(config, criterion, policy, **settings)


@hookimpl
def aire_add_schedules() -> dict:
    return {"aire-distill": aire_distill}
