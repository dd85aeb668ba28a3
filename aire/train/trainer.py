"""The training loop: sample, step, callbacks.

Everything else is a callback with its own state (aire.interfaces.Callback), called in this order:
the schedule (a plugin: ``aire`` densifies, decays and prunes; ``none`` trains plainly), the
compiler (torch.compile), the plugin events, the evaluation (owns the history, says when to
evaluate), the divergence guard, the progress bar, any callbacks the caller adds, the checkpoints.
The trainer's own state is the network, the optimizer, its generators, the events and the clock;
``state_dict()`` adds each callback's ``state_dict()`` under its ``state_key``.
"""

from __future__ import annotations

import copy
import inspect
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Sequence

import attrs
import numpy as np
import torch

from aire.config import ScheduleConfig, TrainConfig
from aire.interfaces import (Backend, Callback, DensificationPolicy, Model, PruningCriterion, Schedule, Signal,
                             join_metrics, make_model)
from aire.nn.sine_mlp import SineMLP
from aire.notices import warn
from aire.plugins import PluginRegistry, get_registry
from aire.targets import check_schedule as check_targets
from aire.train.callbacks import Checkpointing, Compiler, DivergenceGuard, Evaluation, PluginEvents, ProgressBar
from aire.train.precision import autocast, matmul_precision
from aire.train.state import FORMAT_VERSION, load_model_state, model_state


@attrs.define
class FitResult:
    """What a fit returns: the (adapted) network, final metrics, the history over steps and the
    whole fitted model (``signal.make_model(network)``: the network itself for images and SDFs)."""

    network: SineMLP
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    events: list[dict[str, Any]]
    model: torch.nn.Module | None = None

    @property
    def fitted(self) -> torch.nn.Module:
        """The model to save, render or evaluate: `model`, or the network when none was given."""
        return self.network if self.model is None else self.model


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam over the trainable parameters of the model (the network's first, in their order, when
    the model holds it as its first submodule, as NerfModel does); the fused kernel where this
    torch has it."""
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


def seeded_generator(seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on `device` for one random stream of a fit: stream 0 (batches) is seeded
    with `seed` itself, others with numpy's SeedSequence([seed, stream]), so streams are independent."""
    if stream:
        seed = int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1, np.uint64)[0]) & (2 ** 63 - 1)
    return torch.Generator(device=device).manual_seed(int(seed))


