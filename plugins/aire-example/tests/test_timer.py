"""The step timer's hook wrapper, on a fake clock: exact step and hook times, reported only when enabled."""

import pytest

import aire
from aire.plugins import PluginRegistry
from aire_example.timer import StepTimer


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class SlowHook:
    """Another plugin's aire_step_end that takes 0.25 s of the fake clock."""

    def __init__(self, clock):
        self.clock = clock

    @aire.hookimpl
    def aire_step_end(self, step):
        self.clock.now += 0.25


def _registry(timer, clock):
    reg = PluginRegistry([])  # no entry points: only these two plugins
    reg.pm.register(timer, name="step-timer")
    reg.pm.register(SlowHook(clock), name="slow-hook")
    return reg


def test_the_wrapper_times_steps_and_the_hooks_it_wraps(monkeypatch):
    monkeypatch.setenv("AIRE_EXAMPLE_TIMER", "1")
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    reg = _registry(timer, clock)
    reg.emit("aire_fit_start", trainer=None)
    assert reg.evaluate_extra(None, 0, {"rmse": 1.0}) == {}  # nothing measured yet
    for step, seconds in enumerate([1.0, 2.0, 4.0]):  # each training step takes `seconds`
        clock.now += seconds
        reg.emit("aire_step_end", trainer=None, step=step, loss=0.0)
    assert timer.step_seconds == [1.0, 2.0, 4.0] and timer.hook_seconds == [0.25, 0.25, 0.25]
    assert reg.evaluate_extra(None, 3, {"rmse": 1.0}) == {"timer_step_ms": 2000.0, "timer_hooks_ms": 250.0}
    clock.now += 8.0
    reg.emit("aire_step_end", trainer=None, step=3, loss=0.0)
    assert reg.evaluate_extra(None, 4, {"rmse": 1.0}) == {"timer_step_ms": 8000.0, "timer_hooks_ms": 250.0}
    assert timer.summary() == {"steps": 4, "step_ms_median": 3000.0, "hooks_ms_mean": 250.0}


def test_a_resumed_fit_starts_timing_at_its_second_step(monkeypatch):
    monkeypatch.setenv("AIRE_EXAMPLE_TIMER", "1")
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    reg = _registry(timer, clock)  # no aire_fit_start: a resume
    for step in (10, 11):
        clock.now += 3.0
        reg.emit("aire_step_end", trainer=None, step=step, loss=0.0)
    assert timer.step_seconds == [3.0]
    assert reg.evaluate_extra(None, 12, {}) == {"timer_step_ms": 3000.0, "timer_hooks_ms": 250.0}


@pytest.mark.parametrize("value", [None, "0"])
def test_it_reports_nothing_unless_enabled(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("AIRE_EXAMPLE_TIMER", raising=False)
    else:
        monkeypatch.setenv("AIRE_EXAMPLE_TIMER", value)
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    reg = _registry(timer, clock)
    reg.emit("aire_fit_start", trainer=None)
    clock.now += 1.0
    reg.emit("aire_step_end", trainer=None, step=0, loss=0.0)
    assert reg.evaluate_extra(None, 1, {}) == {} and timer.step_seconds == [1.0]
