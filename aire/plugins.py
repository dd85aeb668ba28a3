"""Plugin manager over the ``aire`` entry-point group.

Entry points are loaded on first use (not at import of aire), each inside its own try: a plugin
that fails to import, or that implements a hook with no spec, is recorded with its name and
error and skipped, and everything else keeps working.
"""

from __future__ import annotations

import difflib
import os
import sys
from importlib import metadata
from typing import Any

import attrs
import pluggy

from aire import hookspecs

#: component hook -> the kind of thing it provides
KINDS = {
    "aire_add_signals": "signal",
    "aire_add_encodings": "encoding",
    "aire_add_networks": "network",
    "aire_add_pruning_criteria": "criterion",
    "aire_add_densification_policies": "policy",
    "aire_add_backends": "backend",
    "aire_add_schedules": "schedule",
}
_HOOK_OF_KIND = {kind: hook for hook, kind in KINDS.items()}
CORE_DISTRIBUTION = "aire"


class PluginError(RuntimeError):
    """A plugin failed; the message names it."""


class UnknownComponentError(LookupError):
    """A name that no loaded plugin provides; the message suggests close names."""


@attrs.define
class PluginRecord:
    """One entry point and what became of it."""

    name: str
    distribution: str
    value: str
    status: str  # "loaded", "error" or "disabled"
    error: str = ""
    kinds: list[str] = attrs.field(factory=list)


@attrs.define
class Component:
    """One named factory and the plugin that provides it."""

    name: str
    kind: str
    plugin: str
    distribution: str
    factory: Any


class PluginRegistry:
    """Holds the pluggy manager, the load report and the components plugins provide."""

    def __init__(self, entry_points: list[metadata.EntryPoint] | None = None) -> None:
        self.pm = pluggy.PluginManager("aire")
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self._components: dict[str, dict[str, Component]] | None = None
        if os.environ.get("AIRE_TRACE_HOOKS"):
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            self.pm.enable_tracing()
        eps = entry_points if entry_points is not None else list(metadata.entry_points(group="aire"))
        for ep in eps:
            self._load(ep)

    # ----------------------------------------------------------------- loading
    def _load(self, ep: metadata.EntryPoint) -> None:
        dist = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
        record = PluginRecord(name=ep.name, distribution=dist, value=ep.value, status="loaded")
        self.records.append(record)
        disabled = {s.strip() for s in os.environ.get("AIRE_DISABLE_PLUGINS", "").split(",") if s.strip()}
        if ep.name in disabled or ("external" in disabled and dist != CORE_DISTRIBUTION):
            record.status = "disabled"
            return
        if self.pm.has_plugin(ep.name):
            record.status, record.error = "error", f"duplicate plugin name {ep.name!r}"
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # any import failure is the plugin's, not ours
            record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
            return
        try:
            self.pm.register(plugin, name=ep.name)
        except Exception as exc:
            record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
            return
        hooks = self._hooks_of(ep.name)
        unknown = [h for h in hooks if h not in _spec_names()]
        if unknown:
            self.pm.unregister(name=ep.name)
            record.status = "error"
            record.error = f"hookimpl {', '.join(sorted(unknown))} has no matching hookspec (API {hookspecs.API_VERSION})"
            return
        record.kinds = sorted({KINDS[h] for h in hooks if h in KINDS})

    def _hooks_of(self, name: str) -> list[str]:
        """Names of the hooks plugin `name` implements (with or without a spec)."""
        return [caller.name for caller in self.pm.get_hookcallers(self.pm.get_plugin(name)) or []]

    # -------------------------------------------------------------- components
    def components(self, kind: str) -> dict[str, Component]:
        """Every component of a kind ('signal', 'criterion', ...) by name."""
        if kind not in _HOOK_OF_KIND:
            raise ValueError(f"unknown component kind {kind!r}; kinds: {sorted(_HOOK_OF_KIND)}")
        if self._components is None:
            self._components = self._collect()
        return self._components[kind]

    def _collect(self) -> dict[str, dict[str, Component]]:
        found: dict[str, dict[str, Component]] = {k: {} for k in _HOOK_OF_KIND}
        dist_of = {r.name: r.distribution for r in self.records}
        for hook_name, kind in KINDS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                try:
                    provided = impl.function() or {}
                except Exception as exc:
                    self._fail(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}")
                    continue
                for name, factory in provided.items():
                    found[kind].setdefault(
                        name, Component(name, kind, impl.plugin_name, dist_of.get(impl.plugin_name, "?"), factory)
                    )
        return found

    def _fail(self, plugin_name: str, error: str) -> None:
        for record in self.records:
            if record.name == plugin_name:
                record.status, record.error = "error", error

    def create(self, kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the component `name` of `kind`, or fail with a did-you-mean message."""
        available = self.components(kind)
        if name not in available:
            close = difflib.get_close_matches(name, list(available), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownComponentError(f"unknown {kind} {name!r}{hint} (available: {', '.join(sorted(available)) or 'none'})")
        component = available[name]
        try:
            return component.factory(*args, **kwargs)
        except TypeError as exc:  # wrong settings for this factory: say whose
            raise TypeError(f"{kind} {name!r} (plugin {component.plugin}): {exc}") from exc

    # ------------------------------------------------------------------ events
    def has_impls(self, hook_name: str) -> bool:
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    def emit(self, hook_name: str, **kwargs: Any) -> None:
        """Call an event hook; an exception is re-raised as PluginError naming the plugin."""
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # pluggy's LIFO call order
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}") from exc

    def report(self) -> list[dict[str, Any]]:
        """One row per component plus one per plugin that failed or was disabled."""
        rows = []
        for kind in _HOOK_OF_KIND:
            for comp in self.components(kind).values():
                rows.append({"name": comp.name, "kind": kind, "plugin": comp.plugin,
                             "distribution": comp.distribution, "status": "ok", "error": ""})
        for record in self.records:
            if record.status != "loaded":
                rows.append({"name": record.name, "kind": ",".join(record.kinds) or "?", "plugin": record.name,
                             "distribution": record.distribution, "status": record.status, "error": record.error})
        return rows


def _spec_names() -> set[str]:
    return {name for name in dir(hookspecs) if name.startswith("aire_")}


_REGISTRY: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """The process-wide registry, created (and entry points loaded) on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = PluginRegistry()
        if not any(r.distribution == CORE_DISTRIBUTION for r in _REGISTRY.records):
            raise PluginError("aire's own entry points are missing: install the package (pip install -e .)")
    return _REGISTRY


def reset_registry() -> None:
    """Forget the registry so the next use reloads entry points (tests, notebooks)."""
    global _REGISTRY
    _REGISTRY = None


def create(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Shortcut for get_registry().create(...)."""
    return get_registry().create(kind, name, *args, **kwargs)
