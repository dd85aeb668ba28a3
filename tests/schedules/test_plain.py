"""The none schedule: no surgery, the lr decays exponentially from lr to lr_final over the run."""

from __future__ import annotations

import pytest

import aire
from aire.schedules.plain import PlainSchedule
from aire.signals.image import ImageSignal, synthetic_image


def test_learning_rate_decays_from_lr_to_lr_final():
    train = aire.TrainConfig(steps=200, lr=1e-3, lr_final=1e-5)
    schedule = PlainSchedule()
    assert [schedule.learning_rate(s, train) for s in (0, 100, 200)] == pytest.approx([1e-3, 1e-4, 1e-5])
    assert schedule.state_dict() == {}


def test_a_plain_fit_never_changes_the_architecture():
    signal = ImageSignal(image=synthetic_image(8))
    result = aire.fit(signal, aire.build_network(signal, [6, 6]), steps=20, eval_every=10, progress=False,
                      schedule=aire.ScheduleConfig(kind="none"))
    assert result.events == [] and result.metrics["architecture_final"] == result.metrics["architecture_initial"]