class Trainer:
    """Fits a network to a signal, adapting its architecture by the schedule
    (``ScheduleConfig.kind`` names a schedule plugin). Implements aire.interfaces.TrainerView."""

    def __init__(
        self,
        signal: Signal,
        network: SineMLP,
        train: TrainConfig,
        schedule: ScheduleConfig,
        criterion: PruningCriterion | None = None,
        policy: DensificationPolicy | None = None,
        registry: PluginRegistry | None = None,
        backend: Backend | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.registry = registry or get_registry()
        self.backend = backend
        self.signal, self.network, self.train_config = signal, network, train
        self.model = make_model(signal, network)  # optimised, checkpointed, evaluated and saved whole
        self.step_model = self.model  # what the training step calls (the Compiler may wrap it)
        self.optimizer = make_optimizer(self.model, train.lr)
        criterion = criterion or self.registry.create("criterion", schedule.criterion)
        policy = policy or self.registry.create("policy", schedule.policy)
        self.schedule: Schedule = self.registry.create("schedule", schedule.kind, schedule, criterion=criterion,
                                                       policy=policy, **schedule.settings)
        check_targets(schedule, self.schedule, signal)  # a quality target the fit cannot honour: one line, now
        self.schedule_config = schedule
        device = next(network.parameters()).device
        self.generator = seeded_generator(train.seed, 0)  # batches on the CPU: the same on every device
        self.device_generator = seeded_generator(train.seed, 1, device)
        self.step, self.events, self.should_stop, self._rewound = 0, [], False, False
        self.log_dir: Path | None = None  # live logs of event plugins (history.jsonl, tensorboard/)
        self.initial_params, self.initial_architecture = network.num_parameters(), network.widths()
        self._clock = (0.0, time.perf_counter())  # (seconds before this process, start here)
        self.evaluation = Evaluation(train.eval_every, train.steps)
        self.guard = DivergenceGuard.from_config(train, read_at=self._sync_point) if train.guard else None
        self.compiler = Compiler() if train.compile else None
        self.checkpointing: Checkpointing | None = None
        progress = ProgressBar(train.steps, signal.quality_key) if train.progress else None
        self.callbacks = [c for c in (self.schedule, self.compiler, PluginEvents(), self.evaluation, self.guard,
                                      progress) if c]
        self.callbacks += list(callbacks)
        self._loss_takes_generator = "generator" in inspect.signature(signal.training_loss).parameters

    # ------------------------------------------------------------------- loop
    def fit(self, resume: dict[str, Any] | None = None, checkpoint_dir: str | Path | None = None,
            checkpoint_extra: dict[str, Any] | None = None, log_dir: str | Path | None = None) -> FitResult:
        """Run (or, given a state from `aire.train.state.load_checkpoint`, continue) the fit.

        With `checkpoint_dir` and `train.checkpoint_every`, a checkpoint is written atomically every
        that many steps; `resume` continues exactly from one. `log_dir` is where event plugins write live
        logs (TrainerView.log_dir).
        """
        cfg = self.train_config
        self.log_dir = Path(log_dir) if log_dir is not None else None
        if checkpoint_dir is not None and cfg.checkpoint_every:
            self.checkpointing = Checkpointing(checkpoint_dir, cfg.checkpoint_every, cfg.steps, checkpoint_extra)
            self.callbacks.append(self.checkpointing)
        with matmul_precision(cfg.precision):
            if resume is not None:
                self.load_state_dict(resume)
            else:
                self._clock = (0.0, time.perf_counter())
            self._call("on_fit_start")
            if resume is None:
                self.evaluate()
            while self.step < cfg.steps and not self.should_stop:
                step = self.step
                self._call("before_step", step)
                loss = self.training_step(step)
                self._rewound = False
                self._call("after_step", step, loss)
                if self._rewound:  # a callback (the divergence guard) rolled the fit back
                    continue
                self.step = step + 1
                if self.evaluation.due(step):
                    self.evaluate(float(loss.detach()))
                self._call("on_step_end", self.step)
            self._call("on_train_end")
            metrics = self.final_metrics()
            self._call("on_fit_end", metrics)
        return FitResult(network=self.network, metrics=metrics, history=self.history, events=self.events,
                         model=self.model)

    def training_step(self, step: int) -> torch.Tensor:
        """One optimizer step on a sampled batch at the schedule's (guard-scaled) learning rate."""
        cfg = self.train_config
        lr = (self.guard.lr_scale if self.guard else 1.0) * self.schedule.learning_rate(step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self.signal.sample(cfg.batch_size, self.generator)
        draws = {"generator": self.device_generator} if self._loss_takes_generator else {}
        with autocast(cfg.precision, self.device_generator.device):
            loss = self.signal.training_loss(self.step_model, x, y, **draws)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._call("after_backward", step)
        self.optimizer.step()
        return loss

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def _sync_point(self, step: int) -> bool:
        """Whether the host reads device state after step `step` anyway: an evaluation or checkpoint."""
        return self.evaluation.due(step) or bool(self.checkpointing and self.checkpointing.due(step + 1))

    # ---------------------------------------------------------- for callbacks
    @property
    def history(self) -> list[dict[str, Any]]:
        return self.evaluation.history

    def evaluate(self, loss: float | None = None) -> dict[str, Any]:
        """Evaluate the network now, append the row to the history and tell the callbacks."""
        row = self.evaluation.evaluate(self, loss)
        self._call("on_evaluate", row)
        return row

    def log_event(self, kind: str, **info: Any) -> None:
        self.events.append({"step": self.step, "event": kind, "params": self.network.num_parameters(),
                            "architecture": self.network.widths(), **info})
        self.registry.emit("aire_after_event", trainer=self, event=MappingProxyType(self.events[-1]))

    def elapsed(self) -> float:
        """Seconds of fitting so far, across resumes."""
        return self._clock[0] + time.perf_counter() - self._clock[1]

    def final_metrics(self) -> dict[str, Any]:
        """The last evaluation's metrics, the signal's final metrics and the fit's summary."""
        cfg, final = self.train_config, self.history[-1]
        fitted = self.elapsed()  # the fitting loop's time (across resumes), before the final evaluation
        metrics = {k: v for k, v in final.items() if k not in ("step", "loss", "params", "seconds")}
        self.model.eval()
        metrics.update(self.signal.final_metrics(self.model))
        self.model.train()
        own = {
            "params_initial": self.initial_params,
            "params_final": self.network.num_parameters(),
            "params_fraction": self.network.num_parameters() / self.initial_params,
            # a fit with no budget can end larger than it started (densification added more than pruning cut)
            "params_grew": self.network.num_parameters() > self.initial_params,
            "architecture_initial": self.initial_architecture,
            "architecture_final": self.network.widths(),
            "steps": cfg.steps,
            "steps_completed": self.step,
            # seconds of the fitting loop; aire.save_run adds seconds_total (loading, final metrics, exports)
            "seconds": fitted,
            "seconds_fit": fitted,
            "rollbacks": self.guard.rollbacks if self.guard else 0,
            "diverged": self.guard.diverged if self.guard else False,
            "precision": cfg.precision,
            "compiles": self.compiler.compiles if self.compiler else 0,
            **({"compile": self.compiler.summary()} if self.compiler else {}),
            "final_loss": final["loss"],  # of the last step kept (a rollback discards later ones)
        }
        budget = self.schedule_config.target_params
        if budget is not None:
            own["budget_held"] = own["params_final"] <= budget * self.initial_params
            if not own["budget_held"] and not self.should_stop:
                warn(f"the fit ended at {own['params_fraction']:.1%} of the parameters, above --target-params "
                     f"{budget:g}: schedule {self.schedule_config.kind!r} did not prune to the budget", __name__)
        return join_metrics(self.signal, metrics, own, "the trainer's own metrics")

    # ------------------------------------------------------------------ state
    def state_dict(self, exclude: str | None = None) -> dict[str, Any]:
        """Everything needed to continue from the top of `self.step`, as deep copies; the callback
        whose state_key is `exclude` is left out (the guard's snapshots leave out the guard)."""
        return {
            "format_version": FORMAT_VERSION,
            "step": self.step,
            **model_state(self.network, self.optimizer, self.model),
            "events": copy.deepcopy(self.events),
            "initial_params": self.initial_params,
            "initial_architecture": list(self.initial_architecture),
            "elapsed": self.elapsed(),
            "rng": {"generator": self.generator.get_state(), "device_generator": self.device_generator.get_state(),
                    "device": str(self.device_generator.device)},
            "callbacks": {c.state_key: c.state_dict() for c in self.callbacks
                          if c.state_key and c.state_key != exclude},
        }

    def load_state_dict(self, state: dict[str, Any], clock: bool = True) -> None:
        """Put a state back: tensors of its shapes, a fresh optimizer with its moments, generators,
        events, each callback's state (those it holds), and (with `clock`) the fitting time."""
        load_model_state(self.network, state, self.model)
        self.optimizer = make_optimizer(self.model, self.train_config.lr)
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.step, self.events = state["step"], copy.deepcopy(state["events"])
        self.initial_params, self.initial_architecture = state["initial_params"], list(state["initial_architecture"])
        if clock:
            self._clock = (state["elapsed"], time.perf_counter())
        self.generator.set_state(state["rng"]["generator"])
        if state["rng"]["device"] == str(self.device_generator.device):
            self.device_generator.set_state(state["rng"]["device_generator"])
        elif clock:  # resumed on another device (a CUDA checkpoint on a CPU): its generator cannot be carried
            warn(f"the checkpoint's random state for {state['rng']['device']} was dropped (this fit runs on "
                 f"{self.device_generator.device}): random draws inside the loss will differ from an "
                 "uninterrupted fit", __name__)
        for callback in self.callbacks:
            if callback.state_key in state["callbacks"]:
                callback.load_state_dict(state["callbacks"][callback.state_key])

    def rewind(self, state: dict[str, Any]) -> None:
        """Go back to an earlier state within this fit (a rollback): the clock keeps running and the
        step in progress ends without evaluation or checkpoint."""
        self.load_state_dict(state, clock=False)
        self._rewound = True
