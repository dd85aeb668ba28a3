"""When torch.compile pays for itself over a fit, and a compilation that survives surgery.

A compilation costs seconds (tens under load) and makes each step faster by a factor; it pays when
the steps left save more than it costs::

    saving = steps_left * eager_step_seconds * (1 - 1 / speedup)  >  compile_seconds / cpu_share

`eager_step_seconds` is measured on the fit itself (a few eager steps), `compile_seconds` and
`speedup` are this process's last measurement or, before the first, the priors measured by
``python -m benchmarks compile`` (benchmarks/results/compile-*.md). `cpu_share` is the fraction of a
core the fitting thread got while the eager steps were measured (thread CPU time / wall time): on a
machine shared with other jobs a compilation (mostly single-threaded Python) takes that much longer.

The compilation marks the parameters' sizes dynamic (torch._dynamo ``force_parameter_static_shapes``
off, no duck sizing, ``dynamic=True``), so one graph serves every width: neurons removed or input
frequencies added, and the fresh parameter objects of a rollback, reuse it without recompiling.
"""

from __future__ import annotations

import contextlib
import statistics
import warnings
from typing import Any, Iterator

import attrs
import torch


@attrs.frozen
class CompileCosts:
    """What one torch.compile of the training forward costs and gives back, on an idle core.

    compile_seconds: seconds of the first compiled step beyond an eager one (forward and backward
    graphs); speedup: eager step time / compiled step time."""

    compile_seconds: float
    speedup: float


#: priors per device type, before this process measured its own (benchmarks/results/compile-cpu.md:
#: a dynamic-shape compilation of a 4 x 64 SIREN forward and backward on one idle core; compiled
#: steps measured 2.5-3.8x faster than eager on CPU, the lower figure kept). CUDA: not measured
#: here, so a compilation must save a minute before it is tried.
PRIORS: dict[str, CompileCosts] = {
    "cpu": CompileCosts(compile_seconds=15.0, speedup=2.5),
    "cuda": CompileCosts(compile_seconds=60.0, speedup=1.5),
}

_measured: dict[str, CompileCosts] = {}


def expected_costs(device_type: str, priors: dict[str, CompileCosts] | None = None) -> CompileCosts:
    """This process's last measured costs on `device_type` ("cpu", "cuda"; other compiled functions
    keep their own under another key, e.g. "cpu-batched"), else the prior of `priors` (default PRIORS;
    keyed by device type, the part before "-"; an unknown device type gets the CUDA prior)."""
    priors = PRIORS if priors is None else priors
    base = device_type.split("-")[0]
    return _measured.get(device_type) or priors.get(base) or priors.get("cuda") or PRIORS["cuda"]


def record_costs(device_type: str, costs: CompileCosts) -> None:
    """Remember measured costs for the next decisions in this process (idle-core seconds)."""
    _measured[device_type] = costs


def forget_costs() -> None:
    """Back to the priors (tests)."""
    _measured.clear()


_forced: list[bool] = []


@contextlib.contextmanager
def forced() -> Iterator[None]:
    """Inside the block, fits with compile on compile at their first decision and never go back to
    eager, whatever the costs: for benchmarks that time the compiled step itself and for tests."""
    _forced.append(True)
    try:
        yield
    finally:
        _forced.pop()


def is_forced() -> bool:
    """Whether a :func:`forced` block is active."""
    return bool(_forced)


@attrs.frozen
class Decision:
    """One decision about compiling, as recorded in metrics.json ("compile") and the fit's events.

    step: the step it was taken before; steps_left: steps it concerns; eager_ms: measured eager step;
    cpu_share: fraction of a core the fit got while measuring; predicted_compile_s: compile_seconds /
    cpu_share; speedup: the assumed speed-up; saving_s: what compiling would save; compile: saving_s >
    predicted_compile_s (and speedup > 1)."""

    step: int
    steps_left: int
    eager_ms: float
    cpu_share: float
    predicted_compile_s: float
    speedup: float
    saving_s: float
    compile: bool

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in attrs.asdict(self).items()}


