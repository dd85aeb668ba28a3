"""Plugin events: aire_fit_start only for a fresh fit, aire_step_end only when implemented, aire_fit_end."""

from __future__ import annotations

import torch

from aire.train.callbacks import PluginEvents


class Registry:
    def __init__(self, step_hook):
        self.step_hook, self.emitted = step_hook, []

    def has_impls(self, name):
        return self.step_hook if name == "aire_step_end" else True

    def emit(self, name, **kwargs):
        self.emitted.append((name, sorted(kwargs)))


class FakeTrainer:
    def __init__(self, step_hook, history):
        self.registry, self.history = Registry(step_hook), history


def _run(trainer):
    events = PluginEvents()
    events.on_fit_start(trainer)
    events.after_step(trainer, 0, torch.tensor(1.0))
    events.on_fit_end(trainer, {"psnr": 30.0})
    return [name for name, _ in trainer.registry.emitted]


def test_a_fresh_fit_starts_steps_and_ends():
    trainer = FakeTrainer(step_hook=True, history=[])
    assert _run(trainer) == ["aire_fit_start", "aire_step_end", "aire_fit_end"]
    assert trainer.registry.emitted[1][1] == ["loss", "step", "trainer"]


def test_a_resumed_fit_does_not_start_again_and_unimplemented_step_hooks_cost_nothing():
    trainer = FakeTrainer(step_hook=False, history=[{"step": 0}])
    assert _run(trainer) == ["aire_fit_end"]
