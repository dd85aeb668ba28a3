"""The AIRe schedule as plain functions: when each phase happens, how many neurons go, alpha(t).

Timeline (fractions of the total steps, see ScheduleConfig)::

    warm-up | cycle 1: densify, TWD ........ prune | gap | cycle 2 ... | fine-tune to the end
"""

from __future__ import annotations

import math
from typing import Sequence

import attrs

from aire.config import ScheduleConfig


@attrs.frozen
class Cycle:
    """Step numbers of one densify/TWD/prune cycle (TWD runs on steps [start, prune))."""

    index: int
    start: int
    prune: int


def plan(config: ScheduleConfig, steps: int) -> list[Cycle]:
    """The cycles of a run of `steps` optimizer steps; empty for schedule 'none'."""
    if config.kind == "none":
        return []
    warm = int(round(config.warmup * steps))
    twd = max(1, int(round(config.twd_length * steps)))
    gap = int(round(config.cycle_gap * steps))
    cycles = []
    for c in range(config.cycles):
        start = warm + c * (twd + gap)
        if start + twd >= steps:
            break
        cycles.append(Cycle(index=c, start=start, prune=start + twd))
    return cycles


def alpha(step_in_phase: int, phase_length: int, alpha_max: float) -> float:
    """TWD decay factor, ramped linearly from alpha_max/T at the first step to alpha_max at the last."""
    return alpha_max * (step_in_phase + 1) / max(1, phase_length)


def twd_shrink(phase_length: int, alpha_max: float) -> float:
    """The factor prod_t (1 - alpha_t) by which TWD scales a targeted column over a whole phase."""
    return math.exp(sum(math.log1p(-alpha(t, phase_length, alpha_max)) for t in range(phase_length)))


def count_parameters(in_features: int, widths: Sequence[int], out_features: int) -> int:
    """Parameters of a sine MLP with these sine-layer widths (weights and biases)."""
    sizes = [in_features, *widths, out_features]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def budget_widths(
    in_features: int, widths: Sequence[int], out_features: int, layers: Sequence[int], target: float
) -> list[int]:
    """Shrink `layers` of `widths` by one common factor so the network has at most `target` parameters.

    The largest factor s (to 1e-6) with floor(s * w) neurons per pruned layer (at least 1) is
    taken; if even one neuron per pruned layer is over the target, those minimal widths are returned.
    """

    def shrunk(s: float) -> list[int]:
        return [max(1, int(math.floor(s * w + 1e-9))) if i in layers else w for i, w in enumerate(widths)]

    if count_parameters(in_features, widths, out_features) <= target:
        return list(widths)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if count_parameters(in_features, shrunk(mid), out_features) <= target:
            lo = mid
        else:
            hi = mid
    return shrunk(lo)


def cycle_target(initial_params: int, budget: float, cycle: int, cycles: int) -> float:
    """Parameter target after `cycle` (0-based): geometric steps from the start to the budget."""
    return initial_params * budget ** ((cycle + 1) / cycles)
