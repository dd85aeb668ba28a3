"""The ``aire-lsq`` schedule: AIRe whose cuts refit the next layer by least squares.

At the start of each TWD phase the schedule draws training inputs x (4096, from its own generator)
and records the next layer's pre-activations there (``reference="cycle-start"``: the function TWD
then erodes); at the cut, after the TWD targets are chosen for removal, the next layer's kept
columns and bias are refit in closed form so its pre-activations on x match that record
(aire.pruning.compensate.refit_next_layer). With ``reference="pre-cut"`` the record is taken at
the cut itself, right before the surgery (what one-shot compensation does; with alpha_max 0 the
targets are frozen rather than decayed and the refit alone hands their part over).

Layers are cut and refit in order, so each refit sees the earlier layers already cut. Settings
(``--schedule-set``): ``reference`` (cycle-start | pre-cut), ``points`` (4096), ``ridge`` (1e-3).
"""

from __future__ import annotations

from typing import Any

import torch

from aire.config import ConfigError, ScheduleConfig
from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, PruningCriterion, TrainerView
from aire.pruning.compensate import next_preactivations, refit_next_layer
from aire.schedules.adaptive import AireSchedule
from aire.train import schedule as sched

REFERENCES = ("cycle-start", "pre-cut")


class LsqSchedule(AireSchedule):
    """AireSchedule with a least-squares refit of the next layer at every cut."""

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                 reference: str = "cycle-start", points: int = 4096, ridge: float = 1e-3) -> None:
        if reference not in REFERENCES:
            raise ConfigError(f"schedule aire-lsq: reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
        super().__init__(config, criterion, policy)
        self.reference, self.points, self.ridge = reference, int(points), float(ridge)
        self.inputs: torch.Tensor | None = None
        self.targets: dict[int, torch.Tensor] = {}  # layer -> recorded next-layer pre-activations
        self.residuals: list[float] = []

    def begin_cycle(self, trainer: TrainerView, cycle: sched.Cycle) -> None:
        super().begin_cycle(trainer, cycle)
        self.inputs = trainer.signal.network_inputs(self.points, self.generator).to(trainer.network.weights[0].device)
        self.targets = {}
        if self.reference == "cycle-start":
            self.targets = {layer: next_preactivations(trainer.network, layer, self.inputs)
                            for layer in self.twd_targets}

    def compensate(self, trainer: TrainerView, layer: int, neurons: torch.Tensor) -> None:
        if self.inputs is None:  # a cut with no cycle begun (cannot happen in a plain fit)
            return super().compensate(trainer, layer, neurons)
        target = self.targets.get(layer)
        if target is None:
            target = next_preactivations(trainer.network, layer, self.inputs)
        self.residuals.append(refit_next_layer(trainer.network, layer, neurons, self.inputs, target, self.ridge))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "inputs": self.inputs, "targets": dict(self.targets)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.inputs, self.targets = state.get("inputs"), {int(k): v for k, v in state.get("targets", {}).items()}


def aire_lsq(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
             **settings: Any) -> LsqSchedule:
    """Factory of ``aire-lsq``."""
    return LsqSchedule(config, criterion, policy, **settings)


@hookimpl
def aire_add_schedules() -> dict:
    return {"aire-lsq": aire_lsq}
