"""aire-lsq: at each cut the next layer is refit to the pre-activations recorded at the start of the
TWD phase (or just before the cut), on the schedule's own inputs."""

from __future__ import annotations

import copy

import pytest
import torch

from aire.config import ConfigError
from aire.pruning.compensate import next_preactivations
from aire.schedules.lsq import LsqSchedule


def _run_to_cut(trainer):
    schedule = trainer.schedule
    schedule.on_fit_start(trainer)
    cycle = schedule.cycles[0]
    for step in range(cycle.prune):
        trainer.step = step
        schedule.before_step(trainer, step)
        loss = trainer.training_step(step)
        schedule.after_step(trainer, step, loss)
    return schedule, cycle


def test_the_cut_refits_the_next_layer_toward_the_pre_twd_preactivations(make_trainer):
    trainer = make_trainer("aire-lsq", steps=40, budget=0.7, cycles=1, warmup=0.1, twd_length=0.25, cycle_gap=0.0,
                           densify_k=0, prune_layers=(1,))
    schedule, cycle = _run_to_cut(trainer)
    assert isinstance(schedule, LsqSchedule)
    recorded = schedule.targets[1]
    x = schedule.inputs
    targets = schedule.twd_targets[1]
    # what a plain cut would leave, and what the refit leaves
    plain = trainer.network.hidden_outputs(x)[1].detach().clone()
    keep = torch.ones(plain.shape[1], dtype=torch.bool)
    keep[targets] = False
    plain_error = (plain[:, keep] @ trainer.network.weights[2][:, keep].T.detach() + trainer.network.biases[2].detach()
                   - recorded).norm()
    trainer.step = cycle.prune
    schedule.before_step(trainer, cycle.prune)
    assert trainer.network.widths()[1] == 8 - targets.numel()
    refit_error = (next_preactivations(trainer.network, 1, x) - recorded).norm()
    assert refit_error < plain_error
    assert len(schedule.residuals) == 1 and 0 <= schedule.residuals[0] < 1


def test_pre_cut_reference_with_frozen_targets_keeps_the_function_closer_than_a_plain_cut(make_trainer):
    trainer = make_trainer("aire-lsq", steps=40, budget=0.7, cycles=1, warmup=0.1, twd_length=0.25, cycle_gap=0.0,
                           densify_k=0, prune_layers=(1,), alpha_max=0.0, settings={"reference": "pre-cut"})
    schedule, cycle = _run_to_cut(trainer)
    x = schedule.inputs
    before = trainer.network(x).detach().clone()
    assert schedule.targets == {}  # recorded at the cut itself
    plain = copy.deepcopy(trainer.network)  # a plain cut of the same neurons, for comparison
    plain.remove_neurons(1, schedule.twd_targets[1])
    trainer.step = cycle.prune
    schedule.before_step(trainer, cycle.prune)
    assert trainer.network.widths()[1] == plain.widths()[1] < 8
    assert (trainer.network(x) - before).norm() < (plain(x) - before).norm()


def test_an_unknown_reference_is_refused(make_trainer):
    with pytest.raises(ConfigError, match="reference must be one of cycle-start, pre-cut"):
        make_trainer("aire-lsq", settings={"reference": "later"})
