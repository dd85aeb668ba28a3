"""The ``aire-cubic`` schedule: AIRe's TWD and cuts on the gradual cubic pruning schedule of Zhu &
Gupta ("To prune, or not to prune", 2017) instead of a few cycles.

``cuts`` cuts (8) evenly spaced from ``start`` + one interval to ``end`` (fractions of the steps:
0.1 .. 0.35); each is preceded by a TWD phase over the whole interval before it (no gap). After cut
i of n the removed fraction of the parameters is Zhu & Gupta's

    r_i = (1 - budget) * (1 - (1 - i / n)^3),

fast at first and slowing down as the network approaches the budget (the budget is reached at the
last cut). Densification runs only in the first ``densify_cycles`` (2) cycles, as many as the
default ``aire`` schedule densifies in. The learning rate restarts at each cut with lr_rewind.
Needs target_params. Settings (``--schedule-set``): cuts, start, end, densify_cycles.
"""

from __future__ import annotations

from typing import Any

from aire.config import ConfigError, ScheduleConfig, changed_cycle_options, check_cycle_options
from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, PruningCriterion
from aire.schedules.adaptive import AireSchedule
from aire.schedules.lsq import LsqSchedule
from aire.train import schedule as sched


def cubic_plan(steps: int, cuts: int, start: float, end: float) -> list[sched.Cycle]:
    """Cycles whose TWD phases tile [start, end] of `steps` in `cuts` intervals, a cut at each end."""
    edges = [int(round(steps * (start + (end - start) * i / cuts))) for i in range(cuts + 1)]
    phases = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if a < b < steps]  # too few steps: fewer cuts
    return [sched.Cycle(index=i, start=a, prune=b) for i, (a, b) in enumerate(phases)]


def cubic_fraction_removed(budget: float, cut: int, cuts: int) -> float:
    """Zhu & Gupta's removed fraction after cut `cut` (1-based) of `cuts`, ending at 1 - budget."""
    return (1.0 - budget) * (1.0 - (1.0 - cut / cuts) ** 3)


class CubicSchedule(AireSchedule):
    """AireSchedule with Zhu & Gupta's cubic sparsity ramp over many short TWD/cut cycles."""

    #: each TWD phase lasts (end - start) / cuts of the steps; twd_length is not read
    twd_advice = ("Give each TWD phase more steps: more --steps, fewer cuts or a longer ramp "
                  "(--schedule-set cuts=N start=F end=F), or raise alpha_max.")

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                 cuts: int = 8, start: float = 0.1, end: float = 0.35, densify_cycles: int = 2) -> None:
        super().__init__(config, criterion, policy)
        self._ramp(config, cuts, start, end, densify_cycles)

    def _ramp(self, config: ScheduleConfig, cuts: int, start: float, end: float, densify_cycles: int) -> None:
        """Check and keep the ramp's settings."""
        if config.target_params is None:
            raise ConfigError(f"schedule {config.kind} needs target_params (the parameter budget)")
        check_cycle_options(changed_cycle_options(config), config.kind, auto=False)  # the ramp would ignore them
        if not 0 <= float(start) < float(end) < 1 or int(cuts) < 1:
            raise ConfigError(f"schedule {config.kind}: need 0 <= start < end < 1 and cuts >= 1, got start {start}, "
                              f"end {end}, cuts {cuts}")
        self.cuts, self.start, self.end = int(cuts), float(start), float(end)
        self.densify_cycles = int(densify_cycles)

    def plan(self, steps: int) -> list[sched.Cycle]:
        return cubic_plan(steps, self.cuts, self.start, self.end)

    def cycle_target(self, initial_params: int, cycle: sched.Cycle) -> float:
        n = len(self.cycles)
        return initial_params * (1.0 - cubic_fraction_removed(self.config.target_params, cycle.index + 1, n))

    def densify_count(self, input_width: int, cycle: int = 0) -> int:
        return super().densify_count(input_width, cycle) if cycle < self.densify_cycles else 0


def aire_cubic(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
               **settings: Any) -> CubicSchedule:
    """Factory of ``aire-cubic``."""
    return CubicSchedule(config, criterion, policy, **settings)


class CubicLsqSchedule(CubicSchedule, LsqSchedule):
    """``aire-cubic-lsq``: the cubic schedule's cuts, each with aire-lsq's least-squares refit of the
    next layer (to its pre-activations at the start of that cut's TWD phase)."""

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                 reference: str = "cycle-start", points: int = 4096, ridge: float = 1e-3, cuts: int = 8,
                 start: float = 0.1, end: float = 0.35, densify_cycles: int = 2) -> None:
        LsqSchedule.__init__(self, config, criterion, policy, reference=reference, points=points, ridge=ridge)
        self._ramp(config, cuts, start, end, densify_cycles)


def aire_cubic_lsq(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                   **settings: Any) -> CubicLsqSchedule:
    """Factory of ``aire-cubic-lsq``."""
    return CubicLsqSchedule(config, criterion, policy, **settings)


@hookimpl
def aire_add_schedules() -> dict:
    return {"aire-cubic": aire_cubic, "aire-cubic-lsq": aire_cubic_lsq}
