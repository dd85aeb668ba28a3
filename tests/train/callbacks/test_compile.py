"""The compiler: times eager steps, compiles once where it pays (the decision recorded), checks the
compiled steps and goes back to eager when they are not faster; surgery does not compile again."""

from __future__ import annotations

import types

import pytest
import torch

import aire
from aire.config import TrainConfig
from aire.signals.image import ImageSignal, synthetic_image
from aire.train import compile_policy as policy
from aire.train.callbacks import Compiler
from aire.train.callbacks import compile as compile_module
from aire.train.compile_policy import CompileCosts


class FakeTrainer:
    def __init__(self, steps: int):
        self.network = aire.build_network(ImageSignal(image=synthetic_image(8)), [6, 6])
        self.model = self.step_model = self.network
        self.train_config = TrainConfig(steps=steps)
        self.events = []

    def log_event(self, kind, **info):
        self.events.append({"event": kind, **info})


class Clock:
    """perf_counter and thread_time that move only when told: `share` of each wall second is CPU time."""

    def __init__(self, share: float = 1.0):
        self.wall = self.cpu = 0.0
        self.share = share

    def advance(self, seconds: float):
        self.wall += seconds
        self.cpu += self.share * seconds


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(compile_module, "time", types.SimpleNamespace(perf_counter=lambda: c.wall,
                                                                        thread_time=lambda: c.cpu))
    monkeypatch.setattr(policy, "DynamicCompiled", lambda model: ("compiled", model))
    policy.forget_costs()
    yield c
    policy.forget_costs()


def run(trainer, compiler, clock, steps, seconds):
    """Steps [steps) each taking `seconds` (a function of the step) between before_step and after_step."""
    for step in steps:
        compiler.before_step(trainer, step)
        clock.advance(seconds(step))
        compiler.after_step(trainer, step, torch.tensor(0.0))


def test_compiles_where_it_pays_and_keeps_the_measured_speedup(clock):
    trainer = FakeTrainer(steps=100)
    compiler = Compiler(probe_steps=3, costs=lambda device: CompileCosts(compile_seconds=1.0, speedup=2.0))
    # step 0 warms up, 1-3 are timed at 0.1 s; at step 4: 96 steps * 0.1 s * (1 - 1/2) = 4.8 s > 1 s
    run(trainer, compiler, clock, range(4), lambda s: 0.1)
    assert trainer.step_model is trainer.model
    run(trainer, compiler, clock, range(4, 8), lambda s: 2.0 if s == 4 else 0.04)  # compiling, then 3 fast steps
    assert trainer.step_model == ("compiled", trainer.model) and compiler.compiles == 1
    summary = compiler.summary()
    assert summary["decisions"] == [{"step": 4, "steps_left": 96, "eager_ms": 100.0, "cpu_share": 1.0,
                                     "predicted_compile_s": 1.0, "speedup": 2.0, "saving_s": 4.8, "compile": True}]
    assert summary["compiled_at"] == 4 and summary["compile_s"] == pytest.approx(1.9)
    assert summary["compiled_ms"] == pytest.approx(40.0) and summary["speedup"] == pytest.approx(2.5)
    assert summary["reverted"] is False
    learned = policy.expected_costs("cpu")  # for the next fits in this process
    assert (learned.compile_seconds, learned.speedup) == (pytest.approx(1.9), pytest.approx(2.5))
    assert [e["event"] for e in trainer.events] == ["compile", "compile_checked"]
    trainer.network.remove_neurons(1, torch.tensor([0]))  # surgery: the dynamic graph serves the new widths
    run(trainer, compiler, clock, range(8, 12), lambda s: 0.03)
    assert compiler.compiles == 1 and trainer.step_model == ("compiled", trainer.model)


def test_stays_eager_where_it_does_not_pay_and_asks_again_after_surgery(clock):
    trainer = FakeTrainer(steps=30)
    compiler = Compiler(probe_steps=3, costs=lambda device: CompileCosts(compile_seconds=5.0, speedup=2.0))
    run(trainer, compiler, clock, range(6), lambda s: 0.1)  # at step 4: 26 * 0.1 * 0.5 = 1.3 s < 5 s
    assert trainer.step_model is trainer.model and compiler.compiles == 0
    assert [d["compile"] for d in compiler.decisions] == [False] and compiler.decisions[0]["saving_s"] == 1.3
    trainer.network.remove_neurons(1, torch.tensor([0]))
    run(trainer, compiler, clock, range(6, 12), lambda s: 0.1)  # new architecture: warm-up 6, timed 7-9, asks at 10
    assert [(d["step"], d["steps_left"], d["compile"]) for d in compiler.decisions] == [(4, 26, False), (10, 20, False)]


def test_goes_back_to_eager_when_the_compiled_steps_are_not_faster(clock):
    trainer = FakeTrainer(steps=1000)
    compiler = Compiler(probe_steps=3, costs=lambda device: CompileCosts(compile_seconds=1.0, speedup=3.0))
    run(trainer, compiler, clock, range(4), lambda s: 0.01)
    run(trainer, compiler, clock, range(4, 8), lambda s: 3.0 if s == 4 else 0.02)
    assert trainer.step_model is trainer.model and compiler.summary()["reverted"] is True
    assert compiler.summary()["speedup"] == pytest.approx(0.5)


def test_forced_compiles_at_once_and_never_goes_back(clock):
    trainer = FakeTrainer(steps=10)
    compiler = Compiler(probe_steps=3, costs=lambda device: CompileCosts(compile_seconds=1e6, speedup=1.0))
    with policy.forced():
        run(trainer, compiler, clock, range(9), lambda s: 3.0 if s == 4 else (0.01 if s < 4 else 0.02))
    assert trainer.step_model == ("compiled", trainer.model)
    assert compiler.decisions[0]["forced"] is True and compiler.summary()["reverted"] is False


def test_a_busy_core_is_measured_and_counted(clock):
    clock.share = 0.25  # the fit got a quarter of a core while its eager steps were timed
    trainer = FakeTrainer(steps=100)
    compiler = Compiler(probe_steps=3, costs=lambda device: CompileCosts(compile_seconds=1.0, speedup=2.0))
    run(trainer, compiler, clock, range(5), lambda s: 0.1)  # 4.8 s of saving < 1 s / 0.25
    assert compiler.decisions[0]["cpu_share"] == 0.25 and compiler.decisions[0]["predicted_compile_s"] == 4.0
    assert compiler.decisions[0]["compile"] is True  # 4.8 > 4.0
    trainer2, compiler2 = FakeTrainer(steps=80), Compiler(probe_steps=3, costs=compiler.costs)
    run(trainer2, compiler2, clock, range(5), lambda s: 0.1)  # 76 * 0.05 = 3.8 s < 4.0 s
    assert compiler2.decisions[0]["compile"] is False
