"""Schedules are a plugin kind: the built-ins come through entry points, ScheduleConfig.kind selects one
by name, and a third-party schedule installs and runs like a criterion."""

from __future__ import annotations

import textwrap
from importlib import metadata

import pytest

import aire
from aire.config import ConfigError
from aire.plugins import PluginRegistry, UnknownComponentError
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.trainer import Trainer

THIRD_PARTY = '''
    import torch

    import aire
    from aire.interfaces import Schedule


    class HalveOnce(Schedule):
        """Removes the weaker half of hidden layer 1 at step `at`."""

        def __init__(self, at):
            self.at, self.done = at, False

        def before_step(self, trainer, step):
            if step == self.at and not self.done:
                scores = trainer.network.outgoing(1).detach().abs().sum(0)
                weak = torch.argsort(scores)[: scores.numel() // 2]
                trainer.network.remove_neurons(1, weak, trainer.optimizer)
                trainer.log_event("prune", layer=1, removed=int(weak.numel()))
                self.done = True

        def state_dict(self):
            return {"done": self.done}

        def load_state_dict(self, state):
            self.done = state["done"]


    @aire.hookimpl
    def aire_add_schedules():
        return {"halve-once": lambda config, criterion, policy: HalveOnce(at=10)}
'''


def _core_entry_points():
    from tests.plugin_fixtures import core_entry_points

    return core_entry_points()


def _install(root, monkeypatch):
    """A minimal installed distribution (dist-info + module) on a private path."""
    info = root / "halving_schedule-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: halving-schedule\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[aire]\nhalving = halving_schedule\n")
    (root / "halving_schedule.py").write_text(textwrap.dedent(THIRD_PARTY))
    monkeypatch.syspath_prepend(str(root))
    return [ep for dist in metadata.distributions(path=[str(root)]) for ep in dist.entry_points if ep.group == "aire"]


def test_the_built_in_schedules_register_through_entry_points():
    schedules = PluginRegistry(_core_entry_points()).components("schedule")
    assert {"aire", "none"} <= set(schedules)
    assert schedules["aire"].plugin == "aire-schedule" and schedules["none"].plugin == "none-schedule"
    assert {schedules[n].distribution for n in ("aire", "none")} == {"aire-inr"}


def test_an_unknown_schedule_is_named_with_a_suggestion():
    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 6])
    with pytest.raises(UnknownComponentError, match="unknown schedule 'aier'; did you mean 'aire'"):
        Trainer(signal, net, aire.TrainConfig(steps=10), aire.ScheduleConfig(kind="aier"))
    with pytest.raises(ConfigError, match="kind"):
        aire.ScheduleConfig(kind="")


def test_a_third_party_schedule_installs_and_runs_like_a_criterion(tmp_path, monkeypatch):
    registry = PluginRegistry(_core_entry_points() + _install(tmp_path / "site", monkeypatch))
    component = registry.components("schedule")["halve-once"]
    assert component.distribution == "halving-schedule" and component.plugin == "halving"
    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 8])
    train = aire.TrainConfig(steps=30, eval_every=15, progress=False)
    trainer = Trainer(signal, net, train, aire.ScheduleConfig(kind="halve-once"), registry=registry)
    result = trainer.fit()
    assert result.metrics["architecture_final"] == [6, 4, 3]
    assert [(e["event"], e["step"], e["removed"]) for e in result.events] == [("prune", 10, 4)]
    assert trainer.state_dict()["callbacks"]["schedule"] == {"done": True}


def test_a_schedule_that_does_not_prune_to_the_budget_is_said_and_recorded_not_silent(tmp_path, monkeypatch):
    from tests.notices import recorded_notices

    registry = PluginRegistry(_core_entry_points() + _install(tmp_path / "site", monkeypatch))
    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 8])
    train = aire.TrainConfig(steps=30, eval_every=15, progress=False)
    trainer = Trainer(signal, net, train, aire.ScheduleConfig(kind="halve-once", target_params=0.3), registry=registry)
    with recorded_notices() as messages:
        result = trainer.fit()
    fraction = result.metrics["params_fraction"]
    assert fraction > 0.3 and result.metrics["budget_held"] is False  # halving one layer of [6, 8] leaves more
    said = [m for m in messages if "--target-params 0.3" in m]
    assert len(said) == 1 and f"{fraction:.1%}" in said[0] and "'halve-once' did not prune" in said[0], messages


def test_a_budget_for_the_schedule_that_never_prunes_is_refused_before_training():
    signal = ImageSignal(image=synthetic_image(8))
    net = aire.build_network(signal, [6, 6])
    with pytest.raises(ConfigError, match="--target-params 0.5 needs a schedule that prunes .* 'none' never changes"):
        Trainer(signal, net, aire.TrainConfig(steps=10), aire.ScheduleConfig(kind="none", target_params=0.5))
