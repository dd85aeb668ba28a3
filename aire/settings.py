"""Checking settings against what they configure: keys a factory accepts, values of the declared type.

Settings reach aire from command lines (``--set``, ``--criterion-set``), TOML and JSON files, as
JSON-typed values; each is checked here by name and type before any work starts, so a typo or a
wrong type is one line naming the setting, its type and the valid keys, never a traceback or a
silently ignored value. Ranges are the component's own business (it raises InputError).
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Callable, Mapping

from aire.errors import InputError


def type_name(tp: Any) -> str:
    """A readable name of a type annotation: int, float, list of int, str or null, ..."""
    if tp is inspect.Parameter.empty or tp is Any:
        return "any"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else type_name(a) for a in typing.get_args(tp))
    if origin in (tuple, list, typing.Sequence):
        inner = typing.get_args(tp)
        return f"list of {type_name(inner[0])}" if inner else "list"
    if origin is dict or tp is dict:
        return "table"
    return getattr(tp, "__name__", str(tp))


def conforms(value: Any, tp: Any) -> bool:
    """Whether a JSON-typed value fits the annotation `tp` (ints count as floats; bools as neither)."""
    if tp is inspect.Parameter.empty or tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin in (tuple, list, typing.Sequence) or tp in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        inner = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return all(conforms(v, inner[0]) for v in value) if inner else True
    if origin is dict or tp is dict:
        return isinstance(value, dict)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True  # an annotation we cannot judge (a forward reference): the component checks it


def accepted_settings(factory: Callable[..., Any]) -> dict[str, Any] | None:
    """{keyword: annotation} a factory accepts, or None when it takes **kwargs (anything goes)."""
    try:
        signature = inspect.signature(factory)  # a class: its __init__ without self, or () when it has none
    except (TypeError, ValueError):
        return None
    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except Exception:  # unresolvable forward references: check names only
        hints = {}
    accepted: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if name == "self" or param.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL):
            continue
        accepted[name] = hints.get(name, param.annotation)
    return accepted


def check_settings(what: str, factory: Callable[..., Any], settings: Mapping[str, Any],
                   reserved: tuple[str, ...] = ()) -> None:
    """Raise InputError naming `what` (e.g. "signal 'image'") when a setting is unknown to `factory` or
    of the wrong type; `reserved` names are passed by aire itself and cannot be set."""
    accepted = accepted_settings(factory)
    if accepted is None:
        return
    settable = {k: v for k, v in accepted.items() if k not in reserved}
    valid = ", ".join(f"{k} ({type_name(v)})" for k, v in sorted(settable.items())) or "none"
    for key, value in settings.items():
        if key not in settable:
            raise InputError(f"{what} has no setting {key!r}; valid settings: {valid}")
        if not conforms(value, settable[key]):
            raise InputError(f"{what} setting {key} must be {type_name(settable[key])}, got {value!r}")


#: keywords aire passes itself, per component kind: they are not settings a user can give
RESERVED = {"signal": ("path", "image", "mesh"), "schedule": ("config", "criterion", "policy")}


def settings_table(factory: Callable[..., Any], reserved: tuple[str, ...] = ()) -> list[tuple[str, str, Any]] | None:
    """[(name, type name, default)] of the keyword settings `factory` accepts, from its signature (as
    check_settings reads it), sorted by name; a setting without a default has `inspect.Parameter.empty`.
    None when the factory takes **kwargs (its settings cannot be listed)."""
    accepted = accepted_settings(factory)
    if accepted is None:
        return None
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    return [(name, type_name(tp), params[name].default if name in params else inspect.Parameter.empty)
            for name, tp in sorted(accepted.items()) if name not in reserved]


def describe_settings(factory: Callable[..., Any], reserved: tuple[str, ...] = (),
                      preset: Mapping[str, Any] | None = None, indent: str = "  ") -> str:
    """One line per setting of `factory`: ``name (type, default X)``; `preset` ({setting: value}, a
    signal's default preset) marks the values `aire fit` starts from instead of the signature's default."""
    rows = settings_table(factory, reserved)
    if rows is None:
        return f"{indent}(any KEY=VALUE: the component takes **kwargs and checks its settings itself)"
    if not rows:
        return f"{indent}(none)"
    preset = preset or {}
    lines = []
    for name, tname, default in rows:
        if name in preset and preset[name] != default:
            note = f"default {_value(preset[name])} from the preset; {_value(default)} otherwise" \
                if default is not inspect.Parameter.empty else f"default {_value(preset[name])} from the preset"
        else:
            note = "required" if default is inspect.Parameter.empty else f"default {_value(default)}"
        lines.append(f"{indent}{name} ({tname}, {note})")
    return "\n".join(lines)


def _value(value: Any) -> str:
    import json

    try:
        return json.dumps(value)  # as --set would write it: true, null, [1, 2], "apply"
    except (TypeError, ValueError):
        return repr(value)
