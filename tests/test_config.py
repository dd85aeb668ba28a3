"""ScheduleConfig's default schedule kind: ``auto`` resolves at construction to ``aire-cubic`` under a
parameter budget without a quality target, else to ``aire``; cycle options it would ignore are refused."""

from __future__ import annotations

import pytest

import aire
from aire.config import CYCLE_OPTIONS, ConfigError, default_kind


def test_default_schedule_is_aire_cubic_under_a_budget_and_aire_otherwise():
    assert aire.ScheduleConfig().kind == "aire"  # no budget: the cycles cut prune_fraction each
    assert aire.ScheduleConfig(target_params=0.5).kind == "aire-cubic"
    assert aire.ScheduleConfig(kind="auto", target_params=0.5).kind == "aire-cubic"
    assert aire.ScheduleConfig(target_psnr=30.0).kind == "aire"
    assert aire.ScheduleConfig(target_params=0.5, target_psnr=30.0).kind == "aire"  # a quality target: cycles
    assert aire.ScheduleConfig(target_params=0.5, target_chamfer=0.01).kind == "aire"
    assert aire.ScheduleConfig(kind="aire", target_params=0.5).kind == "aire"  # named: kept
    assert aire.ScheduleConfig(kind="magnitude-iterative", target_params=0.5).kind == "magnitude-iterative"
    assert [default_kind(b, q) for b, q in ((None, False), (0.5, False), (0.5, True), (None, True))] == \
           ["aire", "aire-cubic", "aire", "aire"]


@pytest.mark.parametrize("field, value", [("warmup", 0.2), ("cycles", 3), ("twd_length", 0.1), ("cycle_gap", 0.0)])
def test_a_cycle_option_the_budget_default_ignores_is_refused_naming_it_and_the_fix(field, value):
    with pytest.raises(ConfigError) as info:
        aire.ScheduleConfig(target_params=0.5, **{field: value})
    message = str(info.value)
    assert CYCLE_OPTIONS[field] in message and "--schedule aire" in message and "\n" not in message
    # the same option with the cycles named, or without a budget (auto -> aire), is honoured
    assert getattr(aire.ScheduleConfig(kind="aire", target_params=0.5, **{field: value}), field) == value
    assert getattr(aire.ScheduleConfig(**{field: value}), field) == value


def test_the_resolved_kind_is_what_the_trainer_runs():
    from aire.schedules.cubic import CubicSchedule
    from aire.signals.image import ImageSignal, synthetic_image
    from aire.train.trainer import Trainer

    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 6, 6])
    trainer = Trainer(signal, net, aire.TrainConfig(steps=40, progress=False), aire.ScheduleConfig(target_params=0.6))
    assert isinstance(trainer.schedule, CubicSchedule)
    # Zhu & Gupta's ramp: 8 TWD phases tiling 10 % .. 35 % of the 40 steps (edges 4, 5.25, 6.5, ... 14 rounded),
    # a cut at the end of each
    assert [(c.start, c.prune) for c in trainer.schedule.plan(40)] == \
           [(4, 5), (5, 6), (6, 8), (8, 9), (9, 10), (10, 12), (12, 13), (13, 14)]


def test_the_cli_refusal_of_a_cycle_option_under_the_budget_default_is_one_line_led_by_the_flag(capsys, tmp_path):
    from aire.cli import main

    image = tmp_path / "x.png"
    image.write_bytes(b"")  # never read: refused while the specification is built
    code = main(["fit", "image", str(image), "--target-params", "0.5", "--cycles", "3", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error: --cycles sets the paper's cycles"), err
    assert not (tmp_path / "o").exists()
