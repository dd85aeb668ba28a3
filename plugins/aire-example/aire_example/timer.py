"""An event-only plugin: a hook wrapper around ``aire_step_end`` that times every training step.

The wrapper runs around the other plugins' ``aire_step_end`` implementations, so it measures two
things without touching the trainer:

* the step time, from the end of one step's hooks to the start of the next step's (the training
  step itself, plus an evaluation or checkpoint when one falls in between);
* the hook time, spent inside the other plugins' ``aire_step_end`` (what plugins cost per step).

It always measures (two clock reads per step); it reports only when ``AIRE_EXAMPLE_TIMER=1``: then
``aire_evaluate`` adds ``timer_step_ms`` (the median step time since the previous evaluation, in
milliseconds) and ``timer_hooks_ms`` (the mean hook time per step), which land in the history and in
metrics.json. Off by default so that installing the example never changes a run's metrics.
On CUDA, steps are asynchronous: without a sync the step time is the host's, not the device's.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Generator
from typing import Any

import aire

ENABLE_ENV = "AIRE_EXAMPLE_TIMER"


class StepTimer:
    """Step and hook times of the current fit (one fit at a time per instance)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.last: float | None = None  # clock at the end of the previous step's hooks
        self.step_seconds: list[float] = []  # every step's time this fit
        self.hook_seconds: list[float] = []  # time in the other plugins' aire_step_end, per step
        self._reported = 0  # steps already summarised by aire_evaluate

    @aire.hookimpl
    def aire_fit_start(self) -> None:
        self.reset()
        self.last = self.clock()

    @aire.hookimpl(wrapper=True)
    def aire_step_end(self) -> Generator[None, Any, Any]:
        start = self.clock()
        if self.last is not None:  # None for the first step after a resume: no previous end to measure from
            self.step_seconds.append(start - self.last)
        try:
            return (yield)  # the other plugins' aire_step_end run here
        finally:
            end = self.clock()
            self.hook_seconds.append(end - start)
            self.last = end

    @aire.hookimpl
    def aire_evaluate(self) -> dict[str, float] | None:
        fresh = self.step_seconds[self._reported:]
        hooks = self.hook_seconds[len(self.hook_seconds) - len(fresh):] if fresh else []
        self._reported = len(self.step_seconds)
        if not fresh or os.environ.get(ENABLE_ENV, "") in ("", "0"):
            return None
        return {"timer_step_ms": 1e3 * statistics.median(fresh), "timer_hooks_ms": 1e3 * statistics.fmean(hooks)}

    def summary(self) -> dict[str, float]:
        """Median step time and mean hook time over the whole fit so far, in milliseconds."""
        if not self.step_seconds:
            return {}
        return {"steps": len(self.step_seconds), "step_ms_median": 1e3 * statistics.median(self.step_seconds),
                "hooks_ms_mean": 1e3 * statistics.fmean(self.hook_seconds)}


#: the instance the ``step-timer`` entry point registers
plugin = StepTimer()
