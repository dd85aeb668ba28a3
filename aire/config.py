"""Validated configuration objects (attrs): a bad value fails at construction, naming the field."""

from __future__ import annotations

import math
from typing import Any

import attrs


class ConfigError(ValueError):
    """An invalid setting; the message names the field. ``key_path`` is its place in the fit
    specification (``("schedule", "target_params")``) where known, so the CLI can name the flag the
    user typed (``--target-params``) instead."""

    def __init__(self, message: str, key_path: tuple[str, ...] | None = None, detail: str | None = None,
                 standalone: bool = False) -> None:
        super().__init__(message)
        self.key_path, self.detail = key_path, detail  # detail: the message without where, led by the field
        self.standalone = standalone  # the message names the flags and the fix: shown without a "where" prefix


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not _number(value) or not value > 0:
        raise ConfigError(f"{attribute.name} must be a positive number, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not _number(value) or not value >= 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value!r}")


def _fraction(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
        raise ConfigError(f"{attribute.name} must lie in [0, 1), got {value!r}")


def check_widths(instance: Any, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if len(value) < 1:
        raise ConfigError(f"{attribute.name} needs at least one sine layer width")
    for w in value:
        if not isinstance(w, int) or isinstance(w, bool) or w < 1:
            raise ConfigError(f"{attribute.name} must be integers >= 1, got {list(value)!r}")


def _device(attribute: attrs.Attribute, value: str) -> None:
    import torch

    try:
        torch.device(value)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{attribute.name} must be a torch device such as cpu or cuda:0, got {value!r}") from None


def _name(attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{attribute.name} must be a plugin name, got {value!r}")


def to_int_tuple(value: Any) -> tuple[int, ...]:
    try:
        return tuple(int(v) if float(v) == int(v) else v for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"widths must be a list of integers, got {value!r}") from None


def _budget(instance: Any, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and 0.0 < value <= 1.0):
        raise ConfigError(f"{attribute.name} must lie in (0, 1], got {value!r}")


#: ScheduleConfig.kind's default, resolved at construction by `default_kind`
AUTO = "auto"
#: the default schedule under a parameter budget (aire.schedules.cubic; measured in docs/benchmarks/baselines.md)
BUDGET_DEFAULT = "aire-cubic"
#: ScheduleConfig fields that only the ``aire`` schedule (the paper's cycles) reads -> their `aire fit` flags
CYCLE_OPTIONS = {"warmup": "--warmup", "cycles": "--cycles", "twd_length": "--twd-length", "cycle_gap": "--cycle-gap"}


def default_kind(target_params: float | None, quality_target: bool) -> str:
    """The schedule ``kind = "auto"`` resolves to: ``aire-cubic`` (Zhu & Gupta's cubic ramp of cuts) for a
    parameter budget without a quality target, where it beat the paper's cycles on images, SDFs and NeRF
    (docs/schedule.md); ``aire`` otherwise (no budget: cycles cutting a fixed fraction; a quality
    target: the cycles' quality-target cuts, aire.targets)."""
    return BUDGET_DEFAULT if target_params is not None and not quality_target else "aire"


def changed_cycle_options(config: "ScheduleConfig") -> list[str]:
    """The cycle options (CYCLE_OPTIONS' field names) that `config` sets to other values than their defaults."""
    defaults = attrs.fields_dict(type(config))
    return [n for n in CYCLE_OPTIONS if getattr(config, n) != defaults[n].default]


def check_cycle_options(given: list[str], kind: str, auto: bool = True) -> None:
    """Refuse cycle options (field names of CYCLE_OPTIONS) that schedule `kind` would ignore (`auto`: the
    kind the default resolved to; else the kind the user named, e.g. aire-cubic)."""
    if given:
        flags = ", ".join(CYCLE_OPTIONS[n] for n in given)
        which = f"the default schedule under a parameter budget ({kind})" if auto else f"schedule {kind}"
        raise ConfigError(f"{flags} set{'s' if len(given) == 1 else ''} the paper's cycles, which {which} does not use: "
                          f"add --schedule aire (kind=\"aire\") for the cycles, or set {kind}'s cuts, start, end, "
                          f"densify_cycles with --schedule-set KEY=VALUE", standalone=True)


@attrs.frozen
class NetworkConfig:
    """Shape of a sinusoidal MLP: sine-layer widths (input frequencies first) and omega_0s."""

    in_features: int = attrs.field(validator=positive)
    out_features: int = attrs.field(validator=positive)
    widths: tuple[int, ...] = attrs.field(converter=to_int_tuple, validator=check_widths)
    omega0_first: float = attrs.field(default=30.0, validator=positive)
    omega0_hidden: float = attrs.field(default=30.0, validator=positive)
    network: str = attrs.field(default="siren", metadata={"help": "network plugin: siren or finer"})
    encoding: str = attrs.field(default="siren", metadata={"help": "input-layer encoding plugin"})
    first_bias_scale: float | None = attrs.field(
        default=None, metadata={"help": "FINER's first-layer bias range; None keeps SIREN's"}
    )


@attrs.frozen
class ScheduleConfig:
    """The AIRe schedule: warm-up, then cycles of [densify -> TWD -> prune], then fine-tuning.

    Phase lengths are fractions of the total steps, so one setting works for any --steps.
    Defaults are the ones measured best in benchmarks/image_tradeoff.py (see the docs' schedule page).

    ``kind`` defaults to ``auto``, resolved here once (`default_kind`): ``aire-cubic`` (aire.schedules.cubic)
    when a parameter budget (target_params) and no quality target is given, else ``aire``. The object holds
    the resolved name, so config.json, metrics.json and history record it and replaying them gives the same
    fit. The cycle options (warmup, cycles, twd_length, cycle_gap) are read by ``aire`` only: set to other
    values than their defaults while ``auto`` resolves to ``aire-cubic``, they raise ConfigError (name
    ``kind="aire"`` to use them).
    """

    kind: str = attrs.field(default=AUTO, validator=lambda i, a, v: _name(a, v),
                            metadata={"flag": "--schedule",
                                      "help": "schedule plugin: auto (aire-cubic with --target-params and no quality "
                                              "target, else aire), aire (the paper's densify/TWD/prune cycles), "
                                              "aire-cubic, none (plain training) or an installed one"})
    warmup: float = attrs.field(default=0.10, validator=_fraction, metadata={"help": "fraction of steps before the first cycle (schedule aire)"})
    cycles: int = attrs.field(default=2, validator=positive, metadata={"help": "number of densify/TWD/prune cycles (schedule aire)"})
    twd_length: float = attrs.field(default=0.05, validator=_fraction, metadata={"help": "fraction of steps each TWD phase lasts (schedule aire)"})
    cycle_gap: float = attrs.field(default=0.05, validator=_fraction, metadata={"help": "fine-tuning fraction between a prune and the next cycle (schedule aire)"})
    alpha_max: float = attrs.field(default=0.5, validator=_fraction, metadata={"help": "final per-step decay factor of the TWD targets, in [0, 1)"})
    epsilon: float = attrs.field(default=1e-3, validator=positive, metadata={"help": "column-L1 threshold below which a neuron is removed"})
    target_params: float | None = attrs.field(default=None, validator=_budget, metadata={"help": "end with at most this fraction of the starting parameters"})
    target_psnr: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive),
        metadata={"help": "quality target in dB (NeRF: test-view PSNR): keep cutting while the PSNR after recovery "
                          "holds it, undo the cut that breaks it, end with the smallest network that held it"})
    target_chamfer: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive),
        metadata={"help": "SDF quality target: the largest Chamfer L1 distance (lower is better) the smallest kept "
                          "network must hold, measured after each cut's recovery (see docs/guide/targets.md)"})
    prune_fraction: float = attrs.field(default=0.2, validator=_fraction, metadata={"help": "K as a fraction of each layer's width when no budget is given"})
    prune_layers: tuple[int, ...] | None = attrs.field(default=None, converter=attrs.converters.optional(tuple), metadata={"help": "sine layers to prune (0 = input frequencies); None = the hidden layers 1..L"})
    densify_k: int | None = attrs.field(default=None, validator=attrs.validators.optional(_non_negative), metadata={"help": "input frequencies added per cycle (0 disables); None = densify_fraction of the input width"})
    densify_fraction: float = attrs.field(default=0.25, validator=_fraction, metadata={"help": "input frequencies added per cycle as a fraction of the current input width, when densify_k is None"})
    lr_rewind: bool = attrs.field(default=True, metadata={"help": "restart the lr decay from the initial lr after each cut (learning-rate rewinding)"})
    compensate: bool = attrs.field(default=False, metadata={"help": "least-squares refit of the kept outgoing columns at each cut"})
    cut_certificate_boxes: int = attrs.field(
        default=1024, validator=_non_negative,
        metadata={"help": "boxes of branch and bound per cut for the certified bound on its effect, recorded in "
                          "history (0: the instant vector Theorem 2 bound only)"})
    criterion: str = attrs.field(default="column-l1", metadata={"help": "pruning criterion plugin"})
    policy: str = attrs.field(default="topk-doubling", metadata={"help": "densification policy plugin"})
    settings: dict[str, Any] = attrs.field(
        factory=dict, converter=lambda v: {str(k).replace("-", "_"): x for k, x in (v or {}).items()},
        metadata={"flag": "--schedule-set", "help": "a setting of the schedule plugin, KEY=VALUE (repeatable; aire: the quality-target mode's target_*)"})

    def __attrs_post_init__(self) -> None:
        if self.kind == AUTO:
            kind = default_kind(self.target_params, self.target_psnr is not None or self.target_chamfer is not None)
            if kind != "aire":
                check_cycle_options(changed_cycle_options(self), kind)
            object.__setattr__(self, "kind", kind)  # attrs' documented way to set a field of a frozen instance here
        used = self.warmup + self.cycles * (self.twd_length + self.cycle_gap)
        if self.kind == "aire" and used >= 1.0:
            raise ConfigError(
                f"warmup + cycles * (twd_length + cycle_gap) = {used:.2f} must be < 1 to leave fine-tuning steps"
            )
        if self.target_psnr is not None and self.target_chamfer is not None:
            raise ConfigError("one quality target at a time: target_psnr and target_chamfer were both given")
        if self.prune_layers is not None and any(int(i) < 0 for i in self.prune_layers):
            raise ConfigError(f"prune_layers must be sine-layer indices >= 0, got {self.prune_layers!r}")


