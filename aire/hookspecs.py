"""The aire plugin API. Read this module and you know everything a plugin can do.

A plugin is a module (or object) with functions marked ``@aire.hookimpl`` whose names match the
stubs below, published in the ``aire`` entry-point group of its distribution's metadata::

    [project.entry-points.aire]
    my-criterion = "my_package.plugin"

The built-in signals, encodings, networks, criteria, policies and backends are registered through
exactly this mechanism (see aire's own pyproject.toml). Component hooks return a mapping
``{name: factory}``; the factory is called with keyword settings and returns an instance of the
matching interface in :mod:`aire.interfaces`. Event hooks are called by the trainer; their return
values are ignored, and an exception raised in one stops the fit with the plugin's name.

Environment: ``AIRE_DISABLE_PLUGINS=name,name`` skips entry points by name (``external`` skips every
entry point not shipped with aire); ``AIRE_TRACE_HOOKS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

#: Version of this hook API. Bumped in the minor part for additions, the major part for changes.
API_VERSION = "1.0"

hookspec = pluggy.HookspecMarker("aire")
hookimpl = pluggy.HookimplMarker("aire")

Factory = Callable[..., Any]


# --------------------------------------------------------------------------- components
@hookspec
def aire_add_signals() -> dict[str, Factory]:
    """Signals (aire.interfaces.Signal): ``{name: factory(path, **settings)}``."""


@hookspec
def aire_add_encodings() -> dict[str, Factory]:
    """Input-layer encodings (aire.interfaces.Encoding): ``{name: factory(**settings)}``."""


@hookspec
def aire_add_networks() -> dict[str, Factory]:
    """Networks (aire.interfaces.Network): ``{name: factory(config, encoding, seed)}``."""


@hookspec
def aire_add_pruning_criteria() -> dict[str, Factory]:
    """Pruning criteria (aire.interfaces.PruningCriterion): ``{name: factory(**settings)}``."""


@hookspec
def aire_add_densification_policies() -> dict[str, Factory]:
    """Densification policies (aire.interfaces.DensificationPolicy): ``{name: factory(**settings)}``."""


@hookspec
def aire_add_backends() -> dict[str, Factory]:
    """Backends (aire.interfaces.Backend): ``{name: factory()}``."""


@hookspec
def aire_add_schedules() -> dict[str, Factory]:
    """Training schedules (aire.interfaces.Schedule), selected by ``ScheduleConfig.kind``:
    ``{name: factory(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy)}``."""


# ------------------------------------------------------------------------------- events
@hookspec
def aire_fit_start(trainer: Any) -> None:
    """Called once before the first step."""


@hookspec
def aire_step_end(trainer: Any, step: int, loss: Any) -> None:
    """Called after every optimizer step; `loss` is a tensor (reading it forces a device sync)."""


@hookspec
def aire_before_prune(trainer: Any, layer: int, neurons: Any) -> None:
    """Called before neurons (a LongTensor of indices) are removed from sine layer `layer`."""


@hookspec
def aire_after_prune(trainer: Any, layer: int, removed: int) -> None:
    """Called after `removed` neurons were deleted from sine layer `layer`."""


@hookspec
def aire_after_densify(trainer: Any, added: int) -> None:
    """Called after `added` input frequencies were inserted."""


@hookspec
def aire_evaluate(trainer: Any, step: int, metrics: dict[str, float]) -> None:
    """Called after each evaluation with the metrics just measured (a plugin may add keys)."""


@hookspec
def aire_fit_end(trainer: Any, metrics: dict[str, float]) -> None:
    """Called once after the last step with the final metrics."""
