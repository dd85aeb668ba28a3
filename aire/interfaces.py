"""The small abstract interfaces every plugin implements: signals, encodings, networks, criteria,
policies, backends, schedules.

A signal knows nothing about pruning; a criterion knows nothing about files: data flows
file -> Signal -> Network -> schedule (criterion, policy) -> trainer -> outputs.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from aire.config import TrainConfig
    from aire.plugins import PluginRegistry


class Signal(abc.ABC):
    """Data, sampling, loss, metrics and export for one task (image, sdf, nerf)."""

    #: number of input coordinates (2 for images)
    in_features: int
    #: number of output channels
    out_features: int

    @abc.abstractmethod
    def sample(self, batch_size: int | None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (coordinates, targets) for one training step; None = the full set."""

    @abc.abstractmethod
    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar training loss."""

    @abc.abstractmethod
    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        """Quality metrics of a model on the whole signal (e.g. {'psnr': 31.2})."""

    @abc.abstractmethod
    def export(self, model: torch.nn.Module, out_dir: Path) -> list[Path]:
        """Write the task's reconstruction files into out_dir; return their paths."""

    #: the metric shown in progress bars and plots, and whether higher is better
    quality_key: str = "psnr"
    higher_is_better: bool = True
    #: when the quality metric is a PSNR of the network's own output, clamped to a range that holds
    #: every target, against those targets: the width of that range on the output scale (images: 2.0,
    #: outputs in [-1, 1] and PSNR on [0, 1]). Then a bound on the output's change bounds the PSNR
    #: drop (aire.pruning.certified.CutPrediction); None (NeRF renders, SDF IoU): it does not.
    output_psnr_peak: float | None = None
    #: the quality targets a fit may ask for (ScheduleConfig.target_<name>, aire.targets): name ->
    #: (metric key of evaluate() or final_metrics(), higher is better); None = the quality_key alone
    quality_targets: dict[str, tuple[str, bool]] | None = None

    def training_loss(self, model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Loss of one step. The default is loss(model(inputs), targets); signals whose loss needs
        more than the network's output (an eikonal term, volume rendering) override it. Random draws
        inside the loss (NeRF's ray jitter) come from `generator` (on the training device; the trainer
        passes its own, seeded by TrainConfig.seed and checkpointed), never from torch's global RNG.
        The trainer passes `generator` only to overrides that accept it."""
        return self.loss(model(inputs), targets)

    def network_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n coordinates in the network's input space (for least-squares compensation at a cut)."""
        return self.sample(n, generator)[0]

    def make_model(self, network: "Network") -> torch.nn.Module:
        """The trainable whole that this signal's training_loss, evaluate, final_metrics and export
        receive: by default the network itself. A signal whose model has parts besides the adaptive
        network (NeRF's colour head) returns a `Model` built around `network`. The trainer
        calls this once, optimises, checkpoints and rolls back all of the model's parameters, and
        applies surgery to the network only; `aire.save_run` and `aire.load` save and rebuild the
        model whole. (This replaces ``extra_modules()`` of plugin API 2.0: a signal that still
        defines ``extra_modules`` is refused by the trainer, never silently half-trained.)"""
        return network

    def final_metrics(self, model: torch.nn.Module) -> dict[str, float]:
        """Metrics too costly for every evaluation (e.g. Chamfer on an extracted mesh), computed once
        at the end of a fit and merged into its metrics."""
        return {}

    def to(self, device: torch.device | str) -> "Signal":
        """Move cached tensors to a device; returns self."""
        return self

    def describe(self) -> dict[str, Any]:
        """JSON-ready description of the data (shape, source path) for reports."""
        return {}

    def sources(self) -> list[Path]:
        """The files or folders this signal was read from; an output never replaces or contains them.
        The default is the signal's ``path`` attribute, when it has one."""
        path = getattr(self, "path", None)
        return [Path(path)] if path is not None else []


class Model(torch.nn.Module, abc.ABC):
    """A fitted whole built around an adaptive network (its `field`): e.g. NeRF's field plus colour
    head plus the rendering settings (aire.signals.nerf.model.NerfModel). Models are models, signals
    are data: the signal samples, scores and exports; the model holds every trainable tensor and knows
    how to turn coordinates into the task's output.

    Saving (`aire.save_run`): the field's tensors and every other tensor of ``state_dict()`` under its
    own name go into model.safetensors; model.json gets ``"model": {"kind": kind, "settings":
    settings()}``. Loading (`aire.load`): the signal plugin named `kind` gives the class by its
    ``model_class`` attribute, ``from_settings(field, settings)`` rebuilds it and the saved tensors
    are put in (their names and shapes must match)."""

    #: the name of the signal plugin whose ``model_class`` rebuilds this model
    kind: str
    #: the adaptive network (the schedule prunes and densifies it)
    field: "Network"

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """JSON-ready keyword arguments that rebuild this model around its field (from_settings)."""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, field: "Network", settings: dict[str, Any]) -> "Model":
        """The model around `field` with these settings (its other tensors freshly initialised).
        Raises InputError naming the setting when one is missing or out of range."""