#: TrainConfig.precision values; see aire.train.precision
PRECISIONS = ("fp32", "tf32", "bf16")


def _precision(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in PRECISIONS:
        raise ConfigError(f"{attribute.name} must be one of {', '.join(PRECISIONS)}, got {value!r}")


#: optional experiment loggers `log` may name (event plugins; history.jsonl is always written)
LOGGERS = ("tensorboard",)


def _loggers(attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
    unknown = [v for v in value if v not in LOGGERS]
    if unknown:
        raise ConfigError(f"{attribute.name}: unknown logger {', '.join(map(repr, unknown))} (known: {', '.join(LOGGERS)})")


def _export_precision(attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and value not in ("fp16", "bf16", "int8"):
        raise ConfigError(f"{attribute.name} must be one of fp16, bf16, int8, got {value!r}")


@attrs.frozen
class TrainConfig:
    """Optimisation settings shared by every signal."""

    steps: int = attrs.field(default=2000, validator=positive, metadata={"help": "optimizer steps"})
    lr: float = attrs.field(default=5e-4, validator=positive, metadata={"help": "initial Adam learning rate"})
    lr_final: float = attrs.field(default=5e-5, validator=positive,
                                  metadata={"help": "learning rate at the last step (exponential decay)"})
    batch_size: int | None = attrs.field(default=None, validator=attrs.validators.optional(positive), metadata={"help": "samples per step; None = full batch"})
    eval_every: int = attrs.field(default=100, validator=positive, metadata={"help": "steps between evaluations"})
    seed: int = attrs.field(default=0, validator=_non_negative, metadata={"help": "seed of initialisation and sampling"})
    device: str = attrs.field(default="cpu", validator=lambda i, a, v: _device(a, v),
                              metadata={"help": "torch device: cpu, cuda, cuda:1, ..."})
    progress: bool = attrs.field(default=True, metadata={"flag": "--quiet", "const": False, "help": "no progress bar"})
    checkpoint_every: int | None = attrs.field(default=None, validator=attrs.validators.optional(positive), metadata={"help": "write a checkpoint every N steps (needs a checkpoint folder)"})
    guard: bool = attrs.field(default=True, metadata={"help": "divergence guard: roll back and lower the lr on NaN/Inf or exploding loss"})
    guard_factor: float = attrs.field(default=1e3, validator=positive, metadata={"help": "a loss this many times the best seen counts as divergence"})
    guard_max_failures: int = attrs.field(default=3, validator=_non_negative, metadata={"help": "rollbacks before the fit stops with the last good model"})
    guard_lr_factor: float = attrs.field(default=0.5, validator=positive, metadata={"help": "lr multiplier after each rollback"})
    guard_check_every: int = attrs.field(default=10, validator=positive, metadata={"help": "steps between on-device loss checks (no sync; the verdict is read at the next eval boundary)"})
    precision: str = attrs.field(default="fp32", validator=_precision, metadata={"choices": PRECISIONS, "help": "fp32 (exact), tf32 (CUDA tensor-core matmuls) or bf16 (autocast of the hidden layers)"})
    compile: bool = attrs.field(default=False, metadata={"help": "torch.compile the training forward where it pays over the steps left (timed eager steps, one compilation that survives surgery; see docs/guide/compile.md)"})
    log: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=lambda i, a, v: _loggers(a, v),
                                       metadata={"help": "optional experiment loggers besides history.jsonl: tensorboard (needs aire-inr[tensorboard])",
                                                 "metavar": "LOGGER"})
    export_precision: str | None = attrs.field(
        default=None, validator=lambda i, a, v: _export_precision(a, v),
        metadata={"choices": ("fp16", "bf16", "int8"),
                  "help": "also write a compact copy model.<precision>.safetensors (fp16, bf16, or int8 per-row "
                          "symmetric) and report its quality and size in metrics.json"})


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config object."""
    return attrs.asdict(config, value_serializer=lambda _, __, v: list(v) if isinstance(v, tuple) else v)
