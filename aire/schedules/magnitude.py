"""Baseline schedules ``magnitude-oneshot`` and ``magnitude-iterative``: structured magnitude pruning
plus fine-tuning, without targeted weight decay or densification.

What a practitioner does instead of AIRe to get a small network (the classic prune-then-fine-tune
recipe, e.g. Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017, here on neurons):
train normally, cut the neurons of lowest score at once, and keep training the smaller network.

* one-shot: a single cut at ``CUT_AT`` (30 %) of the steps, straight to the parameter budget;
* iterative: ``ITERATIVE_CUTS`` (3) cuts evenly spaced up to ``CUT_AT`` (10 %, 20 %, 30 %), each to
  a geometric step of the budget (aire.train.schedule.cycle_target, as AIRe's cycles do).

The score is the configured criterion plugin (``ScheduleConfig.criterion``, by default the outgoing
column L1 norm, i.e. magnitude), the layers ``ScheduleConfig.prune_layers`` (default the hidden
layers), the widths per cut ``aire.train.schedule.budget_widths`` (one common shrink factor), and the
learning rate the same as AIRe's: exponential decay lr -> lr_final, restarted at the last cut when
``lr_rewind`` (the default). Only ``target_params`` (required), ``prune_layers``, ``criterion`` and
``lr_rewind`` of the ScheduleConfig are read.
"""

from __future__ import annotations

from typing import Any

import torch

from aire.config import ConfigError, ScheduleConfig, TrainConfig
from aire.hookspecs import hookimpl
from aire.interfaces import PruningCriterion, Schedule, TrainerView
from aire.schedules import cuts
from aire.train import schedule as sched

#: fraction of the steps at which the (last) cut happens
CUT_AT = 0.3
#: cuts of the iterative variant, evenly spaced up to CUT_AT
ITERATIVE_CUTS = 3


def cut_steps(steps: int, cuts: int, last: float = CUT_AT) -> list[int]:
    """The steps of `cuts` evenly spaced cuts, the last at `last` of `steps` (distinct, >= 1)."""
    out = sorted({max(1, int(round(steps * last * (c + 1) / cuts))) for c in range(cuts)})
    return [s for s in out if s < steps]


class MagnitudeSchedule(Schedule):
    """Cut the lowest-scoring neurons of the pruned layers at the planned steps; train normally between.

    State (``state_dict``): the step where the learning-rate decay restarted (the last cut)."""

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, cuts: int) -> None:
        if config.target_params is None:
            raise ConfigError(f"schedule {config.kind!r} needs target_params (the parameter budget)")
        self.config, self.criterion, self.cuts = config, criterion, int(cuts)
        self.steps: list[int] = []
        self.lr_origin = 0
        self.generator = torch.Generator().manual_seed(0)

    def on_fit_start(self, trainer: TrainerView) -> None:
        from aire.train.trainer import seeded_generator

        self.steps = cut_steps(trainer.train_config.steps, self.cuts)
        self.generator = seeded_generator(trainer.train_config.seed, 2)  # a data-aware criterion's inputs

    def before_step(self, trainer: TrainerView, step: int) -> None:
        if step in self.steps:
            self.cut(trainer, self.steps.index(step))

    def learning_rate(self, step: int, train: TrainConfig) -> float:
        """AIRe's rule: exponential decay lr -> lr_final, restarted at the last cut with lr_rewind."""
        return cuts.rewound_lr(step, train, self.lr_origin)

    def state_dict(self) -> dict[str, Any]:
        return {"lr_origin": self.lr_origin}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr_origin = int(state["lr_origin"])

    def layers(self, network: Any) -> list[int]:
        return cuts.prunable_layers(network, self.config.prune_layers)

    def cut(self, trainer: TrainerView, index: int) -> None:
        """Cut to the `index`-th geometric step of the budget: the lowest scores of each pruned layer."""
        network = trainer.network
        target = sched.cycle_target(trainer.initial_params, self.config.target_params, index, len(self.steps))
        for layer, k in cuts.neurons_per_layer(trainer, self.layers(network), target).items():
            if k <= 0:
                continue
            neurons = self.choose(trainer, layer, k)
            removed_l1 = float(network.outgoing(layer).detach()[:, neurons].abs().sum())
            cuts.cut(trainer, layer, neurons, residual_column_l1=removed_l1)
        self.after_cuts(trainer)

    def choose(self, trainer: TrainerView, layer: int, k: int) -> torch.Tensor:
        """The `k` neurons of `layer` to cut: the criterion's lowest scores."""
        network = trainer.network
        cuts.show_inputs(self.criterion, trainer, self.generator)
        return self.criterion.select(network, layer, k, None).to(network.weights[0].device)

    def after_cuts(self, trainer: TrainerView) -> None:
        """After every layer of a cut: rewind the learning-rate decay (lr_rewind)."""
        if self.config.lr_rewind:
            self.lr_origin = trainer.step


def magnitude_oneshot(config: ScheduleConfig, criterion: PruningCriterion, policy: Any = None) -> MagnitudeSchedule:
    """Factory of ``magnitude-oneshot``: one cut at 30 % of the steps (the densification policy is unused)."""
    return MagnitudeSchedule(config, criterion, cuts=1)


def magnitude_iterative(config: ScheduleConfig, criterion: PruningCriterion, policy: Any = None) -> MagnitudeSchedule:
    """Factory of ``magnitude-iterative``: three cuts at 10, 20 and 30 % of the steps."""
    return MagnitudeSchedule(config, criterion, cuts=ITERATIVE_CUTS)


@hookimpl
def aire_add_schedules() -> dict:
    return {"magnitude-oneshot": magnitude_oneshot, "magnitude-iterative": magnitude_iterative}

