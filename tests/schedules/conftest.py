"""Setup the schedule tests share: a small image fit to prune (12 x 12 synthetic image, SIREN [8, 8, 8])."""

from __future__ import annotations

from typing import Callable

import pytest

import aire
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.trainer import Trainer


def budget_trainer(kind: str, steps: int = 40, budget: float = 0.6, **schedule) -> Trainer:
    """A Trainer of schedule `kind` with a parameter budget on a 12 px synthetic image, SIREN [8, 8, 8]."""
    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [8, 8, 8], seed=3)
    train = aire.TrainConfig(steps=steps, lr=1e-3, lr_final=1e-4, eval_every=steps, progress=False, guard=False)
    return Trainer(signal, net, train, aire.ScheduleConfig(kind=kind, target_params=budget, **schedule))


@pytest.fixture
def make_trainer() -> Callable[..., Trainer]:
    """budget_trainer as a fixture: make_trainer(kind, steps=40, budget=0.6, **schedule settings)."""
    return budget_trainer