class Encoding(abc.ABC):
    """The input layer: how input frequencies and phases are initialised and densified."""

    #: whether the input frequencies receive gradients
    trainable: bool = True

    @abc.abstractmethod
    def initialize(self, weight: torch.Tensor, bias: torch.Tensor, omega0: float, generator: torch.Generator) -> None:
        """Fill the stored (unscaled) first-layer weight (m x d) and bias (m) in place."""

    def settings(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this encoding (saved with a model)."""
        return {"frozen": not self.trainable}

    def doubled(self, weight_rows: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows for new input neurons of frequency 2 * omega_j (the AIRe densification rule)."""
        return 2.0 * weight_rows, bias.clone()


class Network(torch.nn.Module, abc.ABC):
    """A sinusoidal MLP whose layers can lose and gain neurons as real tensors."""

    activation: str

    @abc.abstractmethod
    def widths(self) -> list[int]:
        """Sine-layer widths, input frequencies first, then the output channels."""

    @abc.abstractmethod
    def remove_neurons(self, layer: int, neurons: torch.Tensor, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Delete neurons of sine layer `layer` (row of W_layer and b_layer, column of W_layer+1)."""

    @abc.abstractmethod
    def insert_input_frequencies(self, weight_rows: torch.Tensor, bias: torch.Tensor, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Append input neurons with these (stored-form) rows and zero outgoing weights."""

    @abc.abstractmethod
    def canonical(self) -> list[tuple[Any, Any]]:
        """[(Omega, phi), (A_1, c_1), ..., (W_out, b_out)] as float64 numpy arrays: the canonical form,
        omega_0 factors absorbed (see aire.theory)."""


class PruningCriterion(abc.ABC):
    """Scores the neurons of a sine layer; the lowest scores are the TWD targets."""

    @abc.abstractmethod
    def scores(self, network: Network, layer: int) -> torch.Tensor:
        """One non-negative score per neuron of sine layer `layer`; low = contributes least."""

    def select(self, network: Network, layer: int, k: int, exclude: torch.Tensor | None = None) -> torch.Tensor:
        """Indices of the k lowest-scoring neurons (the TWD targets), never any in `exclude`."""
        scores = self.scores(network, layer).clone()
        if exclude is not None and exclude.numel():
            scores[exclude] = float("inf")
        k = max(0, min(int(k), scores.numel()))
        return torch.argsort(scores, stable=True)[:k]


class DensifyContext:
    """What a densification policy may look at besides the network: the fit's residual, a backend."""

    def __init__(self, signal: "Signal | None" = None, network: "Network | None" = None, backend: "Backend | None" = None) -> None:
        self.signal, self.network, self.backend = signal, network, backend

    def residual_grid(self) -> tuple[torch.Tensor, tuple[float, ...]] | None:
        """(prediction - target) on the signal's regular grid (grid dims..., channels) and the grid
        spacing per dimension, or None when the signal has no grid."""
        getter = getattr(self.signal, "residual_grid", None)
        return None if getter is None or self.network is None else getter(self.network)


class DensificationPolicy(abc.ABC):
    """Picks which input frequencies to add."""

    @abc.abstractmethod
    def propose(self, network: Network, encoding: Encoding, k: int,
                context: DensifyContext | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Stored-form (weight rows, biases) of up to k new input neurons."""


class Backend(abc.ABC):
    """Array maths outside plain training: Bessel J_n, harmonic amplitudes, spectra."""

    name: str

    @abc.abstractmethod
    def bessel_j(self, orders: Any, x: Any) -> Any:
        """J_n(x) for integer orders, broadcasting like scipy.special.jv(orders, x)."""

    def harmonic_amplitudes(self, k: Any, a: Any) -> Any:
        """alpha_k = prod_l J_{k_l}(a_l) for each row k (terms x m) and weights a (m)."""
        return self.bessel_j(k, a[None, :]).prod(axis=-1)

    @abc.abstractmethod
    def power_spectrum(self, values: Any) -> Any:
        """|FFT|^2 over the leading spatial axes of a grid of values (channels last), summed over channels."""

    @classmethod
    def available(cls) -> bool:
        """Whether this backend can run on this machine."""
        return True


class TrainerView(Protocol):
    """What callbacks, schedules and event plugins may read or call on the trainer
    (`aire.train.trainer.Trainer` implements it). Shapes are the network's own."""

    signal: Signal
    #: the adaptive network: the schedule's surgery acts on it
    network: Network
    #: the whole model being fitted, ``signal.make_model(network)`` (the network itself for images
    #: and SDFs); the optimizer, checkpoints, evaluation and saving cover all of it
    model: torch.nn.Module
    #: the optimizer of the current architecture (surgery and rollbacks replace it)
    optimizer: torch.optim.Optimizer
    #: the module the training step calls: `model`, or its torch.compile wrapper
    step_model: torch.nn.Module
    train_config: "TrainConfig"
    registry: "PluginRegistry"
    backend: "Backend | None"
    #: draws of the loop (batches, compensation points); CPU, seeded by TrainConfig.seed
    generator: torch.Generator
    #: index of the step being run (0-based); after a step it is the number of steps done
    step: int
    #: evaluations so far: {"step", "loss", "params", <signal metrics>, "seconds"}
    history: list[dict[str, Any]]
    #: architecture changes and rollbacks: {"step", "event", "params", "architecture", ...}
    events: list[dict[str, Any]]
    initial_params: int
    initial_architecture: list[int]
    #: set by a callback to end the fit after the current step (the divergence guard does)
    should_stop: bool

    def log_event(self, kind: str, **info: Any) -> None:
        """Append {"step", "event": kind, "params", "architecture", **info} to `events`."""

    def evaluate(self, loss: float | None = None) -> dict[str, Any]:
        """Evaluate the network now, append the row to `history` and tell the callbacks."""

    def elapsed(self) -> float:
        """Seconds of fitting so far, across resumes."""

    def state_dict(self, exclude: str | None = None) -> dict[str, Any]:
        """Everything needed to continue from the top of `step` (without the callback `exclude`)."""

    def rewind(self, state: dict[str, Any]) -> None:
        """Go back to a state of this fit (a rollback); the step in progress ends there."""


class Callback:
    """One job of the training loop with its own state (lightning's Callback, nerfstudio's training
    callbacks). The trainer calls these hooks, in the order of its callback list, at fixed moments::

        on_fit_start(trainer)             once per fit, after a resumed state was loaded
        for each step s (trainer.step == s):
            before_step(trainer, s)       the architecture may change here (prune, densify)
            after_backward(trainer, s)    gradients are in .grad; optimizer.step() comes next
            after_step(trainer, s, loss)  after optimizer.step(); `loss` is the step's loss tensor
                                          (reading it syncs the device). A callback may roll the
                                          trainer back here (trainer.rewind): the step then ends.
            on_evaluate(trainer, row)     after an evaluation (trainer.step == s + 1); also after the
                                          initial evaluation and any the callbacks ask for
            on_step_end(trainer, s + 1)   the top of the next step: a state taken here resumes exactly
        on_train_end(trainer)             after the last step (or a stop), before the final metrics
        on_fit_end(trainer, metrics)      with the final metrics

    ``state_dict()`` returns plain data (numbers, lists, tensors) from which ``load_state_dict``
    continues exactly; the trainer keeps it under ``state_key`` in its snapshots and checkpoints.
    Every hook does nothing by default.
    """

    #: key of this callback's state in the trainer's state (unique per trainer)
    state_key: str = ""

    def on_fit_start(self, trainer: TrainerView) -> None:
        pass

    def before_step(self, trainer: TrainerView, step: int) -> None:
        pass

    def after_backward(self, trainer: TrainerView, step: int) -> None:
        pass

    def after_step(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        pass

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        pass

    def on_step_end(self, trainer: TrainerView, step: int) -> None:
        pass

    def on_train_end(self, trainer: TrainerView) -> None:
        pass

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Schedule(Callback):
    """When and how the architecture changes during a fit, and the learning rate of each step.

    A plugin kind: a hook ``aire_add_schedules`` returns ``{name: factory}`` and
    ``ScheduleConfig.kind`` names one; the trainer calls
    ``factory(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy, **settings)``
    with ``config.settings`` (``--schedule-set KEY=VALUE``) as the keyword settings.
    Built-ins: ``aire`` (densify, targeted weight decay, prune; aire.schedules.adaptive) and ``none``
    (plain training). A schedule is the first callback of the loop, so its ``before_step`` surgery
    happens before any other callback sees the step. It changes the network only through the
    Network interface (remove_neurons / insert_input_frequencies with ``trainer.optimizer``, so
    Adam's moments follow the surviving weights) and reports each change with ``trainer.log_event``
    and the matching ``aire_*`` event hook.
    """

    state_key = "schedule"
    #: whether this schedule honours ScheduleConfig's quality targets (target_psnr, target_chamfer); the
    #: trainer refuses a target for a schedule that does not, rather than ignore it (aire.targets)
    honours_targets: bool = False

    def learning_rate(self, step: int, train: "TrainConfig") -> float:
        """The learning rate of `step` (the divergence guard may scale it down): by default an
        exponential decay from ``train.lr`` at step 0 to ``train.lr_final`` at the last step."""
        return train.lr * (train.lr_final / train.lr) ** (step / max(1, train.steps))


def join_metrics(signal: Signal, reported: dict[str, Any], own: dict[str, Any], owner: str) -> dict[str, Any]:
    """`reported` (the signal's metrics) and `own` (those of `owner`, e.g. "the trainer") in one dict.
    Raises RuntimeError naming the keys both use: one would overwrite the other silently (an F-score's
    "precision" under the training's), so the signal plugin must rename its own."""
    clash = sorted(set(reported) & set(own))
    if clash:
        raise RuntimeError(f"the {type(signal).__name__} signal reports metrics named {clash}, which {owner} also "
                           "uses; the signal must rename them")
    return {**reported, **own}


def make_model(signal: Signal, network: "Network") -> torch.nn.Module:
    """``signal.make_model(network)``, checked: the network itself or an aire.interfaces.Model whose
    field is the network. A signal still defining the removed ``extra_modules()`` is refused (its
    modules would otherwise go untrained and unsaved without a word)."""
    name = type(signal).__name__
    if hasattr(signal, "extra_modules"):
        raise TypeError(f"signal {name} defines extra_modules(), which aire no longer calls: return a model "
                        "(aire.interfaces.Model) owning the network and those modules from make_model(network)")
    model = signal.make_model(network)
    if model is not network and not (isinstance(model, Model) and model.field is network):
        raise TypeError(f"{name}.make_model(network) must return the network or an aire.interfaces.Model whose "
                        f"field is that network, got {type(model).__name__}")
    return model
