"""torch.compile of a batched fit's loss, once the architecture is final and where it pays.

A batched fit (aire.train.batched_trainer) changes its widths at every cut (aire-cubic: 8 cuts), so a
compilation before the last one would be redone or would need dynamic shapes (measured on a loaded
2-core CPU, 64 members: 34 s for a dynamic compilation against ~20 s for a static one, both 1.5x
faster per step, so compiling from the start would gain ~4 % of a 500-step aire-cubic fit). After the schedule's last
cut nothing changes the tensors' shapes any more (members that leave the batch are zeroed in place),
so the loss of every member, ``forward_channels(x)`` and its mean squared error, is compiled once with
static shapes, if it pays: the same rule as the single fit's (aire.train.compile_policy.decide) on
eager steps timed here, with the costs of a batched compilation (BATCHED_PRIORS until this process has
measured one). Then as many compiled steps are timed; when they are not faster, the fit goes back to
eager. Fused by inductor: the bias and the sine into the GEMM's epilogue pass, and the sine's
backward (g * cos z) into one pass, the elementwise traffic that dominates the eager step.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import torch

from aire.train import compile_policy as policy

#: a static compilation of a 64-member batched loss ([50, 14, 14] SIREN on 4096 pixels, forward and
#: backward) measured on this project's CPU: ~22 s wall at load 4.5 on 2 cores (the C++ compilation
#: runs in worker processes), the compiled step 1.57x faster than the eager one (98 vs 154 ms of
#: CPU); kept as ~10 idle-core seconds and 1.5x. CUDA: not measured, the single fit's prior.
BATCHED_PRIORS: dict[str, policy.CompileCosts] = {
    "cpu": policy.CompileCosts(compile_seconds=10.0, speedup=1.5),
    "cuda": policy.PRIORS["cuda"],
}


class BatchedCompiler:
    """Calls `function` (the batch's loss) eagerly, or compiled from step `final_step` on when that pays.

    The trainer calls ``start(step)`` and ``end(step)`` around each training step and the loss through
    this object; ``summary()`` is what each member's metrics.json records as "compile" (the single
    fit's keys: decisions, compiled_at, eager_ms, compiled_ms, speedup, compile_s, reverted, failed).
    """

    def __init__(self, function: Callable[..., torch.Tensor], final_step: int, steps: int, device_type: str,
                 probe_steps: int = 5) -> None:
        self.function, self.call = function, function
        self.final_step, self.steps, self.device_type = int(final_step), int(steps), device_type
        self.probe_steps = int(probe_steps)
        self.phase = "waiting"  # waiting -> warm -> probe -> (compiling -> verify ->) done
        self.compiles = 0
        self.decisions: list[dict[str, Any]] = []
        self.outcome: dict[str, Any] = {}
        self._eager: list[tuple[float, float]] = []  # (wall s, thread CPU s) per timed eager step
        self._compiled: list[float] = []
        self._clock: tuple[float, float] | None = None

    def __call__(self, *args: Any) -> torch.Tensor:
        if self.call is self.function:
            return self.function(*args)
        import torch._dynamo

        try:
            return self.call(*args)
        except torch._dynamo.exc.BackendCompilerFailed as exc:  # no C++ compiler, no Triton: eager
            reason = f"{type(exc.inner_exception).__name__}: {str(exc.inner_exception).strip().splitlines()[0][:200]}"
            self.outcome["failed"] = reason
            self.call = self.function
            warnings.warn(f"torch.compile failed here ({reason}); the batched fit continues eagerly", stacklevel=2)
            return self.function(*args)

    def start(self, step: int) -> None:
        """Before training step `step`: the clock of a timed step."""
        if self.phase == "waiting" and step >= self.final_step:
            self.phase = "warm"  # the first step on the final widths is not timed
        self._clock = None
        if self.phase in ("probe", "compiling", "verify"):
            self._sync()
            self._clock = (time.perf_counter(), time.thread_time())

    def end(self, step: int) -> None:
        """After training step `step`: record its time and take the decisions due."""
        if self.phase == "warm":
            self.phase = "probe"
            return
        if self._clock is None:
            return
        self._sync()
        wall, cpu = time.perf_counter() - self._clock[0], time.thread_time() - self._clock[1]
        if self.phase == "probe":
            self._eager.append((wall, cpu))
            if len(self._eager) >= self.probe_steps:
                self._decide(step + 1)
        elif self.phase == "compiling":
            self.outcome["first_compiled_step_s"] = wall
            self.phase = "verify"
        elif self.phase == "verify":
            self._compiled.append(wall)
            if len(self._compiled) >= self.probe_steps:
                self._verify()

    def _decide(self, step: int) -> None:
        costs = policy.expected_costs(f"{self.device_type}-batched", BATCHED_PRIORS)
        record, eager, share = policy.decide_from_probe(step, self.steps - step, self._eager, costs, self.device_type)
        self.decisions.append(record)
        if not record["compile"]:
            self.phase = "done"
            return
        self.call = torch.compile(self.function, dynamic=False)  # the widths are final: static shapes
        self.compiles += 1
        self.phase = "compiling"
        self.outcome.update(compiled_at=step, eager_ms=round(eager * 1e3, 4), cpu_share=round(share, 4))

    def _verify(self) -> None:
        self.phase = "done"
        if "failed" in self.outcome:
            self.outcome["reverted"] = True
            return
        reverted = policy.check_compiled(self.outcome, self._compiled, f"{self.device_type}-batched")
        if reverted:
            self.call = self.function
        self.outcome["reverted"] = reverted

    def _sync(self) -> None:
        if self.device_type == "cuda":
            torch.cuda.synchronize()

    def summary(self) -> dict[str, Any]:
        """metrics.json's "compile": the decisions taken and, once compiled, what was measured."""
        return {"decisions": list(self.decisions), **self.outcome}
