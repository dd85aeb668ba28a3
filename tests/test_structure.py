"""The package's structure: no module imports another module's private name, and aire's packages
import each other without cycles (the data path runs one way: STYLE.md)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "aire"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports() -> list[tuple[str, str, list[str]]]:
    """(importing module, imported aire module, names) for every import of aire code, at any depth."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "aire":
                found.append((module, node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found += [(module, a.name, []) for a in node.names if a.name.split(".")[0] == "aire"]
    return found


def _unit(module: str) -> str:
    """The structural unit of a module: its subpackage (aire.train), or the module itself at the top."""
    return ".".join(module.split(".")[:2])


def test_no_module_imports_a_private_name_of_another_module():
    private = [(m, t, n) for m, t, names in _imports() for n in names
               if n.startswith("_") and not (n.startswith("__") and n.endswith("__")) and _unit(m) != _unit(t)]
    assert private == []


def test_no_import_cycle_between_aires_packages():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, target, _ in _imports():
        if _unit(module) != _unit(target) and _unit(target) != "aire":
            edges[_unit(module)].add(_unit(target))
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == path[0]:
                cycles.append(path + [nxt])
            elif nxt not in path:
                visit(nxt, path + [nxt])

    for start in sorted(edges):
        visit(start, [start])
    assert cycles == [], cycles[:5]
