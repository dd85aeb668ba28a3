"""Evaluation: when it evaluates, what a row holds, and its history as state."""

from __future__ import annotations

import pytest

import aire
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.callbacks import Evaluation


class Registry:
    """Stands in for aire.plugins.PluginRegistry: records the aire_evaluate call, returns plugins' extras."""

    def __init__(self, extra=None):
        self.emitted, self.extra = [], dict(extra or {})

    def evaluate_extra(self, trainer, step, metrics):
        self.emitted.append(("aire_evaluate", {"step": step, "metrics": dict(metrics)}))
        return dict(self.extra)


class FakeTrainer:
    def __init__(self):
        self.signal = ImageSignal(image=synthetic_image(8))
        self.network = aire.build_network(self.signal, [6, 6])
        self.model = self.network  # TrainerView.model: the whole model the signal evaluates
        self.registry = Registry()
        self.step = 40

    def elapsed(self):
        return 2.5


def test_due_after_every_nth_step_and_the_last():
    evaluation = Evaluation(every=3, steps=10)
    assert [s for s in range(10) if evaluation.due(s)] == [2, 5, 8, 9]


def test_a_row_holds_the_step_loss_params_metrics_and_seconds_and_is_announced():
    trainer = FakeTrainer()
    evaluation = Evaluation(every=20, steps=100)
    row = evaluation.evaluate(trainer, loss=0.25)
    psnr = trainer.signal.evaluate(trainer.network)["psnr"]
    assert row == {"step": 40, "loss": 0.25, "params": trainer.network.num_parameters(), "psnr": pytest.approx(psnr),
                   "seconds": 2.5}
    assert evaluation.history == [row] and trainer.network.training  # back in training mode
    (name, kwargs), = trainer.registry.emitted
    assert name == "aire_evaluate" and kwargs["step"] == 40 and kwargs["metrics"]["psnr"] == row["psnr"]


def test_what_plugins_return_joins_the_row():
    trainer = FakeTrainer()
    trainer.registry = Registry(extra={"my_plugin_metric": 7.0})
    row = Evaluation(every=20, steps=100).evaluate(trainer, loss=0.5)
    assert row["my_plugin_metric"] == 7.0 and "psnr" in row


def test_history_is_its_state_as_a_copy():
    trainer = FakeTrainer()
    evaluation = Evaluation(every=20, steps=100)
    evaluation.evaluate(trainer)
    state = evaluation.state_dict()
    state["history"][0]["psnr"] = -1.0
    assert evaluation.history[0]["psnr"] != -1.0
    other = Evaluation(every=20, steps=100)
    other.load_state_dict(evaluation.state_dict())
    assert other.history == evaluation.history and other.history is not evaluation.history
