"""The `aire fit` options, generated from the fit specification's attrs metadata.

A small generator of our own rather than tyro or jsonargparse: those derive flag names from the
nesting (``--train.steps``), while aire's flags are flat and field-standard (``--steps``,
``--hidden``, ``--omega0``); here each field's metadata gives its help text and, where it differs
from the field name, its flag. Every option's value lands at its place in a nested dict of
overrides (``{"train": {"steps": 500}}``) that aire.spec layers over presets and config files.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import attrs

from aire.config import ConfigError, ScheduleConfig, TrainConfig
from aire.errors import InputError
from aire.spec import ComponentSpec, FitSpec, NetworkSpec

#: (section of FitSpec, its class, argparse group title); "" is the top level
SECTIONS: tuple[tuple[str, type, str], ...] = (
    ("network", NetworkSpec, "network"),
    ("train", TrainConfig, "training"),
    ("schedule", ScheduleConfig, "AIRe schedule (fractions are of --steps)"),
    ("components", ComponentSpec, "plugins and their settings"),
)


@attrs.frozen
class Option:
    """One generated option: its flag, where its value goes, and how argparse reads it."""

    key: str  # flat name: hidden, steps, target_params (fit-many's TOML keys)
    path: tuple[str, ...]  # place in the nested spec: ("train", "steps")
    flag: str
    kwargs: dict[str, Any]
    annotation: Any = Any  # the field's type, for values that come from files (TOML, JSON)

    def check(self, value: Any, where: str) -> None:
        """InputError naming `where` and the key when a value from a file is not of the field's type."""
        from aire.settings import conforms, type_name

        if not conforms(value, self.annotation):
            raise InputError(f"{where}: {self.key} must be {type_name(self.annotation)}, got {value!r}")


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None was allowed)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else typing.Any), True
    return tp, False


def _type_name(tp: Any) -> str:
    tp, optional = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        name = f"list of {getattr(inner, '__name__', 'values')}"
    elif origin is dict or tp is dict:
        name = "table"
    else:
        name = getattr(tp, "__name__", str(tp))
    return name + (" or null" if optional else "")


#: metavar of a value by its type, when the field's metadata names none: what the value is, not where it goes
METAVARS = {int: "N", float: "FLOAT", str: "NAME"}


def preset_defaults(path: tuple[str, ...]) -> dict[str, Any]:
    """{signal: value} of the option at `path` (``("train", "batch_size")``) that each signal's `default`
    preset sets (aire.presets), in the presets' order; signals whose preset leaves it alone are absent."""
    from aire.presets import default_presets

    found: dict[str, Any] = {}
    for signal, table in default_presets().items():
        node: Any = table
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            found[signal] = node
    return found


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value) if value else "[]"
    return "null" if value is None else str(value)


def default_note(field: attrs.Attribute, path: tuple[str, ...]) -> str:
    """The help text's default: the field's own, or where a signal's default preset gives another, the
    value per signal (``(default 16384 for image, 8192 for sdf, 512 for nerf: the signal's preset)``);
    "" when there is none to show."""
    default = field.default if not isinstance(field.default, attrs.Factory) else None  # type: ignore[arg-type]
    has_default = default is not None and default is not attrs.NOTHING and default not in ((), [], {})
    groups: dict[str, list[str]] = {}  # shown value -> signals whose preset gives it
    for signal, value in preset_defaults(path).items():
        if not (has_default and value == default):
            groups.setdefault(_show(value), []).append(signal)
    if not groups:
        return f" (default {_show(default)})" if has_default else ""
    per = "; ".join(f"{value} for {'/'.join(signals)}" for value, signals in groups.items())
    rest = f"; else {_show(default)}" if has_default else ""
    return f" (default {per}{rest}: the signal's preset)"


def _argparse_kwargs(field: attrs.Attribute, tp: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    meta = field.metadata
    help_text = meta.get("help", "")
    if "const" in meta:  # a switch that stores a fixed value (--quiet stores progress=False): its field default
        # is the opposite of what the switch does, so it is no help
        return {"help": help_text, "default": argparse.SUPPRESS, "action": "store_const", "const": meta["const"]}
    help_text += default_note(field, path)
    kwargs: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS}
    base, _ = _unwrap(tp)
    origin = typing.get_origin(base)
    if base is bool:
        return {**kwargs, "action": argparse.BooleanOptionalAction}
    if origin is dict or base is dict:
        return {**kwargs, "action": "append", "metavar": "KEY=VALUE", "type": parse_setting}
    if origin in (tuple, list):
        inner = (typing.get_args(base) or (str,))[0]
        return {**kwargs, "nargs": "+", "type": _number(inner), "metavar": meta.get("metavar", "N")}
    if "choices" in meta:  # argparse shows them as {a,b,c}
        return {**kwargs, "choices": meta["choices"], "type": _number(base), "metavar": meta.get("metavar")}
    return {**kwargs, "type": _number(base), "metavar": meta.get("metavar", METAVARS.get(base, "VALUE"))}


def _number(tp: Any) -> Any:
    if tp is int:
        return _strict_int
    if tp is float:
        return float
    return str


