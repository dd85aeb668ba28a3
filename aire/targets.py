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
    schedule cannot honour (a schedule says so with ``honours_targets = True``), and a parameter budget
    for a schedule that says it never changes the architecture (``changes_architecture = False``)."""
    target = resolve(config, signal)
    if target is not None and not getattr(schedule, "honours_targets", False):
        raise ConfigError(f"{target.option} {target.value:g} needs a schedule that cuts to a quality target "
                          f"(aire); schedule {config.kind!r} cannot honour it")
    if config.target_params is not None and not getattr(schedule, "changes_architecture", True):
        raise ConfigError(f"--target-params {config.target_params:g} needs a schedule that prunes (aire, aire-cubic, "
                          f"...); schedule {config.kind!r} never changes the architecture")


def missed_reason(metrics: dict[str, Any]) -> str | None:
    """Why a run with a quality target missed it, naming the quality reached (``target_psnr 40 was not
    held: psnr 31 at the end``); None when it held or had none."""
    target = metrics.get("target")
    if not isinstance(target, dict) or target.get("held", True):
        return None
    option = next((o for n, o in OPTIONS.items() if target.get("metric", "").startswith(n)), "the quality target")
    key = target.get("metric")
    value = metrics.get(key)
    reached = f"{key} {value:.4g}" if isinstance(value, (int, float)) else f"no {key}"
    why = target.get("missed", "")
    why = " (out of reach of the starting network)" if "out of reach" in why else ""
    return f"{option} {target.get('value'):g} was not held: {reached} at the end{why}"


def missed_line(metrics: dict[str, Any], out: Any) -> str | None:
    """The one line a command prints (as an error, exit status 2) when a run with a quality target ended
    without holding it: `missed_reason` and where the run is; None when it held or had none."""
    reason = missed_reason(metrics)
    if reason is None:
        return None
    return f"{reason}; the run is written to {out} with its final network (metrics.json: target.held false)"


def exit_status(metrics: dict[str, Any], out: Any) -> int:
    """A command's exit status for a finished run: 2, printing `missed_line` as ``aire: error: ...`` on
    stderr, when its quality target was not held (the run is written all the same); else 0."""
    import sys

    line = missed_line(metrics, out)
    if line is None:
        return 0
    print(f"aire: error: {line}", file=sys.stderr)
    return 2


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


#: the quality-target modes of the ``aire`` schedule (``--schedule-set target_mode=...``)
MODES = ("anticipate", "held")


@attrs.frozen
class TargetMode:
    """How the ``aire`` schedule cuts to a quality target (``--schedule-set KEY=VALUE``, keys ``target_*``).

    mode: "held" (the default) cuts only after the target holds at a check (the measured quality), in cycles
    of the schedule's own timing; "anticipate" cuts from the end of warm-up on, while the quality
    *projected to the last step* (`projected_margin`) holds it, in `cuts` cycles that tile
    [warmup, `end`] of the steps (each: targeted weight decay for twd_length, then recovery), and checks
    once more after the last cut's recovery (a cut whose projection then misses is undone). Cutting early
    leaves the pruned network most of the run to recover, which a cut late in training never does.
    kappa: the fraction of the warm-up's improvement rate (per e-fold of steps, times the fraction of the
    run left) the projection extends to the last step. Measured on DIV2K SIREN fits at 64 px
    (benchmarks/results/target_search-cpu.md): an uncut network's remaining gain was 0.4-0.6 of the
    undamped extrapolation, a cut one's 0.40-0.53, so 0.4 errs on the side of holding; 0.55 missed targets.
    densify_cycles: the cycles that densify the input (the others only cut). first: the fraction of the
    parameters the first cut removes (None: the schedule's prune_fraction).
    Either way the run ends with the smallest network whose *measured* quality held the target: the
    final network when it holds, else the last one that held at a check, else (none did) the final
    network, reported as not holding it. "held" stays the default: on the target suite (DIV2K 00-07, 64 px)
    "anticipate" ended no smaller from the suite's width-32 network (1.11 / 1.13x the sweep against 1.13 /
    1.13x) and once below a target the starting network reached, which "held" never does; from a wider
    network (48) it ended smallest of the modes tried (1.00 / 1.06x) but in ~2.2x one fit's time
    (benchmarks/results/target_search-cpu.md).
    """

    mode: str = attrs.field(default="held")
    cuts: int = attrs.field(default=7)
    end: float = attrs.field(default=0.7)
    kappa: float = attrs.field(default=0.4)
    densify_cycles: int = attrs.field(default=1)
    first: float | None = attrs.field(default=0.3)

    def __attrs_post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"target_mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if int(self.cuts) < 1 or not 0.0 < float(self.end) < 1.0 or float(self.kappa) < 0.0 or int(self.densify_cycles) < 0:
            raise ConfigError(f"target settings: need target_cuts >= 1, 0 < target_end < 1, target_kappa >= 0 and "
                              f"target_densify_cycles >= 0, got {self.cuts}, {self.end}, {self.kappa}, "
                              f"{self.densify_cycles}")

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "TargetMode":
        """The mode from schedule settings named ``target_<field>``; ConfigError for an unknown one."""
        fields = {f.name for f in attrs.fields(cls)}
        unknown = [k for k in settings if not (k.startswith("target_") and k[len("target_"):] in fields)]
        if unknown:
            known = ", ".join(f"target_{f}" for f in sorted(fields))
            raise ConfigError(f"schedule aire: unknown setting {', '.join(map(repr, unknown))} (known: {known})")
        return cls(**{k[len("target_"):]: v for k, v in settings.items()})


def anticipate_plan(steps: int, warmup: float, end: float, cuts: int,
                    twd_length: float) -> tuple[list[tuple[int, int]], int | None]:
    """((TWD start, cut) steps per cycle, check step) of the "anticipate" mode: `cuts` intervals tiling
    [warmup, end] of `steps`, each a TWD phase of `twd_length` of the steps (at most the interval minus
    one step) from its start, then recovery; the check step is one interval after the last cycle's start
    (its recovery's end), or None when it falls at or after the last step. Intervals of under two steps:
    no cycles."""
    warm, stop = int(round(warmup * steps)), int(round(end * steps))
    interval = (stop - warm) / cuts
    if interval < 2:
        return [], None
    twd = max(1, min(int(round(twd_length * steps)), int(interval) - 1))
    starts = [warm + int(round(i * interval)) for i in range(cuts)]
    cycles = [(a, a + twd) for a in starts if a + twd < steps]
    check = stop if stop < steps else None
    return cycles, check


def improvement_rate(samples: Sequence[tuple[int, float]], target: QualityTarget) -> float | None:
    """The target's margin gained per e-fold of steps between the latest sample at or before half the
    last sample's step (else the first at a positive step) and the last (>= 0), or None without two
    samples at positive steps."""
    if not samples:
        return None
    step, value = samples[-1]
    positive = [s for s in samples[:-1] if 0 < s[0] < step]
    earlier = [s for s in positive if s[0] <= step // 2] or positive[:1]
    if step <= 0 or not earlier:
        return None
    then_step, then_value = earlier[-1]
    gained = target.margin(value) - target.margin(then_value)
    if not math.isfinite(gained):
        return None
    return max(0.0, gained) / math.log(step / then_step)


def projected_margin(margin: float, rate: float | None, step: int, steps: int, kappa: float) -> float:
    """The margin expected at the last step: `margin` now plus kappa * (1 - step / steps) * rate *
    ln(steps / step): the warm-up's improvement rate per e-fold of steps, extended in log-steps and damped
    by kappa and by the fraction of the run left (the rate itself falls as training goes on). `margin`
    itself without a rate."""
    if rate is None or step <= 0 or step >= steps:
        return margin
    return margin + kappa * (1.0 - step / steps) * rate * math.log(steps / step)
