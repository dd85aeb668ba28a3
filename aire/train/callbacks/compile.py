"""torch.compile of the training forward, only where it pays over the rest of the fit.

The compiler times a few eager steps on the current architecture, predicts whether a compilation
repays itself over the steps left (aire.train.compile_policy.decide), and if so compiles once with
dynamic parameter sizes, so later surgery and rollbacks reuse the graph. It then times a few
compiled steps and goes back to eager if they are not faster. Every decision is a "compile" event
and the whole story is metrics.json's "compile".
"""

from __future__ import annotations

import time
from typing import Any, Callable

import torch

from aire.interfaces import Callback, TrainerView
from aire.train import compile_policy as policy


class Compiler(Callback):
    """Compiles ``trainer.step_model`` when it pays (see the module docstring).

    `probe_steps` eager steps (after one untimed warm-up step on each new architecture) are timed
    before a decision; as many compiled steps after the compiling one check the speed-up. Decisions
    are retaken on each new architecture until the fit compiles. `costs` gives the expected costs for
    a device type (default: this process's measurement, else the prior). Keeps no checkpointed state:
    a resumed fit measures afresh.
    """

    def __init__(self, probe_steps: int = 5,
                 costs: Callable[[str], policy.CompileCosts] = policy.expected_costs) -> None:
        self.probe_steps, self.costs = int(probe_steps), costs
        self.compiles = 0
        self.decisions: list[dict[str, Any]] = []
        self.outcome: dict[str, Any] = {}
        self._key: tuple[tuple[int, tuple[int, ...]], ...] | None = None
        self._phase = "probe"  # probe -> (waiting for a new architecture | compiling -> verify -> done)
        self._warm = True  # the next step is a warm-up after a change: not timed
        self._eager: list[tuple[float, float]] = []  # (wall s, thread CPU s) per timed eager step
        self._compiled: list[float] = []
        self._clock: tuple[float, float] | None = None

    # ------------------------------------------------------------------ hooks
    def before_step(self, trainer: TrainerView, step: int) -> None:
        # the objects and their shapes: a new tensor may reuse a freed one's id, never a cut one's shape
        key = tuple((id(p), tuple(p.shape)) for p in trainer.model.parameters())
        changed = key != self._key
        self._key = key
        if changed and self._phase in ("probe", "waiting"):
            self._phase, self._warm, self._eager = "probe", True, []
        elif changed and self._phase == "verify":  # the eager times were of another architecture
            self._finish(trainer, reverted=False, note="architecture changed while verifying")
        if self._phase == "probe" and len(self._eager) >= self.probe_steps:
            self._decide(trainer, step)
        self._clock = None
        if self._phase in ("probe", "compiling", "verify") and not self._warm:
            _sync(trainer)
            self._clock = (time.perf_counter(), time.thread_time())

    def after_step(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        if self._warm and self._phase == "probe":
            self._warm = False
            return
        if self._clock is None:
            return
        _sync(trainer)
        wall, cpu = time.perf_counter() - self._clock[0], time.thread_time() - self._clock[1]
        if self._phase == "probe":
            self._eager.append((wall, cpu))
        elif self._phase == "compiling":
            self.outcome["first_compiled_step_s"] = wall
            self._phase = "verify"
        elif self._phase == "verify":
            self._compiled.append(wall)
            if len(self._compiled) >= self.probe_steps:
                self._verify(trainer)

    # ------------------------------------------------------------- decisions
    def _decide(self, trainer: TrainerView, step: int) -> None:
        device = _device_type(trainer)
        record, eager, share = policy.decide_from_probe(step, trainer.train_config.steps - step, self._eager,
                                                        self.costs(device), device)
        self.decisions.append(record)
        trainer.log_event("compile", **record)
        if not record["compile"]:
            self._phase = "waiting"  # until a new architecture (or never)
            return
        trainer.step_model = policy.DynamicCompiled(trainer.model)
        self.compiles += 1
        self._phase = "compiling"
        self.outcome.update(compiled_at=step, eager_ms=round(eager * 1e3, 4), cpu_share=round(share, 4))

    def _verify(self, trainer: TrainerView) -> None:
        failed = getattr(trainer.step_model, "failed", None)
        if failed:  # the backend could not compile here: the steps were eager all along
            self.outcome["failed"] = failed
            self._finish(trainer, reverted=True)
            return
        self._finish(trainer, reverted=policy.check_compiled(self.outcome, self._compiled, _device_type(trainer)))

    def _finish(self, trainer: TrainerView, reverted: bool, note: str | None = None) -> None:
        if reverted:  # slower than eager here: back to the plain module for the rest of the fit
            trainer.step_model = trainer.model
        self.outcome["reverted"] = reverted
        if note:
            self.outcome["note"] = note
        self._phase = "done"
        trainer.log_event("compile_checked", **self.outcome)

    def summary(self) -> dict[str, Any]:
        """metrics.json's "compile": the decisions taken and, once compiled, what was measured."""
        return {"decisions": list(self.decisions), **self.outcome}


def _device_type(trainer: TrainerView) -> str:
    return next(trainer.model.parameters()).device.type


def _sync(trainer: TrainerView) -> None:
    if _device_type(trainer) == "cuda":
        torch.cuda.synchronize()

