"""One specification of a whole fit: signal, network, training, schedule, components, outputs.

A `FitSpec` is built by layering partial specifications (nested dicts) in this order, later
winning: the attrs defaults, the signal's ``default`` preset, a named preset (``--preset``), a
configuration file (``--config``), then the options given on the command line. The resolved
specification is written into every run folder as ``config.json``; ``aire fit --config FILE``
replays it. Every field carries its help text in attrs metadata, from which aire.options generates
the ``aire fit`` options.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Mapping

import attrs

from aire.config import (AUTO, CYCLE_OPTIONS, ConfigError, ScheduleConfig, TrainConfig, check_cycle_options, check_widths,
                         default_kind, positive, to_dict, to_int_tuple)
from aire.errors import InputError
from aire.presets import preset

#: version of the config.json layout
SPEC_VERSION = 1


def _settings(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"settings must be a table of KEY = VALUE, got {value!r}")
    return {str(k).replace("-", "_"): v for k, v in value.items()}


def _positive_or_none(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None:
        positive(instance, attribute, value)


@attrs.frozen(kw_only=True)
class NetworkSpec:
    """The sinusoidal MLP a fit starts from."""

    widths: tuple[int, ...] = attrs.field(
        default=(256, 256, 256), converter=to_int_tuple, validator=check_widths,
        metadata={"flag": "--hidden", "metavar": "W",
                  "help": "widths of the sine layers, the first being the number of input frequencies; the signal "
                          "adds the output layer (image: its channels, sdf: 1, nerf: 1 density + --set features, "
                          "default 15, so nerf's --hidden 16 16 is reported as [16, 16, 16])"})
    omega0: float = attrs.field(default=30.0, converter=float, validator=_positive_or_none,
                                metadata={"help": "omega_0 of the first sine layer (SIREN's frequency scale)"})
    omega0_hidden: float | None = attrs.field(
        default=None, validator=_positive_or_none, converter=attrs.converters.optional(float),
        metadata={"help": "omega_0 of the hidden sine layers (default: --omega0)"})
    network: str = attrs.field(default="siren", metadata={"help": "network plugin: siren or finer (see `aire plugins`)"})
    encoding: str = attrs.field(default="siren", metadata={"help": "input-layer encoding plugin: siren or lattice"})
    encoding_settings: dict[str, Any] = attrs.field(
        factory=dict, converter=_settings,
        metadata={"flag": "--encoding-set", "help": "a setting of the encoding plugin, KEY=VALUE (repeatable)"})
    #: a trained network to start from instead of a fresh one: {"model": path, "layout": name or None,
    #: "omega0": ..., "omega0_hidden": ...}; see aire.nn.importers.load_start and aire.run.start_network
    start: dict[str, Any] = attrs.field(
        factory=dict, converter=_settings,
        metadata={"flag": "--start", "help": "start from a trained network, model=PATH [layout=NAME] (repeatable "
                                             "KEY=VALUE; `aire compress` sets it and the matching --hidden)"})


@attrs.frozen(kw_only=True)
class ComponentSpec:
    """Plugins of the schedule and the maths backend, and their settings."""

    criterion_settings: dict[str, Any] = attrs.field(
        factory=dict, converter=_settings,
        metadata={"flag": "--criterion-set", "help": "a setting of the pruning criterion plugin, KEY=VALUE (repeatable)"})
    policy_settings: dict[str, Any] = attrs.field(
        factory=dict, converter=_settings,
        metadata={"flag": "--policy-set", "help": "a setting of the densification policy plugin, KEY=VALUE (repeatable)"})
    backend: str = attrs.field(default="auto", metadata={"help": "backend for spectra and Bessel maths: auto, torch, cupy"})
    backend_settings: dict[str, Any] = attrs.field(
        factory=dict, converter=_settings,
        metadata={"flag": "--backend-set", "help": "a setting of the backend plugin, KEY=VALUE (repeatable)"})


@attrs.frozen(kw_only=True)
class FitSpec:
    """Everything that decides a fit (the output folder aside)."""

    signal: str = attrs.field(metadata={"help": "signal plugin: image, sdf, nerf (more with plugins; see `aire plugins`)"})
    path: str = attrs.field(converter=str, metadata={"help": "input file or folder"})
    preset: str | None = attrs.field(default=None, metadata={"help": "named settings the spec started from"})
    signal_settings: dict[str, Any] = attrs.field(factory=dict, converter=_settings)
    network: NetworkSpec = attrs.field(factory=NetworkSpec)
    train: TrainConfig = attrs.field(factory=TrainConfig)
    schedule: ScheduleConfig = attrs.field(factory=ScheduleConfig)
    components: ComponentSpec = attrs.field(factory=ComponentSpec)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (what config.json holds, with a version)."""
        return {"spec_version": SPEC_VERSION, **to_dict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "spec") -> "FitSpec":
        """Build and validate; unknown keys and bad values fail naming the key and `where`."""
        data = {k: v for k, v in data.items() if k != "spec_version"}
        sections = {"network": NetworkSpec, "train": TrainConfig, "schedule": ScheduleConfig,
                    "components": ComponentSpec}
        _check_fields(cls, {k: v for k, v in data.items() if k not in sections}, where)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}: {key} must be a table, got {value!r}", key_path=(key,),
                                      detail=f"{key} must be a table, got {value!r}")
                _check_fields(sections[key], value, f"{where}.{key}", (key,))
                try:
                    if key == "schedule":
                        _check_auto_schedule(value)
                    kwargs[key] = sections[key](**value)
                except (TypeError, ValueError) as exc:
                    if isinstance(exc, ConfigError) and exc.standalone:
                        raise
                    field = str(exc).split(" ", 1)[0]  # the validators' messages start with the field's name
                    known = {f.name for f in attrs.fields(sections[key])}
                    raise ConfigError(f"{where}.{key}: {exc}", key_path=(key, field) if field in known else None,
                                      detail=str(exc)) from None
            else:
                kwargs[key] = value
        for required in ("signal", "path"):
            if kwargs.get(required) in (None, ""):
                raise ConfigError(f"{where}: {required} is missing", key_path=(required,), detail=f"{required} is missing")
        return cls(**kwargs)


