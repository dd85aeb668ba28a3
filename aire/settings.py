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
