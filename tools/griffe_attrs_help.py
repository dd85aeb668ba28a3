"""A griffe extension for the docs' API reference: attrs fields documented by their `help` metadata.

aire's configuration classes (aire.config, aire.spec) declare each field as
``name: type = attrs.field(default=..., metadata={"help": "..."})``; the help text is what
``aire fit --help`` prints. Read statically, such a field has no docstring and its value is the whole
``attrs.field(...)`` call. This extension gives it the help text as its docstring and its default (or
``factory()``) as its value, so the reference shows ``steps: int = 2000`` and "optimizer steps".
Loaded by mkdocs.yml (mkdocstrings' python handler, ``extensions``).
"""

from __future__ import annotations

import ast
from typing import Any

import griffe

FIELD_CALLS = {"attrs.field", "attr.ib", "attr.field", "field"}


def help_text(call: ast.Call) -> str | None:
    """The constant string under the "help" key of the call's `metadata={...}` argument, if any."""
    for keyword in call.keywords:
        if keyword.arg == "metadata" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values):
                if (isinstance(key, ast.Constant) and key.value == "help"
                        and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                    return value.value
    return None


def default_text(call: ast.Call) -> str | None:
    """The source of the `default=` argument, or `factory()` for `factory=factory`."""
    for keyword in call.keywords:
        if keyword.arg == "default":
            return ast.unparse(keyword.value)
        if keyword.arg == "factory":
            return f"{ast.unparse(keyword.value)}()"
    return None


class AttrsHelp(griffe.Extension):
    """Set the docstring and value of attributes declared with `attrs.field(...)`."""

    def on_attribute_instance(self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute,
                              **kwargs: Any) -> None:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.value, ast.Call):
            return
        if ast.unparse(node.value.func) not in FIELD_CALLS:
            return
        text = help_text(node.value)
        if text and attr.docstring is None:
            attr.docstring = griffe.Docstring(text, parent=attr)
        value = default_text(node.value)
        attr.value = value