def _check_auto_schedule(schedule: Mapping[str, Any]) -> None:
    """Refuse cycle options given (by a preset, a config file or the command line, even at their default
    values) while the default schedule kind resolves to one that ignores them (aire.config.default_kind)."""
    if schedule.get("kind", AUTO) != AUTO:
        return
    quality = any(schedule.get(name) is not None for name in ("target_psnr", "target_chamfer"))
    kind = default_kind(schedule.get("target_params"), quality)
    if kind != "aire":
        check_cycle_options([name for name in CYCLE_OPTIONS if name in schedule], kind)


def _check_fields(cls: type, data: Mapping[str, Any], where: str, section: tuple[str, ...] = ()) -> None:
    """Unknown keys (with a did-you-mean) and values of the wrong type fail naming the key; the
    ConfigError carries the key's place (`section` + key) so the CLI can name the config file and key."""
    import difflib
    import typing

    from aire.settings import conforms, type_name

    hints = typing.get_type_hints(cls)
    known = [f.name for f in attrs.fields(cls)]
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            unknown = f"unknown key{hint} (known: {', '.join(known)})"
            raise ConfigError(f"{where}: unknown key {key!r}{hint} (known: {', '.join(known)})",
                              key_path=(*section, str(key)), detail=f"{key}: {unknown}")
        if not conforms(value, hints[key]):
            detail = f"{key} must be {type_name(hints[key])}, got {value!r}"
            raise ConfigError(f"{where}.{detail}", key_path=(*section, key), detail=detail)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dict merge: tables merge key by key, any other value of `override` replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_config(path: str | Path) -> dict[str, Any]:
    """A config.json (or TOML) file as a nested dict; one-line InputError when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(path.read_text())
        else:
            data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(f"config {path}: expected a table of settings")
    version = data.get("spec_version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise InputError(f"config {path} has spec_version {version!r}; this aire reads {SPEC_VERSION}")
    return data


def resolve(overrides: Mapping[str, Any], *, config: Mapping[str, Any] | None = None) -> FitSpec:
    """The resolved specification: defaults < signal default preset < named preset < `config` <
    `overrides` (see the module docstring). `overrides` and `config` are partial nested dicts."""
    layered = merge(config or {}, overrides)
    signal, name = layered.get("signal"), layered.get("preset")
    if not signal:
        raise InputError("fit needs a SIGNAL (image, sdf, nerf, ...)")
    base: dict[str, Any] = {}
    if config is None:  # a config file is already resolved: presets were applied when it was written
        base = merge(preset(signal, "default"), preset(signal, name) if name else {})
        asked = layered.get("schedule")
        if isinstance(asked, Mapping) and asked.get("kind") == "none" and "target_params" not in asked:
            base.get("schedule", {}).pop("target_params", None)  # a preset's budget is for pruning schedules
    return FitSpec.from_dict(merge(base, layered))
