"""The magnitude baselines: cuts at 30 % (or 10/20/30 %) of the steps, the weakest outgoing columns
removed down to the budget with no decay beforehand, the lr restarted at the last cut; runnable by name."""

from __future__ import annotations

import pytest
import torch

import aire
from aire.config import ConfigError
from aire.schedules.magnitude import MagnitudeSchedule, cut_steps
from aire.signals.image import ImageSignal, synthetic_image
from aire.train import schedule as sched
from aire.train.trainer import Trainer


def test_cut_steps_end_at_thirty_percent():
    assert cut_steps(100, 1) == [30]
    assert cut_steps(100, 3) == [10, 20, 30]
    assert cut_steps(5, 3) == [1, 2]  # rounding merges cuts rather than repeating a step


def test_oneshot_cuts_the_weakest_columns_once_at_thirty_percent_and_rewinds_the_lr(make_trainer):
    trainer = make_trainer("magnitude-oneshot")
    schedule = trainer.schedule
    assert isinstance(schedule, MagnitudeSchedule)
    schedule.on_fit_start(trainer)
    assert schedule.steps == [12]
    norms = {layer: trainer.network.outgoing(layer).detach().abs().sum(0).clone() for layer in (1, 2)}
    before = [w.detach().clone() for w in trainer.network.weights]
    initial = trainer.network.num_parameters()
    trainer.step = 12
    schedule.before_step(trainer, 12)
    widths = trainer.network.widths()[:-1]
    expected = sched.budget_widths(2, [8, 8, 8], 3, [1, 2], 0.6 * initial)
    assert widths == expected and widths[0] == 8  # the input frequencies are not pruned
    assert trainer.network.num_parameters() <= 0.6 * initial
    kept1 = torch.sort(torch.argsort(norms[1], stable=True)[8 - widths[1]:]).values
    assert torch.equal(trainer.network.weights[1].detach(), before[1][kept1])  # the strongest rows of layer 1 stay
    assert [e["layer"] for e in trainer.events if e["event"] == "prune"] == [1, 2]
    assert schedule.lr_origin == 12
    assert schedule.learning_rate(12, trainer.train_config) == pytest.approx(1e-3)
    assert schedule.learning_rate(40, trainer.train_config) == pytest.approx(1e-4)


def test_iterative_fit_reaches_the_budget_in_three_cuts(make_trainer):
    trainer = make_trainer("magnitude-iterative", steps=30, budget=0.5)
    result = trainer.fit()
    cuts = sorted({e["step"] for e in result.events if e["event"] == "prune"})
    assert cuts == [3, 6, 9]
    assert result.metrics["params_final"] <= 0.5 * result.metrics["params_initial"]
    params = [e["params"] for e in result.events if e["event"] == "prune"]
    assert params == sorted(params, reverse=True) and len(set(params)) > 2  # it shrinks step by step


def test_a_magnitude_schedule_needs_a_budget():
    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 6])
    with pytest.raises(ConfigError, match="needs target_params"):
        Trainer(signal, net, aire.TrainConfig(steps=10), aire.ScheduleConfig(kind="magnitude-oneshot"))


def test_state_round_trips(make_trainer):
    trainer = make_trainer("magnitude-oneshot")
    trainer.schedule.lr_origin = 7
    fresh = MagnitudeSchedule(trainer.schedule.config, trainer.schedule.criterion, cuts=1)
    fresh.load_state_dict(trainer.schedule.state_dict())
    assert fresh.lr_origin == 7
