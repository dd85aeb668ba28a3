"""Plugin manager over the ``aire`` entry-point group (the hook API is `aire.hookspecs`).

Entry points are loaded on first use (not at import of aire), each inside its own try: a plugin
that fails to import, that implements a hook with no spec, or whose component hook raises, is
recorded with its name and error and left out, and everything else keeps working (nerfstudio's
lesson: one broken plugin must not kill every command).

Every hook call goes through pluggy's hook caller, so hook wrappers, ``tryfirst``/``trylast``,
``firstresult`` and hook-call monitoring (``AIRE_TRACE_HOOKS=1``) apply to all of them. Component
names are never resolved silently: a name two plugins provide is refused until the caller writes
``dist:name``.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import os
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata
from typing import Any

import attrs
import pluggy

from aire import hookspecs
from aire.config import ConfigError
from aire.errors import InputError

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
CORE_DISTRIBUTION = "aire-inr"  # the distribution name (the import name and CLI are `aire`)
#: columns of a history row that are not metrics: an aire_evaluate result may not use them
HISTORY_COLUMNS = ("step", "loss", "params", "seconds")
#: the environment variables of the plugin system (documented in aire.hookspecs and docs/plugins.md)
DISABLE_ENV = "AIRE_DISABLE_PLUGINS"
TRACE_ENV = "AIRE_TRACE_HOOKS"


class PluginError(RuntimeError):
    """Code inside a plugin failed (a bug, not a user error). The message names the plugin and the
    hook; the plugin's own exception is chained as ``__cause__`` with its traceback."""

    def __init__(self, message: str, *, plugin: str | None = None, hook: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.hook = hook


class ComponentError(LookupError):
    """A component name that cannot be used as written, or no plugins at all (a user or
    installation error: the CLI prints it as one line)."""


class UnknownComponentError(ComponentError):
    """A name that no loaded plugin provides; the message suggests close names."""


class AmbiguousComponentError(ComponentError):
    """A name that several plugins provide; the message names them and the ``dist:name`` that selects each."""


@attrs.define
class PluginRecord:
    """One plugin (an entry point, or an object registered at run time) and what became of it."""

    name: str
    distribution: str
    version: str
    value: str
    status: str  # "loaded", "error" or "disabled"
    error: str = ""
    #: hooks it implements, and those among them it wraps (wrapper=True or hookwrapper=True)
    hooks: list[str] = attrs.field(factory=list)
    wrappers: list[str] = attrs.field(factory=list)
    #: module prefix its code lives under (to find it in a traceback)
    module: str = ""


@attrs.define
class Component:
    """One named factory and the plugin that provides it."""

    name: str
    kind: str
    plugin: str
    distribution: str
    factory: Any

    @property
    def selector(self) -> str:
        """``dist:name``, the explicit name that selects this component when its name clashes."""
        return f"{self.distribution}:{self.name}"


@attrs.define
class Clash:
    """A component name provided by more than one plugin."""

    kind: str
    name: str
    providers: list[Component]

    def selectors(self) -> list[str]:
        """The explicit names that pick each provider: ``dist:name``, or ``plugin:name`` when one
        distribution provides the name twice."""
        dists = [_normalise(c.distribution) for c in self.providers]
        return [c.selector if dists.count(_normalise(c.distribution)) == 1 else f"{c.plugin}:{c.name}"
                for c in self.providers]

    def message(self) -> str:
        who = " and ".join(f"{c.distribution} (plugin {c.plugin})" for c in self.providers)
        return f"{self.kind} {self.name!r} is provided by {who}; write {' or '.join(self.selectors())} to choose"


def disabled_names(value: str | None = None) -> set[str]:
    """The entry-point names ``AIRE_DISABLE_PLUGINS`` (comma-separated) blocks; ``external`` stands
    for every entry point not shipped with aire."""
    value = os.environ.get(DISABLE_ENV, "") if value is None else value
    return {name.strip() for name in value.split(",") if name.strip()}


class PluginRegistry:
    """Holds the pluggy manager, the load report and the components plugins provide."""

    def __init__(self, entry_points: Iterable[metadata.EntryPoint] | None = None) -> None:
        self.pm = pluggy.PluginManager("aire")
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self._tables: dict[str, dict[str, list[Component]]] | None = None
        self._tables_key: tuple[int, ...] = ()
        self._lock = threading.RLock()  # evaluate_extra swaps implementations for recorders while it calls
        disabled = disabled_names()
        self._block_external = "external" in disabled
        for name in sorted(disabled - {"external"}):
            self.pm.set_blocked(name)
        if os.environ.get(TRACE_ENV, "") not in ("", "0"):
            self.pm.add_hookcall_monitoring(*hook_tracer(sys.stderr.write))
        eps = entry_points if entry_points is not None else metadata.entry_points(group="aire")
        for ep in eps:
            self._load(ep)

    # ----------------------------------------------------------------- loading
    def _load(self, ep: metadata.EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        record = PluginRecord(name=ep.name, distribution=dist.name if dist is not None else "?",
                              version=dist.version if dist is not None else "", value=ep.value, status="loaded")
        self.records.append(record)
        if self._block_external and _normalise(record.distribution) != CORE_DISTRIBUTION:
            self.pm.set_blocked(ep.name)
        if self.pm.is_blocked(ep.name):
            record.status = "disabled"
            return
        if self.pm.has_plugin(ep.name):
            owner = next((r.distribution for r in self.records if r.name == ep.name and r.status == "loaded"), "?")
            record.status = "error"
            record.error = f"plugin name {ep.name!r} is already taken by distribution {owner}"
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # any import failure is the plugin's, not ours
            record.status, record.error = "error", _one_line(exc)
            return
        try:
            self.pm.register(plugin, name=ep.name)
        except Exception as exc:  # e.g. pluggy.PluginValidationError: an argument the spec does not have
            record.status, record.error = "error", _one_line(exc)
            return
        unknown = sorted(h for h in self._hooks_of(plugin)[0] if h not in spec_names())
        if unknown:
            self.pm.unregister(name=ep.name)
            record.status = "error"
            record.error = f"hookimpl {', '.join(unknown)} has no matching hookspec (API {hookspecs.API_VERSION})"
            return
        record.module = _module_prefix(plugin, third_party=_normalise(record.distribution) != CORE_DISTRIBUTION)
        record.hooks, record.wrappers = self._hooks_of(plugin)

    def _hooks_of(self, plugin: Any) -> tuple[list[str], list[str]]:
        """(hooks `plugin` implements, those it wraps), sorted names, spec'd or not."""
        hooks, wrappers = set(), set()
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    hooks.add(caller.name)
                    if impl.wrapper or impl.hookwrapper:
                        wrappers.add(caller.name)
        return sorted(hooks), sorted(wrappers)

    def _sync_records(self) -> None:
        """Add a record for every plugin registered on `pm` directly (tests, notebooks)."""
        known = {r.name for r in self.records}
        for name, plugin in self.pm.list_name_plugin():
            if plugin is not None and name not in known:
                hooks, wrappers = self._hooks_of(plugin)
                self.records.append(PluginRecord(name=name, distribution="-", version="", value=_describe(plugin),
                                                 status="loaded", hooks=hooks, wrappers=wrappers,
                                                 module=_module_prefix(plugin, third_party=False)))

    def record(self, plugin: str) -> PluginRecord | None:
        """The record of the plugin registered (or refused) under this name."""
        self._sync_records()
        return next((r for r in self.records if r.name == plugin), None)

    def _fail(self, plugin: str, error: str) -> None:
        """Take a plugin out (unregister it) and record why."""
        record = self.record(plugin)
        if self.pm.has_plugin(plugin):
            self.pm.unregister(name=plugin)
        if record is not None:
            record.status, record.error = "error", error

    # -------------------------------------------------------------- components
    def _table(self, kind: str) -> dict[str, list[Component]]:
        if kind not in KINDS.values():
            raise ValueError(f"unknown component kind {kind!r}; kinds: {', '.join(sorted(KINDS.values()))}")
        key = tuple(id(p) for _, p in self.pm.list_name_plugin())
        if self._tables is None or key != self._tables_key:  # plugins came or went since the last look
            self._tables = self._collect()
            self._tables_key = tuple(id(p) for _, p in self.pm.list_name_plugin())
        return self._tables[kind]

    def _collect(self) -> dict[str, dict[str, list[Component]]]:
        """Call every component hook, one plugin at a time (so a failure is that plugin's alone, and
        each result is known to be its own), through pluggy's subset hook callers."""
        self._sync_records()
        dist_of = {r.name: r.distribution for r in self.records}
        provided: list[Component] = []
        failed: dict[str, str] = {}
        for hook_name, kind in KINDS.items():
            impls = [i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if not (i.wrapper or i.hookwrapper)]
            for impl in impls:
                if impl.plugin_name in failed:
                    continue
                others = [i.plugin for i in impls if i.plugin is not impl.plugin]
                try:
                    results = self.pm.subset_hook_caller(hook_name, remove_plugins=others)()
                except Exception as exc:
                    failed[impl.plugin_name] = f"{hook_name} raised {_one_line(exc)}"
                    continue
                for result in results:
                    problem = _bad_components(result)
                    if problem:
                        failed[impl.plugin_name] = f"{hook_name} returned {problem}"
                        break
                    provided += [Component(name, kind, impl.plugin_name, dist_of.get(impl.plugin_name, "-"), factory)
                                 for name, factory in result.items()]
        for plugin, error in failed.items():
            self._fail(plugin, error)
        tables: dict[str, dict[str, list[Component]]] = {k: {} for k in KINDS.values()}
        for comp in sorted(provided, key=lambda c: (_display_order(c.distribution, c.plugin), c.name)):
            if comp.plugin not in failed:
                tables[comp.kind].setdefault(comp.name, []).append(comp)
        return tables

    def components(self, kind: str) -> dict[str, Component]:
        """Every component of a kind ('signal', 'criterion', ...) by plain name, except names that
        several plugins provide (see `clashes`; select those with `resolve` and ``dist:name``)."""
        return {name: comps[0] for name, comps in self._table(kind).items() if len(comps) == 1}

    def clashes(self) -> list[Clash]:
        """Every component name provided by more than one plugin."""
        return [Clash(kind, name, comps) for kind in KINDS.values()
                for name, comps in self._table(kind).items() if len(comps) > 1]

    def find(self, kind: str, name: str) -> Component | None:
        """The component `name` (plain or ``dist:name``) of `kind`, None when nothing provides it.

        Raises AmbiguousComponentError when a plain name is provided by several plugins.
        """
        table = self._table(kind)
        qualifier, sep, plain = name.rpartition(":")
        if not sep:
            found = table.get(name, [])
        else:  # the distribution (case and -_. insensitive), or the entry-point name
            found = [c for c in table.get(plain, [])
                     if _normalise(c.distribution) == _normalise(qualifier) or c.plugin == qualifier]
        if len(found) > 1:
            raise AmbiguousComponentError(Clash(kind, name, found).message())
        return found[0] if found else None

    def resolve(self, kind: str, name: str) -> Component:
        """Like `find`, but a name nothing provides raises UnknownComponentError (did you mean...)."""
        component = self.find(kind, name)
        if component is not None:
            return component
        table = self._table(kind)
        qualifier, sep, plain = name.rpartition(":")
        if sep and plain in table:
            where = ", ".join(c.selector for c in table[plain])
            raise UnknownComponentError(f"no {kind} {plain!r} in {qualifier!r}; it is provided as {where}")
        close = difflib.get_close_matches(plain, list(table), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownComponentError(f"unknown {kind} {name!r}{hint} (available: {', '.join(sorted(table)) or 'none'})")

    def create(self, kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the component `name` (plain or ``dist:name``) of `kind` with these settings.

        Raises UnknownComponentError / AmbiguousComponentError for a name that selects no single
        component, InputError for settings the factory does not take (naming the ones it does).
        Whatever the factory itself raises propagates unchanged (its traceback shows the plugin).
        """
        component = self.resolve(kind, name)
        _check_settings(component, args, kwargs)
        return component.factory(*args, **kwargs)

    # ------------------------------------------------------------------ events
    def _hook(self, hook_name: str) -> pluggy.HookCaller:
        hook = getattr(self.pm.hook, hook_name, None)
        if hook is None or hook.spec is None:
            raise ValueError(f"no hookspec named {hook_name!r} (aire.hookspecs, API {hookspecs.API_VERSION})")
        return hook

    def has_impls(self, hook_name: str) -> bool:
        """Whether any plugin implements (or wraps) the hook: callers skip building costly arguments otherwise."""
        return bool(self._hook(hook_name).get_hookimpls())

    def emit(self, hook_name: str, /, **kwargs: Any) -> Any:
        """Call a hook through pluggy's hook caller and return what pluggy returns: the list of
        non-None results (last-registered plugin first), or for a ``firstresult`` hook the first one.

        An InputError/ConfigError raised by a plugin comes back as InputError naming the plugin; any
        other exception as PluginError naming the plugin and hook, chained from the original.
        """
        hook = self._hook(hook_name)
        try:
            return hook(**kwargs)
        except (PluginError, ComponentError):
            raise
        except Exception as exc:
            plugin = self.culprit(hook, exc)
            where = f"plugin {plugin!r}" if plugin else "a plugin (" + ", ".join(self._callers(hook)) + ")"
            if isinstance(exc, (InputError, ConfigError)):
                raise InputError(f"{where} in {hook_name}: {exc}") from exc
            raise PluginError(f"{where} failed in {hook_name}: {type(exc).__name__}: {exc}",
                              plugin=plugin, hook=hook_name) from exc

    def evaluate_extra(self, trainer: hookspecs.TrainerView, step: int, metrics: Mapping[str, float],
                       taken: Iterable[str] = HISTORY_COLUMNS) -> dict[str, float]:
        """Emit ``aire_evaluate`` and merge what plugins return into one dict of extra metrics.

        Plugins see `metrics` read-only. Raises PluginError naming the plugin when a result is not a
        dict of numbers, or a name repeats a signal metric, a history column (`taken`) or another
        plugin's metric.
        """
        hook = self._hook("aire_evaluate")
        if not hook.get_hookimpls():
            return {}
        returned_by: dict[int, str] = {}
        with self._lock, _recording_owners(hook, returned_by):
            results = self.emit("aire_evaluate", trainer=trainer, step=step,
                                metrics=types.MappingProxyType(dict(metrics)))
        candidates = " or ".join(self._callers(hook))  # a result a wrapper made up has no single owner
        owners = [returned_by.get(id(result), candidates) for result in results]
        extra: dict[str, float] = {}
        owner_of: dict[str, str] = {}
        reserved = set(taken)
        for owner, result in zip(owners, results):
            if not isinstance(result, Mapping):
                raise PluginError(f"plugin {owner!r} returned {type(result).__name__} from aire_evaluate; "
                                  "expected a dict of metric name -> number", plugin=owner, hook="aire_evaluate")
            for key, value in result.items():
                clash = ("a signal metric" if key in metrics else "a history column" if key in reserved
                         else f"a metric of plugin {owner_of[key]!r}" if key in owner_of else None)
                if clash:
                    raise PluginError(f"plugin {owner!r} returned metric {key!r} from aire_evaluate, which is already "
                                      f"{clash}; give it a name of its own", plugin=owner, hook="aire_evaluate")
                if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise PluginError(f"plugin {owner!r} returned {key!r}: {type(value).__name__} from aire_evaluate; "
                                      "metrics are str -> int/float (e.g. float(tensor))", plugin=owner, hook="aire_evaluate")
                extra[key], owner_of[key] = value, owner
        return extra

    def _callers(self, hook: pluggy.HookCaller) -> list[str]:
        """Plugin names in the order pluggy calls them (wrappers first, then last-registered first)."""
        return [impl.plugin_name for impl in reversed(hook.get_hookimpls())]

    def culprit(self, hook: pluggy.HookCaller, exc: BaseException) -> str | None:
        """The plugin whose hook implementation raised `exc`: the innermost traceback frame running
        one of the hook's implementations, else the innermost frame in a plugin's module, else the
        only implementation; None when it cannot be told."""
        impls = hook.get_hookimpls()
        by_code = {getattr(_unwrapped(impl.function), "__code__", None): impl.plugin_name for impl in impls}
        found = None
        tb = exc.__traceback__
        while tb is not None:
            found = by_code.get(tb.tb_frame.f_code, found)
            tb = tb.tb_next
        if found is None:
            record = self.blame(exc)
            names = [impl.plugin_name for impl in impls]
            found = record.name if record is not None and record.name in names else (names[0] if len(names) == 1 else None)
        return found

    def blame(self, exc: BaseException) -> PluginRecord | None:
        """The plugin an exception came from: for a PluginError the plugin it names, else the plugin
        whose module holds the innermost frame of the traceback (causes and contexts included)."""
        self._sync_records()
        if isinstance(exc, PluginError) and exc.plugin:
            return self.record(exc.plugin)
        modules = sorted(((r.module, r) for r in self.records if r.module), key=lambda m: -len(m[0]))
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            found = None
            tb = exc.__traceback__
            while tb is not None:
                name = tb.tb_frame.f_globals.get("__name__", "")
                found = next((r for prefix, r in modules if name == prefix or name.startswith(prefix + ".")), found)
                tb = tb.tb_next
            if found is not None:
                return found
            exc = exc.__cause__ or exc.__context__
        return None

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        """JSON-ready: the API version, every plugin (distribution, version, status, error, what it
        provides, the hooks it implements and wraps), every component, and the clashes."""
        tables = {kind: self._table(kind) for kind in KINDS.values()}
        provides: dict[str, dict[str, list[str]]] = {}
        components = []
        for kind, table in tables.items():
            for name, comps in table.items():
                clash = Clash(kind, name, comps)
                for comp, selector in zip(comps, clash.selectors()):
                    provides.setdefault(comp.plugin, {}).setdefault(kind, []).append(name)
                    components.append({"kind": kind, "name": name, "plugin": comp.plugin,
                                       "distribution": comp.distribution, "selector": selector,
                                       "clash": len(comps) > 1})
        self._sync_records()
        unavailable: dict[str, list[str]] = {}
        for kind, table in tables.items():
            for name, comps in table.items():
                for comp in comps:
                    why = unavailable_reason(comp.factory)
                    if why:
                        unavailable.setdefault(comp.plugin, []).append(f"{kind} {name}: {why}")
        plugins = [{"name": r.name, "distribution": r.distribution, "version": r.version, "value": r.value,
                    "status": "unavailable" if r.status == "loaded" and r.name in unavailable else r.status,
                    "error": r.error or "; ".join(unavailable.get(r.name, [])), "provides": provides.get(r.name, {}),
                    "hooks": r.hooks if r.status == "loaded" else [],
                    "wrappers": r.wrappers if r.status == "loaded" else []}
                   for r in sorted(self.records, key=lambda r: _display_order(r.distribution, r.name))]
        clashes = [{"kind": c.kind, "name": c.name, "message": c.message(),
                    "providers": [{"plugin": p.plugin, "distribution": p.distribution, "selector": s}
                                  for p, s in zip(c.providers, c.selectors())]} for c in self.clashes()]
        return {"api_version": hookspecs.API_VERSION, "plugins": plugins, "components": components, "clashes": clashes}


def unavailable_reason(factory: Any) -> str:
    """Why a component cannot run on this machine, or "" when it can (or cannot tell).

    A factory says so through an ``available()`` classmethod (the Backend interface has one) and, optionally,
    ``unavailable_reason()`` for the one-line why; a check that raises counts as unavailable, with its error.
    """
    check = getattr(factory, "available", None)
    if not callable(check):
        return ""
    try:
        if check():
            return ""
    except Exception as exc:  # the check is the plugin's code
        return f"its availability check failed: {_one_line(exc)}"
    reason = getattr(factory, "unavailable_reason", None)
    try:
        text = reason() if callable(reason) else ""
    except Exception as exc:
        text = _one_line(exc)
    return text or "not available on this machine"


# ------------------------------------------------------------------------- tracing
def hook_tracer(write: Callable[[str], Any]) -> tuple[Callable[..., None], Callable[..., None]]:
    """(before, after) for ``PluginManager.add_hookcall_monitoring``: one line per hook call with
    its arguments (``trainer`` left out) and the plugins it reaches in call order, one line with a
    non-empty result or an exception."""

    def before(hook_name: str, impls: list[Any], kwargs: Mapping[str, Any]) -> None:
        args = ", ".join(f"{k}={_brief(v)}" for k, v in kwargs.items() if k != "trainer")
        order = [f"{i.plugin_name} (wrapper)" if i.wrapper or i.hookwrapper else i.plugin_name for i in reversed(impls)]
        write(f"aire: hook {hook_name}({args}) -> {', '.join(order) or 'no plugins'}\n")

    def after(outcome: Any, hook_name: str, impls: list[Any], kwargs: Mapping[str, Any]) -> None:
        if outcome.exception is not None:
            write(f"aire: hook {hook_name} raised {_one_line(outcome.exception)}\n")
            return
        result = outcome.get_result()
        if result is not None and not (isinstance(result, list) and not result):
            write(f"aire: hook {hook_name} returned {_brief(result)}\n")

    return before, after


def _brief(value: Any, limit: int = 160) -> str:
    """A short, one-line rendering of a hook argument or result for the trace."""
    if hasattr(value, "numel") and hasattr(value, "shape"):  # a tensor, without importing torch
        text = f"{float(value.detach()):.6g}" if value.numel() == 1 else f"tensor{list(value.shape)}"
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}: {_brief(v, 40)}" for k, v in value.items()) + "}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_brief(v, 80) for v in value) + "]"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (type, types.FunctionType)):
        text = value.__qualname__
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _recording_owners(hook: pluggy.HookCaller, returned_by: dict[int, str]) -> Iterator[None]:
    """For the duration of one hook call, record which plugin returned each result (by the result's
    id: pluggy passes results on as they are). pluggy's list drops None results and carries no
    names, so without this a result could not be told from another once a plugin returns None.
    Each implementation's function is swapped for a recorder that calls it and restored after."""
    impls = [impl for impl in hook.get_hookimpls() if not (impl.wrapper or impl.hookwrapper)]
    saved = [(impl, impl.function) for impl in impls]

    def recorder(plugin: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if result is not None:
                returned_by[id(result)] = plugin
            return result

        call.aire_recorded = function  # type: ignore[attr-defined]  # culprit() looks through it
        return call

    for impl, function in saved:
        impl.function = recorder(impl.plugin_name, function)
    try:
        yield
    finally:
        for impl, function in saved:
            impl.function = function


def _unwrapped(function: Any) -> Any:
    """The plugin's own function behind a recorder of _recording_owners."""
    return getattr(function, "aire_recorded", function)


def spec_names() -> set[str]:
    """Names of every hook in aire.hookspecs."""
    return {name for name in dir(hookspecs) if name.startswith("aire_")}


def _normalise(distribution: str) -> str:
    """A distribution name as PEP 503 compares them (case, '-', '_' and '.' insensitive)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _display_order(distribution: str, plugin: str) -> tuple[bool, str, str]:
    """aire's own plugins first, then by distribution and name: listings do not depend on the order
    in which the environment happens to return entry points."""
    return _normalise(distribution) != CORE_DISTRIBUTION, _normalise(distribution), plugin


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(plugin: Any) -> str:
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    return f"{type(plugin).__module__}:{type(plugin).__qualname__}"


def _module_prefix(plugin: Any, third_party: bool) -> str:
    """The module a plugin's code lives under: its top-level package for a third-party
    distribution (its hooks may call any of its modules), its own module for aire's built-ins."""
    module = plugin.__name__ if isinstance(plugin, types.ModuleType) else getattr(plugin, "__module__", None)
    module = module or type(plugin).__module__
    top = module.split(".")[0]
    return top if third_party and top != "aire" else module  # never claim all of aire for one plugin


def _bad_components(result: Any) -> str | None:
    """Why a component hook's result is not ``{name: factory}`` with plain names, or None."""
    if not isinstance(result, Mapping):
        return f"{type(result).__name__}, not a dict of name -> factory"
    for name, factory in result.items():
        if not isinstance(name, str) or not name or ":" in name or name != name.strip():
            return f"the name {name!r} (names are non-empty strings without ':')"
        if not callable(factory):
            return f"{name!r}: {type(factory).__name__}, which is not callable"
    return None


def _check_settings(component: Component, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, as a user error naming the valid ones, settings the factory's signature does not take."""
    try:
        signature = inspect.signature(component.factory)
    except (TypeError, ValueError):  # a builtin or an object without a signature: let the call tell
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        names = [p.name for p in signature.parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise InputError(f"{component.kind} {component.name!r} ({component.distribution}): {exc}; "
                         f"its settings: {', '.join(names) or 'none'}") from None


_REGISTRY: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """The process-wide registry, created (and entry points loaded) on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        registry = PluginRegistry()
        if not any(_normalise(r.distribution) == CORE_DISTRIBUTION for r in registry.records):
            raise ComponentError("aire's own entry points are missing: install the package (pip install -e .)")
        _REGISTRY = registry
    return _REGISTRY


def loaded_registry() -> PluginRegistry | None:
    """The process-wide registry if it was created, without loading anything (for error reports)."""
    return _REGISTRY


def reset_registry() -> None:
    """Forget the registry so the next use reloads entry points (tests, notebooks)."""
    global _REGISTRY
    _REGISTRY = None


def create(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Shortcut for get_registry().create(...)."""
    return get_registry().create(kind, name, *args, **kwargs)
