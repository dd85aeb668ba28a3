"""The aire plugin API. Read this module and you know everything a plugin can do.

A plugin is a module (or object) with functions marked ``@aire.hookimpl`` whose names match the
stubs below, published in the ``aire`` entry-point group of its distribution's metadata::

    [project.entry-points.aire]
    my-criterion = "my_package.plugin"

The built-in signals, encodings, networks, criteria, policies and backends are registered through
exactly this mechanism (see aire's own pyproject.toml); nothing is privileged.

Component hooks (``aire_add_*``) return a mapping ``{name: factory}``; the factory is called with
keyword settings and returns an instance of the matching interface in `aire.interfaces`. Names
are plain (no ``:``). When two plugins provide the same name, neither wins: asking for the plain
name is refused, and ``dist:name`` (the distribution, e.g. ``aire-inr:column-l1``, or the entry-point
name) selects one. ``aire plugins`` lists such clashes.

Event hooks are called by the trainer through pluggy's hook caller
(`aire.plugins.PluginRegistry.emit`): implementations run last-registered first, new-style
wrappers (``@aire.hookimpl(wrapper=True)``, a generator that yields once) run around them, and
``tryfirst``/``trylast`` order them. Their arguments are keyword-only in spirit: an implementation
may accept any subset of a hook's arguments. The ``trainer`` argument is a `TrainerView`.
No event hook is ``firstresult`` today; a hook that decides something would be, and ``emit`` then
returns the first non-None answer instead of the list.

Errors: raise `aire.InputError` (or `aire.ConfigError`) for a bad user input or
setting; the CLI prints it as one line (prefixed with the plugin's name when an event hook raised
it). Any other exception is a bug. From an event hook it becomes `aire.plugins.PluginError`,
which names the plugin and hook and chains the original exception; from a factory or a component's
method it propagates as raised. Either way ``aire`` prints the traceback and a line naming the plugin
it came from (found in the traceback), exit status 1.

Environment: ``AIRE_DISABLE_PLUGINS=name,name`` blocks entry points by name (``external`` blocks
every entry point not shipped with aire), through ``PluginManager.set_blocked``: they are not
imported and show as ``disabled`` in ``aire plugins``. ``AIRE_TRACE_HOOKS=1`` prints every hook call
(arguments, the plugins it reaches in call order, what they returned) to stderr, through pluggy's
hook-call monitoring.

Versioning: `API_VERSION` is ``major.minor``; the minor part grows when a hook or argument is
added, the major part when the meaning of an existing one changes (see CHANGELOG.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:  # annotations only: importing the hook API does not import torch
    from pathlib import Path

    import torch

    from aire.config import TrainConfig
    from aire.interfaces import Backend, DensificationPolicy, Encoding, Network, PruningCriterion, Signal

#: Version of this hook API. Bumped in the minor part for additions, the major part for changes.
API_VERSION = "2.1"

hookspec = pluggy.HookspecMarker("aire")
hookimpl = pluggy.HookimplMarker("aire")


@runtime_checkable
class TrainerView(Protocol):
    """What an event hook may read from the trainer that calls it (the ``trainer`` argument).

    Only these members are public; anything else on the object is the trainer's own business and
    may change without notice. Hooks should read, not write: changing the network or optimizer
    from a hook is outside the API (the schedule owns the architecture).
    """

    #: optimizer steps completed so far (0 before the first; the step just taken in aire_step_end is `step`)
    step: int
    #: the network being fitted (sine layers can shrink or grow between two calls)
    network: Network
    #: the whole model being fitted: ``signal.make_model(network)`` (NeRF's field + colour head), the
    #: network itself for images and SDFs
    model: torch.nn.Module
    #: the signal it is fitted to
    signal: Signal
    #: the torch optimizer over the model's parameters (the network's and, for NeRF, the colour head's)
    optimizer: torch.optim.Optimizer
    #: one row per evaluation so far: {"step", "loss", "params", "seconds", <signal metrics>, <plugin metrics>}
    history: list[dict[str, Any]]
    #: schedule events so far, each a JSON-ready dict {"step", "event" (densify, twd_start, prune, rollback), "params", "architecture", ...}
    events: list[dict[str, Any]]
    #: the fit's training settings (aire.config.TrainConfig); ``train_config.log`` names the optional loggers asked for
    train_config: TrainConfig
    #: the folder for this fit's live logs (history.jsonl, tensorboard/), written as the fit goes and moved
    #: into the run folder by aire.save_run; None when the fit has none (aire.fit without ``log_dir``): log nothing
    log_dir: Path | None

    def elapsed(self) -> float:
        """Seconds of fitting so far (wall clock, across resumes)."""
        ...


# --------------------------------------------------------------------------- components
@hookspec
def aire_add_signals() -> dict[str, Callable[..., Signal]]:
    """Signals: ``{name: factory(path, **settings) -> aire.interfaces.Signal}``.

    ``path`` is the input file or folder given to ``aire fit NAME PATH``; settings come from ``--set``.
    A class may carry ``cli_defaults`` and ``presets`` (dicts of option defaults) for ``aire fit``.
    """


@hookspec
def aire_add_encodings() -> dict[str, Callable[..., Encoding]]:
    """Input-layer encodings: ``{name: factory(**settings) -> aire.interfaces.Encoding}``."""


@hookspec
def aire_add_networks() -> dict[str, Callable[..., Network]]:
    """Networks: ``{name: factory(config: NetworkConfig, encoding: Encoding, seed: int) -> aire.interfaces.Network}``."""


@hookspec
def aire_add_pruning_criteria() -> dict[str, Callable[..., PruningCriterion]]:
    """Pruning criteria: ``{name: factory(**settings) -> aire.interfaces.PruningCriterion}``."""


@hookspec
def aire_add_densification_policies() -> dict[str, Callable[..., DensificationPolicy]]:
    """Densification policies: ``{name: factory(**settings) -> aire.interfaces.DensificationPolicy}``."""


@hookspec
def aire_add_backends() -> dict[str, Callable[..., Backend]]:
    """Backends: ``{name: factory(**settings) -> aire.interfaces.Backend}``."""


@hookspec
def aire_add_schedules() -> dict[str, Factory]:
    """Training schedules (aire.interfaces.Schedule), selected by ``ScheduleConfig.kind``:
    ``{name: factory(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy)}``."""


# ------------------------------------------------------------------------------- events
@hookspec
def aire_fit_start(trainer: TrainerView) -> None:
    """Called once before the first step of a fresh fit (not on resume)."""


@hookspec
def aire_step_end(trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
    """Called after every optimizer step; ``step`` is the 0-based index of the step just taken and
    ``loss`` its scalar loss tensor, on the training device (reading it, e.g. ``float(loss)``, forces
    a device sync: do it only when you need it). Called only when some plugin implements it."""


@hookspec
def aire_before_prune(trainer: TrainerView, layer: int, neurons: torch.Tensor) -> None:
    """Called before ``neurons`` (a LongTensor of indices) are removed from sine layer ``layer``."""


@hookspec
def aire_after_prune(trainer: TrainerView, layer: int, removed: int) -> None:
    """Called after ``removed`` neurons were deleted from sine layer ``layer``."""


@hookspec
def aire_after_densify(trainer: TrainerView, added: int) -> None:
    """Called after ``added`` input frequencies were inserted."""


@hookspec
def aire_evaluate(trainer: TrainerView, step: int, metrics: Mapping[str, float]) -> dict[str, float] | None:
    """Called after each evaluation with the signal's metrics just measured (read-only).

    Return a dict of extra metrics (plain numbers) to record with them: they join the history row,
    the final metrics and metrics.json. A name that is already a signal metric or a history column
    (step, loss, params, seconds), or that another plugin also returns, is an error naming the
    plugin: prefix your names (e.g. ``mytool_grad_norm``).
    """


@hookspec
def aire_after_evaluate(trainer: TrainerView, row: Mapping[str, Any]) -> None:
    """Called after each evaluation with its complete history row (read-only): step, loss, params, the
    signal's and plugins' metrics, seconds. The place for experiment loggers (API 2.1)."""


@hookspec
def aire_after_event(trainer: TrainerView, event: Mapping[str, Any]) -> None:
    """Called after each structural event is recorded in ``trainer.events`` (read-only): densify, twd_start,
    prune, rollback, with its step, params and architecture (API 2.1)."""


@hookspec
def aire_fit_end(trainer: TrainerView, metrics: Mapping[str, Any]) -> None:
    """Called once after the last step with the final metrics (read-only)."""