def decide(step: int, steps_left: int, eager_step_seconds: float, costs: CompileCosts,
           cpu_share: float = 1.0) -> Decision:
    """Whether compiling now pays over the `steps_left` remaining steps (see the module docstring).

    `cpu_share` is clipped to [0.05, 1]. ValueError for a negative step time or step count."""
    if eager_step_seconds < 0 or steps_left < 0:
        raise ValueError(f"eager step time and steps left must be >= 0, got {eager_step_seconds}, {steps_left}")
    share = min(1.0, max(0.05, float(cpu_share)))
    predicted = costs.compile_seconds / share
    saving = steps_left * eager_step_seconds * (1.0 - 1.0 / costs.speedup) if costs.speedup > 0 else 0.0
    return Decision(step=int(step), steps_left=int(steps_left), eager_ms=eager_step_seconds * 1e3, cpu_share=share,
                    predicted_compile_s=predicted, speedup=float(costs.speedup), saving_s=saving,
                    compile=costs.speedup > 1.0 and saving > predicted)


def decide_from_probe(step: int, steps_left: int, eager: list[tuple[float, float]], costs: CompileCosts,
                      device_type: str) -> tuple[dict[str, Any], float, float]:
    """The decision on timed eager steps (`eager`: (wall s, thread CPU s) per step), as recorded.

    Returns the decision's record (``forced: True`` and compile inside a :func:`forced` block), the
    median eager step in seconds and the CPU share (thread CPU / wall on CPU, 1 elsewhere). Shared by
    the single fit's Compiler and the batched fit's BatchedCompiler."""
    median = statistics.median(w for w, _ in eager)
    wall, cpu = sum(w for w, _ in eager), sum(c for _, c in eager)
    share = cpu / wall if device_type == "cpu" and wall > 0 else 1.0
    record = decide(step, steps_left, median, costs, share).as_dict()
    if is_forced():
        record["compile"], record["forced"] = True, True
    return record, median, share


def check_compiled(outcome: dict[str, Any], compiled: list[float], costs_key: str) -> bool:
    """After the compiled steps were timed (`compiled`: wall s each): whether to go back to eager.

    `outcome` holds ``eager_ms``, ``cpu_share`` and ``first_compiled_step_s`` from the decision and gets
    ``compiled_ms``, ``compile_s`` (first compiled step beyond an eager one) and ``speedup``; the costs
    measured are recorded under `costs_key` (idle-core seconds) for this process's next decisions.
    Going back pays when the compiled step is not faster, unless a :func:`forced` block is active."""
    median, eager = statistics.median(compiled), outcome["eager_ms"] / 1e3
    compile_s = max(0.0, outcome["first_compiled_step_s"] - eager)
    outcome.update(compiled_ms=round(median * 1e3, 4), compile_s=round(compile_s, 3),
                   speedup=round(eager / median, 4) if median > 0 else None)
    if median > 0:
        record_costs(costs_key, CompileCosts(compile_s * outcome["cpu_share"], eager / median))
    return median >= eager and not is_forced()


@contextlib.contextmanager
def dynamic_parameters() -> Iterator[None]:
    """torch._dynamo settings under which parameter sizes are symbolic and distinct (no duck sizing:
    two layers that happen to share a width would otherwise be specialised equal, and recompiled
    when a cut separates them)."""
    import torch._dynamo
    import torch.fx.experimental._config as fx_config

    with torch._dynamo.config.patch(force_parameter_static_shapes=False), fx_config.patch(use_duck_shape=False):
        yield


class DynamicCompiled(torch.nn.Module):
    """``torch.compile(model, dynamic=True)`` called under :func:`dynamic_parameters`, so one graph
    serves every width the surgery gives the model. Attributes other than the call go to `model`
    (as torch.compile's wrapper does); the wrapper owns no parameters of its own.

    A backend that cannot compile here (inductor without a C++ compiler, no Triton) fails the first
    call: `failed` then holds the reason (one warning) and every call runs `model` eagerly."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "model", model)  # not a submodule: parameters() stays empty
        object.__setattr__(self, "compiled", torch.compile(model, dynamic=True))
        object.__setattr__(self, "failed", None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        import torch._dynamo  # imported only once a fit compiles: seconds of imports otherwise

        if self.failed is None:
            try:
                with dynamic_parameters():
                    return self.compiled(*args, **kwargs)
            except torch._dynamo.exc.BackendCompilerFailed as exc:
                reason = f"{type(exc.inner_exception).__name__}: {str(exc.inner_exception).strip().splitlines()[0][:200]}"
                object.__setattr__(self, "failed", reason)
                warnings.warn(f"torch.compile failed here ({reason}); the fit continues eagerly", stacklevel=2)
        return self.model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "model"), name)