def _strict_int(text: str) -> int:
    """argparse type: an integer, refusing 1.5 rather than truncating it."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def parse_setting(text: str) -> tuple[str, Any]:
    """KEY=VALUE; the value is read as JSON when it parses (numbers, true/false, lists), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip().replace("-", "_"), parsed


def _preset_names() -> str:
    """The presets each signal has besides its default, e.g. ``image: gpu, paper; sdf: paper``."""
    from aire.presets import default_presets, presets

    named = {signal: [n for n in presets(signal) if n != "default"] for signal in sorted(default_presets())}
    return "; ".join(f"{signal}: {', '.join(names)}" for signal, names in named.items() if names) or "none"


def generated_options() -> list[Option]:
    """Every fit option, from the specification classes (fields with help metadata)."""
    options = [
        Option("preset", ("preset",), "--preset",
               {"help": f"named settings of the signal ({_preset_names()}); explicit options still win "
                        "(default: the signal's `default` preset, whose values `aire fit SIGNAL --help` shows)",
                "metavar": "NAME", "default": argparse.SUPPRESS}, str),
        Option("signal_settings", ("signal_settings",), "--set",
               {"help": "a setting of the signal plugin, e.g. --set samples=200000 (repeatable); "
                        "`aire fit SIGNAL --help` lists the signal's settings",
                "action": "append", "metavar": "KEY=VALUE", "type": parse_setting, "default": argparse.SUPPRESS}, dict),
        Option("size", ("signal_settings", "size"), "--size",
               {"help": "image, nerf: resize so the longer side has this many pixels (= --set size=N)",
                "type": _strict_int, "metavar": "N", "default": argparse.SUPPRESS}, int),
    ]
    for section, cls, _title in SECTIONS:
        hints = typing.get_type_hints(cls)
        for field in attrs.fields(cls):
            if "help" not in field.metadata:
                continue
            flag = field.metadata.get("flag", "--" + field.name.replace("_", "-"))
            key = flag.lstrip("-").replace("-", "_")
            options.append(Option(key, (section, field.name), flag,
                                  _argparse_kwargs(field, hints[field.name], (section, field.name)), hints[field.name]))
    return options


def add_fit_options(parser: argparse.ArgumentParser, exclude: frozenset[str] = frozenset()) -> None:
    """Add the generated options to `parser`, grouped by section; `exclude` lists option keys to leave out."""
    groups: dict[str, Any] = {"": parser}
    titles = {section: title for section, _, title in SECTIONS}
    for option in generated_options():
        if option.key in exclude:
            continue
        section = option.path[0] if option.path[0] in titles else ""
        if section not in groups:
            groups[section] = parser.add_argument_group(titles[section])
        groups[section].add_argument(option.flag, dest="spec." + option.key, **option.kwargs)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """{option key: value} of the generated options given on the command line."""
    return {name[len("spec."):]: value for name, value in vars(args).items() if name.startswith("spec.")}


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The nested spec overrides of the options given on the command line (absent ones are absent)."""
    return overrides_from_options(given_options(args))


def overrides_from_options(values: Mapping[str, Any], by_key: Mapping[str, Option] | None = None,
                           where: str = "option") -> dict[str, Any]:
    """Nested overrides from flat option names (``{"steps": 500, "hidden": [64, 64]}``), as fit-many's
    TOML [defaults] and grids give them; unknown names fail with a did-you-mean."""
    import difflib

    by_key = by_key or {o.key: o for o in generated_options()}
    nested: dict[str, Any] = {}
    for key, value in values.items():
        option = by_key.get(key)
        if option is None:
            close = difflib.get_close_matches(key, list(by_key), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{where}: {key!r} is not an `aire fit` option{hint}")
        if option.kwargs.get("type") is parse_setting and isinstance(value, list):
            value = dict(value)  # [(key, value), ...] from repeated --set
        *parents, leaf = option.path
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        if isinstance(value, dict) and isinstance(target.get(leaf), dict):
            target[leaf].update(value)
        else:
            target[leaf] = value
    return nested


def option_help() -> Iterator[tuple[str, str]]:
    """(flag, help) of every generated option, for docs."""
    for option in generated_options():
        yield option.flag, option.kwargs.get("help", "")


def describe_type(cls: type, name: str) -> str:
    """Readable type of field `name` of an attrs class (for error messages)."""
    return _type_name(typing.get_type_hints(cls)[name])


__all__ = ["Option", "add_fit_options", "generated_options", "overrides_from_args", "overrides_from_options",
           "option_help", "describe_type", "FitSpec"]


@contextmanager
def flags_in_errors(args: argparse.Namespace, config: Path | str | None = None) -> Iterator[None]:
    """Turn a :class:`~aire.config.ConfigError` about a field into an InputError naming where the user
    gave the value: the flag they typed (``--target-params must lie in (0, 1], got 1.5``), else the
    config file and key (``run/config.json: schedule.target_params ...``); other errors pass unchanged."""
    try:
        yield
    except ConfigError as exc:
        path, detail = exc.key_path, exc.detail
        if not path or not detail:
            raise
        typed = {o.path: o.flag for o in generated_options() if "spec." + o.key in vars(args)}
        if path in typed:
            raise InputError(typed[path] + detail[len(path[-1]):]) from None
        if config is not None:
            raise InputError(f"{config}: {'.'.join(path)}{detail[len(path[-1]):]}") from None
        raise

