"""Helpers that make installed-looking plugin distributions on a private path (no pip, no network)."""

from __future__ import annotations

import textwrap
from importlib import metadata
from pathlib import Path


def fake_distribution(root: Path, name: str, entry_points: str, modules: dict[str, str], version: str = "0.1") -> Path:
    """A minimal installed distribution in `root`: a dist-info folder whose entry_points.txt holds
    `entry_points`, plus the given top-level modules (name -> source). Put `root` on sys.path (or
    PYTHONPATH for a subprocess) to install it."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def core_entry_points() -> list[metadata.EntryPoint]:
    """aire's own entry points (the built-in plugins)."""
    return [ep for ep in metadata.distribution("aire-inr").entry_points if ep.group == "aire"]


def entry_points_at(path: Path) -> list[metadata.EntryPoint]:
    """The `aire` entry points of the distributions installed in `path`."""
    return [ep for dist in metadata.distributions(path=[str(path)]) for ep in dist.entry_points if ep.group == "aire"]
