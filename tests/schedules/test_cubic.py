"""aire-cubic: TWD phases tiling [start, end] of the steps, the removed fraction on Zhu & Gupta's
cubic ramp to the budget, densification in the first cycles only."""

from __future__ import annotations

import pytest

import aire
from aire.config import ConfigError
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.trainer import Trainer
from aire.schedules.cubic import CubicSchedule, cubic_fraction_removed, cubic_plan
from aire.train import schedule as sched


def test_the_plan_tiles_the_window_with_back_to_back_phases():
    assert cubic_plan(100, 4, 0.1, 0.3) == [sched.Cycle(0, 10, 15), sched.Cycle(1, 15, 20), sched.Cycle(2, 20, 25),
                                            sched.Cycle(3, 25, 30)]
    assert cubic_plan(10, 8, 0.1, 0.3) == [sched.Cycle(0, 1, 2), sched.Cycle(1, 2, 3)]  # no empty phases, renumbered


def test_the_removed_fraction_follows_zhu_and_gupta():
    assert cubic_fraction_removed(0.5, 0, 4) == 0.0
    assert cubic_fraction_removed(0.5, 4, 4) == pytest.approx(0.5)
    assert cubic_fraction_removed(0.5, 1, 4) == pytest.approx(0.5 * (1 - 0.75 ** 3))
    steps = [cubic_fraction_removed(0.5, i, 4) - cubic_fraction_removed(0.5, i - 1, 4) for i in (1, 2, 3, 4)]
    assert steps == sorted(steps, reverse=True)  # fast first, slow at the end


def test_a_fit_reaches_the_budget_in_shrinking_cuts_densifying_twice():
    # hidden layers of 12 (not 8): the budget pays for the new frequencies (aire.schedules.cuts.affordable_frequencies;
    # at [8, 8, 8] and half the parameters, 2 more inputs would cost a quarter of the hidden neurons, and none are added)
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [8, 12, 12], seed=3)
    train = aire.TrainConfig(steps=60, lr=1e-3, lr_final=1e-4, eval_every=60, progress=False, guard=False)
    config = aire.ScheduleConfig(kind="aire-cubic", target_params=0.5, densify_k=2,
                                 settings={"cuts": 4, "start": 0.1, "end": 0.5})
    trainer = Trainer(signal, net, train, config)
    assert isinstance(trainer.schedule, CubicSchedule)
    result = trainer.fit()
    assert [e["step"] for e in result.events if e["event"] == "densify"] == [6, 12]
    prunes = [e for e in result.events if e["event"] == "prune"]
    # (at 12 neurons a layer the ramp's last step, 1.6 % of the parameters, is under one neuron: no cut at 30)
    assert {e["step"] for e in prunes} <= {12, 18, 24, 30} and 12 in {e["step"] for e in prunes}
    for i, step in enumerate((12, 18, 24, 30), start=1):  # each cut reaches its point of the cubic ramp
        left = [e["params"] for e in prunes if e["step"] == step]
        assert not left or left[-1] <= (1 - cubic_fraction_removed(0.5, i, 4)) * result.metrics["params_initial"]
    removed = [sum(e["removed"] for e in prunes if e["step"] == s) for s in (12, 18, 24, 30)]
    assert removed[0] == max(removed)  # the largest cut comes first
    assert result.metrics["params_final"] <= 0.5 * result.metrics["params_initial"]
    assert trainer.schedule.lr_origin == 30


def test_it_needs_a_budget_and_a_window(make_trainer):
    with pytest.raises(ConfigError, match="needs target_params"):
        make_trainer("aire-cubic", budget=None)
    with pytest.raises(ConfigError, match="start < end"):
        make_trainer("aire-cubic", settings={"start": 0.4, "end": 0.2})


def test_cubic_lsq_refits_at_every_cut(make_trainer):
    from aire.schedules.cubic import CubicLsqSchedule

    trainer = make_trainer("aire-cubic-lsq", steps=60, budget=0.5, densify_k=0,
                           settings={"cuts": 4, "start": 0.1, "end": 0.5, "reference": "pre-cut"})
    schedule = trainer.schedule
    assert isinstance(schedule, CubicLsqSchedule) and schedule.reference == "pre-cut" and schedule.cuts == 4
    result = trainer.fit()
    cut_layers = [e for e in result.events if e["event"] == "prune"]
    assert len(schedule.residuals) == len(cut_layers) > 0  # one refit per layer cut
    assert result.metrics["params_final"] <= 0.5 * result.metrics["params_initial"]
    with pytest.raises(ConfigError, match="needs target_params"):
        make_trainer("aire-cubic-lsq", budget=None)


def test_targets_cut_above_epsilon_are_said_once_for_the_whole_fit_with_the_largest_left():
    """Short TWD phases (a 40-step aire-cubic fit: 1-2 steps each) leave targets above epsilon at most cuts;
    one notice at the end sums them up instead of one per layer and cut (64 lines for a batch of fits)."""
    from tests.notices import recorded_notices

    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [8, 12, 12], seed=0)
    with recorded_notices() as messages:
        result = aire.fit(signal, net, steps=40, eval_every=40, progress=False,
                          schedule=aire.ScheduleConfig(target_params=0.5))
    said = [m for m in messages if m.startswith("TWD left")]
    cuts = [e for e in result.events if e["event"] == "prune"]
    left = [e["residual_column_l1"] for e in cuts]
    assert len(said) == 1 and len(cuts) > 1, (said, len(cuts))
    assert "layer cuts" in said[0] and "prune event" in said[0]
    # the residual each cut removed is recorded per cut; the notice names the largest single column left
    largest = float(said[0].split("largest column L1 ")[1].split(",")[0])
    assert aire.ScheduleConfig().epsilon <= largest <= max(left) * 1.001  # above epsilon: why it was said


@pytest.mark.parametrize("field, value", [("cycles", 3), ("twd_length", 0.1)])
def test_cycle_options_named_with_aire_cubic_are_refused_not_ignored(field, value):
    """Also a replayed config.json of an aire-cubic run edited to other cycles: the ramp never reads them."""
    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 6, 6])
    config = aire.ScheduleConfig(kind="aire-cubic", target_params=0.5, **{field: value})
    with pytest.raises(ConfigError, match="the paper's cycles, which schedule aire-cubic does not use"):
        Trainer(signal, net, aire.TrainConfig(steps=40, progress=False), config)
