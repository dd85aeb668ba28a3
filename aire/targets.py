"""Quality targets (``--target-psnr``, ``--target-chamfer``): which metric a target means for a signal and
in which direction, whether a schedule can honour one, whether it is still in reach, and how large the
next cut should be.

A signal declares the targets it accepts (``Signal.quality_targets``: name -> (metric, higher is better);
by default its ``quality_key``); a target is the ScheduleConfig field ``target_<name>``. The image signal
declares ``psnr``, NeRF ``psnr`` (its test-view ``psnr_test``), the SDF ``chamfer`` (``chamfer_l1``, lower
is better). A target the signal does not declare, two targets at once, or a target under a schedule that
cannot honour one (``Schedule.honours_targets``, e.g. ``none``) are one-line ConfigErrors before training.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import attrs

from aire.config import ConfigError

#: the ScheduleConfig fields that hold a quality target, by the name a signal declares
OPTIONS = {"psnr": "target_psnr", "chamfer": "target_chamfer"}


@attrs.frozen
class QualityTarget:
    """A resolved target: `option` (ScheduleConfig field), `metric` (a key of the signal's evaluate() or
    final_metrics()), the `value` to reach, and the direction."""

    option: str
    metric: str
    value: float
    higher_is_better: bool

    def margin(self, quality: float | None) -> float:
        """How far `quality` is on the good side of the target (negative: it misses; -inf: no value)."""
        if not isinstance(quality, (int, float)) or not math.isfinite(quality):
            return -math.inf
        return float(quality - self.value) if self.higher_is_better else float(self.value - quality)

    def holds(self, quality: float | None) -> bool:
        return self.margin(quality) >= 0.0

    def record(self) -> dict[str, Any]:
        """The fields metrics.json's "target" starts with."""
        return {"metric": self.metric, "value": self.value, "higher_is_better": self.higher_is_better}


def declared(signal: Any) -> dict[str, tuple[str, bool]]:
    """The targets `signal` accepts: its ``quality_targets``, else its quality key in its direction."""
    found = getattr(signal, "quality_targets", None)
    if found is None:
        key = getattr(signal, "quality_key", "psnr")
        found = {key: (key, bool(getattr(signal, "higher_is_better", True)))}
    return dict(found)


def requested(config: Any) -> tuple[str, float] | None:
    """(name, value) of the one quality target `config` (a ScheduleConfig) asks for, or None.
    Raises ConfigError when it asks for more than one."""
    asked = [(name, getattr(config, field)) for name, field in OPTIONS.items()
             if getattr(config, field, None) is not None]
    if len(asked) > 1:
        raise ConfigError(f"one quality target at a time: {' and '.join(OPTIONS[n] for n, _ in asked)} were both given")
    return asked[0] if asked else None


def resolve(config: Any, signal: Any) -> QualityTarget | None:
    """The target `config` asks for, as `signal` measures it; None without one. Raises ConfigError
    (one line, naming the targets the signal accepts) when the signal declares no such target."""
    asked = requested(config)
    if asked is None:
        return None
    name, value = asked
    targets = declared(signal)
    if name not in targets:
        kind = type(signal).__name__
        accepted = ", ".join(OPTIONS.get(n, f"target_{n}") for n in targets) or "none"
        raise ConfigError(f"{OPTIONS[name]}: {kind} declares no {name} quality (its targets: {accepted})")
    metric, higher = targets[name]
    return QualityTarget(OPTIONS[name], metric, float(value), bool(higher))


def check_schedule(config: Any, schedule: Any, signal: Any) -> None:
    """Refuse, before training, a quality target that the signal does not declare or that the
    schedule cannot honour (a schedule says so with ``honours_targets = True``)."""
    target = resolve(config, signal)
    if target is not None and not getattr(schedule, "honours_targets", False):
        raise ConfigError(f"{target.option} {target.value:g} needs a schedule that cuts to a quality target "
                          f"(aire); schedule {config.kind!r} cannot honour it")


def optimistic_end(samples: Sequence[tuple[int, float]], steps: int, higher_is_better: bool = True) -> float:
    """The quality a straight line through the samples (step, value) reaches by step `steps`: the rate
    from the latest sample at or before half the last sample's step (else the first sample) to the
    last, never worse than zero change. Quality curves flatten as training goes on, so the line is an
    optimistic bound on what the run can still reach. Needs at least one sample."""
    step, value = samples[-1]
    earlier = [s for s in samples[:-1] if s[0] <= step // 2] or list(samples[:1 if len(samples) > 1 else 0])
    if not earlier:
        return float(value)
    then_step, then_value = earlier[-1]
    rate = (value - then_value) / max(1, step - then_step)
    rate = max(0.0, rate) if higher_is_better else min(0.0, rate)
    return float(value + rate * (steps - step))


@attrs.frozen
class CutOutcome:
    """One cut, measured: the `fraction` of the parameters it removed (of the network that held the target
    before it), the target margins before the cut and after its recovery (QualityTarget.margin), and
    optionally the drop that was predicted for it per unit fraction (e.g. from Theorem 2 / predict_cut)."""

    fraction: float
    margin_before: float
    margin_after: float
    predicted_rate: float | None = None

    @property
    def held(self) -> bool:
        return self.margin_after >= 0.0

    @property
    def rate(self) -> float:
        """Quality lost per unit fraction removed, after recovery (>= 0)."""
        return max(0.0, self.margin_before - self.margin_after) / max(self.fraction, 1e-12)


def propose_fraction(margin: float, history: Sequence[CutOutcome], *, first: float, smallest: float,
                     largest: float = 0.6, aim: float = 0.7, growth: float = 1.5,
                     predicted_rate: float | None = None) -> float:
    """The fraction of the parameters the next cut should remove, or 0.0 for "stop cutting".

    margin: the current network's margin to the target (> 0: it holds with room). history: the cuts so
    far, oldest first; the failed ones after the last held one were tried from the current network.
    The quality lost per unit fraction is the last measured cut's ``rate``; with predictions on both
    sides it is the current ``predicted_rate`` scaled by that cut's measured / predicted rate (the
    recovery the schedule achieved against the prediction). The cut aims to spend `aim` of the margin
    (the loss grows faster than linearly as the network shrinks), grows at most `growth` times the
    last cut that held, and stays below half the smallest fraction that already failed from the
    current network (bisection). Without any cut measured: `first`. Results under `smallest` (one
    neuron per pruned layer) are raised to it, unless a cut of that size already failed: then 0.0.
    """
    if margin <= 0.0:
        return 0.0
    failed = []
    for outcome in reversed(history):
        if outcome.held:
            break
        failed.append(outcome.fraction)
    ceiling = 0.5 * min(failed) if failed else largest
    if failed and min(failed) <= smallest * (1 + 1e-9):
        return 0.0
    measured = [o for o in history if o.fraction > 0]
    if not measured:
        proposal = first
    else:
        last = measured[-1]
        rate = last.rate
        if predicted_rate is not None and last.predicted_rate:
            rate = predicted_rate * last.rate / last.predicted_rate
        proposal = aim * margin / rate if rate > 0 else largest
        kept = [o.fraction for o in history if o.held]
        if kept:
            proposal = min(proposal, growth * kept[-1])
    proposal = min(proposal, ceiling, largest)
    return float(max(proposal, smallest))
