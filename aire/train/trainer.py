"""The training loop: plain steps plus the AIRe schedule (densify, targeted weight decay, prune).

Targeted weight decay (TWD) as measured in SPEC section 6: the targeted outgoing columns are
excluded from Adam's update (gradients zeroed, moments reset) and scaled by (1 - alpha_t) after
each step, alpha_t ramped linearly to alpha_max. They really reach ~0, so by Theorem 2 the
structured cut at the end of the phase barely changes f.
"""

from __future__ import annotations

import math
import time
import warnings
from types import MappingProxyType
from typing import Any

import attrs
import torch
from tqdm.auto import tqdm

from aire.config import ConfigError, ScheduleConfig, TrainConfig
from aire.interfaces import Backend, DensificationPolicy, DensifyContext, Encoding, PruningCriterion, Signal
from aire.nn.sine_mlp import SineMLP
from aire.pruning.compensate import least_squares_compensation
from aire.plugins import PluginRegistry, get_registry
from aire.theory.bounds import pruning_bound
from aire.train import schedule as sched
from aire.train.precision import autocast, matmul_precision
from aire.train.state import capture, restore, save_checkpoint


@attrs.define
class FitResult:
    """What a fit returns: the (adapted) network, final metrics and the history over steps."""

    network: SineMLP
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    events: list[dict[str, Any]]


def make_optimizer(network: torch.nn.Module, lr: float, extra: Any = ()) -> torch.optim.Optimizer:
    """Adam over the trainable parameters of the network and of the signal's extra modules; the
    fused kernel where this torch has it."""
    params = [p for p in network.parameters() if p.requires_grad]
    params += [p for m in extra for p in m.parameters() if p.requires_grad]
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


class Trainer:
    """Fits a network to a signal, adapting its architecture by the schedule."""

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
    ) -> None:
        self.registry = registry or get_registry()
        self.backend = backend
        self.signal = signal
        self.network = network
        self.train_config = train
        self.schedule = schedule
        self.criterion = criterion or self.registry.create("criterion", schedule.criterion)
        self.policy = policy or self.registry.create("policy", schedule.policy)
        self.encoding: Encoding = network.encoding
        self.optimizer = make_optimizer(network, train.lr, signal.extra_modules())
        self.history: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.step = 0
        self.initial_params = network.num_parameters()
        self.initial_architecture = network.widths()
        self.twd_targets: dict[int, torch.Tensor] = {}
        self.twd_phase: tuple[int, int] | None = None  # (start step, length)
        self.protected: torch.Tensor = torch.empty(0, dtype=torch.long)  # input neurons born this cycle
        self.generator = torch.Generator().manual_seed(train.seed)
        self._lr_origin = 0  # step where the current lr decay began
        self.lr_scale = 1.0  # lowered by the divergence guard
        self.rollbacks = 0
        self.best_loss = math.inf
        self.diverged = False
        self.compiles = 0  # torch.compile (re)compilations: one per architecture with compile on
        self._compiled: tuple[tuple[int, ...], torch.nn.Module] | None = None
        self._guard_best: torch.Tensor | None = None  # on-device running best loss
        self._guard_fail: torch.Tensor | None = None  # on-device first failing step, -1 while healthy
        self._elapsed_offset = 0.0
        self._t0 = time.perf_counter()

    # --------------------------------------------------------------- schedule
    def prunable_layers(self) -> list[int]:
        n = self.network.num_sine_layers
        layers = self.schedule.prune_layers
        chosen = (list(range(1, n)) or [0]) if layers is None else [int(i) for i in layers]
        bad = [i for i in chosen if i >= n]
        if bad:
            raise ConfigError(f"prune_layers {bad} do not exist: the network has sine layers 0..{n - 1}")
        return chosen

    def densify_count(self, input_width: int) -> int:
        """Input frequencies a cycle adds: densify_k, or densify_fraction of the input width."""
        k = self.schedule.densify_k
        return int(round(self.schedule.densify_fraction * input_width)) if k is None else int(k)

    def _k_per_layer(self, cycle: sched.Cycle, n_cycles: int) -> dict[int, int]:
        widths = self.network.widths()[:-1]
        layers = self.prunable_layers()
        if self.schedule.target_params is None:
            return {i: int(round(self.schedule.prune_fraction * widths[i])) for i in layers}
        target = sched.cycle_target(self.initial_params, self.schedule.target_params, cycle.index, n_cycles)
        new = sched.budget_widths(self.network.weights[0].shape[1], widths, self.signal.out_features, layers, target)
        return {i: widths[i] - new[i] for i in layers}

    def begin_cycle(self, cycle: sched.Cycle, n_cycles: int) -> None:
        """Densify, then choose the TWD targets and reset their Adam moments."""
        self.protected = torch.empty(0, dtype=torch.long)
        k_new = self.densify_count(self.network.widths()[0])
        if k_new > 0:
            context = DensifyContext(self.signal, self.network, self.backend)
            rows, bias = self.policy.propose(self.network, self.encoding, k_new, context)
            before = self.network.widths()[0]
            self.network.insert_input_frequencies(rows, bias, self.optimizer)
            self.protected = torch.arange(before, before + rows.shape[0])
            self._event("densify", added=int(rows.shape[0]))
            self.registry.emit("aire_after_densify", trainer=self, added=int(rows.shape[0]))
        self.twd_targets = {}
        for layer, k in self._k_per_layer(cycle, n_cycles).items():
            width = self.network.widths()[layer]
            k = min(k, width - 1)
            if k <= 0:
                continue
            exclude = self.protected if layer == 0 else None
            targets = self.criterion.select(self.network, layer, k, exclude).to(self.network.weights[0].device)
            self.twd_targets[layer] = targets
            self._reset_moments(layer, targets)
        self.twd_phase = (cycle.start, cycle.prune - cycle.start)
        self._event("twd_start", targets={str(l): int(t.numel()) for l, t in self.twd_targets.items()})

    def _reset_moments(self, layer: int, targets: torch.Tensor) -> None:
        weight = self.network.outgoing(layer)
        state = self.optimizer.state.get(weight, {})
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            if key in state:
                state[key][:, targets] = 0.0

    def prune(self) -> None:
        """Remove every neuron of a prunable layer whose outgoing column L1 norm is below epsilon.

        With a parameter budget, TWD targets still above epsilon (phase too short to decay them)
        are removed too, with a warning, so the budget holds.
        """
        eps = self.schedule.epsilon
        for layer in self.prunable_layers():
            norms = self.network.outgoing(layer).detach().abs().sum(dim=0)
            remove = norms < eps
            targets = self.twd_targets.get(layer)
            if self.schedule.target_params is not None and targets is not None:
                stubborn = targets[~remove[targets]]
                if stubborn.numel():
                    warnings.warn(
                        f"TWD left {stubborn.numel()} targets of layer {layer} above epsilon "
                        f"(max column L1 {float(norms[stubborn].max()):.3g}); removing them for the budget. "
                        "Lengthen twd_length or raise alpha_max.", stacklevel=1)
                remove[targets] = True
            neurons = remove.nonzero().flatten()
            if neurons.numel() >= norms.numel():  # always keep the strongest neuron
                neurons = neurons[neurons != torch.argmax(norms)]
            if neurons.numel() == 0:
                continue
            residual = float(norms[neurons].sum())
            bound = pruning_bound(self.network, layer, neurons.cpu().numpy())
            self.registry.emit("aire_before_prune", trainer=self, layer=layer, neurons=neurons)
            if self.schedule.compensate:
                x = self.signal.network_inputs(4096, self.generator)
                least_squares_compensation(self.network, layer, neurons, x)
            self.network.remove_neurons(layer, neurons, self.optimizer)
            self._event("prune", layer=layer, removed=int(neurons.numel()), residual_column_l1=residual,
                        theorem2_bound=bound)
            self.registry.emit("aire_after_prune", trainer=self, layer=layer, removed=int(neurons.numel()))
        self.twd_targets = {}
        self.twd_phase = None
        if self.schedule.lr_rewind:
            self._lr_origin = self.step

    def _event(self, kind: str, **info: Any) -> None:
        self.events.append({"step": self.step, "event": kind, "params": self.network.num_parameters(),
                            "architecture": self.network.widths(), **info})

    # ------------------------------------------------------------------- loop
    def _lr(self, step: int) -> float:
        """Exponential decay lr -> lr_final over the run, restarted at the last cut with lr_rewind."""
        cfg = self.train_config
        start = self._lr_origin
        return self.lr_scale * cfg.lr * (cfg.lr_final / cfg.lr) ** ((step - start) / max(1, cfg.steps - start))

    def elapsed(self) -> float:
        """Seconds of fitting so far, across resumes."""
        return self._elapsed_offset + time.perf_counter() - self._t0

    def set_elapsed(self, seconds: float) -> None:
        self._elapsed_offset, self._t0 = seconds, time.perf_counter()

    def _twd_update(self) -> None:
        """After the optimizer step: decay the targeted columns (their grads were zeroed before)."""
        start, length = self.twd_phase
        a = sched.alpha(self.step - start, length, self.schedule.alpha_max)
        with torch.no_grad():
            for layer, targets in self.twd_targets.items():
                w = self.network.outgoing(layer)
                w[:, targets] *= 1.0 - a

    def evaluate(self, loss: float | None = None) -> dict[str, Any]:
        self.network.eval()
        metrics = self.signal.evaluate(self.network)
        self.network.train()
        metrics.update(self.registry.evaluate_extra(self, self.step, metrics))  # plugins' extra metrics
        row = {"step": self.step, "loss": loss, "params": self.network.num_parameters(), **metrics,
               "seconds": self.elapsed()}
        self.history.append(row)
        return row

    def check_budget(self, n_cycles: int) -> None:
        """Fail early, naming the setting, when the budget cannot be met by pruning the chosen layers."""
        if self.schedule.target_params is None or n_cycles == 0:
            return
        widths = self.network.widths()[:-1]
        for _ in range(n_cycles):  # the input width after every densification
            widths[0] += self.densify_count(widths[0])
        layers = self.prunable_layers()
        smallest = [1 if i in layers else w for i, w in enumerate(widths)]
        minimum = sched.count_parameters(self.network.weights[0].shape[1], smallest, self.signal.out_features)
        target = self.schedule.target_params * self.initial_params
        if minimum > target:
            raise ConfigError(
                f"target_params {self.schedule.target_params} is out of reach: pruning sine layers {layers} "
                f"(with densification) leaves at least {minimum} of {self.initial_params} parameters; "
                "add layers to prune_layers (0 = input frequencies) or lower densification")

    def _guard_reset(self) -> None:
        """Start the on-device guard state from the host's best loss (at start, resume, rollback)."""
        device = self.network.weights[0].device
        self._guard_best = torch.tensor(self.best_loss, dtype=torch.float32, device=device)
        self._guard_fail = torch.tensor(-1, dtype=torch.long, device=device)

    def _guard_observe(self, loss: torch.Tensor, step: int) -> None:
        """Without a device sync: note `step` as the first failure if the loss is NaN/Inf or
        guard_factor times the best seen, else lower the running best."""
        value = loss.detach().float()
        bad = ~torch.isfinite(value) | (value > self.train_config.guard_factor * self._guard_best)
        healthy = self._guard_fail < 0
        self._guard_fail = torch.where(healthy & bad, step, self._guard_fail)
        self._guard_best = torch.where(healthy & ~bad, torch.minimum(self._guard_best, value), self._guard_best)

    def _guard_verdict(self) -> int | None:
        """One device sync (at eval boundaries only): the first failing step, or None; refreshes best_loss."""
        best, fail = torch.stack([self._guard_best.double(), self._guard_fail.double()]).tolist()
        if fail >= 0:
            return int(fail)
        self.best_loss = best
        return None

    def _training_model(self) -> torch.nn.Module:
        """The module the training step calls: the network, or its torch.compile wrapper when
        compile is on. Surgery and rollbacks replace parameters, so the compiled graph is dropped
        (torch.compiler.reset) and rebuilt whenever the parameter objects change; `compiles` counts it."""
        if not self.train_config.compile:
            return self.network
        key = tuple(id(p) for p in self.network.parameters())
        if self._compiled is None or self._compiled[0] != key:
            if self._compiled is not None:
                torch.compiler.reset()
            self._compiled = (key, torch.compile(self.network, dynamic=False))
            self.compiles += 1
        return self._compiled[1]

    def _roll_back(self, snapshot: dict[str, Any], at_step: int) -> bool:
        """Restore the last good state with a lower lr; False once the failures are used up."""
        cfg = self.train_config
        rollbacks = self.rollbacks + 1
        restore(self, snapshot)
        self.rollbacks = rollbacks
        self._event("rollback", failed_at=at_step, to_step=self.step)
        if rollbacks > cfg.guard_max_failures:
            warnings.warn(f"training diverged {rollbacks} times (last at step {at_step}); stopping with the last "
                          f"good model from step {self.step}", stacklevel=1)
            self.diverged = True
            return False
        self.lr_scale = snapshot["schedule_state"]["lr_scale"] * cfg.guard_lr_factor
        warnings.warn(f"loss diverged at step {at_step}; rolled back to step {self.step}, learning rate x{self.lr_scale:g}",
                      stacklevel=1)
        return True

    def fit(self, resume: dict[str, Any] | None = None, checkpoint_dir: Any = None,
            checkpoint_extra: dict[str, Any] | None = None) -> FitResult:
        """Run (or, given a state from `aire.train.state`, continue) the fit.

        With `checkpoint_dir` and `train.checkpoint_every`, a checkpoint is written atomically every
        that many steps; `resume` continues exactly from one.
        """
        with matmul_precision(self.train_config.precision):
            return self._fit(resume, checkpoint_dir, checkpoint_extra)

    def _fit(self, resume: dict[str, Any] | None, checkpoint_dir: Any, checkpoint_extra: dict[str, Any] | None) -> FitResult:
        cfg = self.train_config
        cycles = sched.plan(self.schedule, cfg.steps)
        self.check_budget(len(cycles))
        starts = {c.start: c for c in cycles}
        prunes = {c.prune for c in cycles}
        step_hook = self.registry.has_impls("aire_step_end")
        if resume is not None:
            restore(self, resume)
        else:
            self.set_elapsed(0.0)
            self.registry.emit("aire_fit_start", trainer=self)
            self.evaluate()
        snapshot = capture(self) if cfg.guard else None
        if cfg.guard:
            self._guard_reset()
        device = self.network.weights[0].device
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not cfg.progress, desc="fit", unit="step",
                   dynamic_ncols=True, leave=False)
        signal = self.signal
        loss = None
        step = self.step
        while step < cfg.steps:
            self.step = step
            if step in prunes:
                self.prune()
            if step in starts:
                self.begin_cycle(starts[step], len(cycles))
            net, opt = self.network, self.optimizer
            for group in opt.param_groups:
                group["lr"] = self._lr(step)
            x, y = signal.sample(cfg.batch_size, self.generator)
            with autocast(cfg.precision, device):
                loss = signal.training_loss(self._training_model(), x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.twd_targets:
                for layer, targets in self.twd_targets.items():
                    grad = net.outgoing(layer).grad
                    if grad is not None:
                        grad[:, targets] = 0.0
            opt.step()
            if self.twd_targets:
                self._twd_update()
            if step_hook:
                self.registry.emit("aire_step_end", trainer=self, step=step, loss=loss)
            boundary = (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps
            # the guard observes on the device; its verdict (one sync) is read only where the host
            # needs a good state anyway: eval boundaries (snapshots) and checkpoints
            verdict = boundary or bool(checkpoint_dir is not None and cfg.checkpoint_every
                                       and (step + 1) % cfg.checkpoint_every == 0)
            if cfg.guard and ((step + 1) % cfg.guard_check_every == 0 or verdict):
                self._guard_observe(loss, step)
            if cfg.guard and verdict and (failed := self._guard_verdict()) is not None:
                if not self._roll_back(snapshot, failed):
                    break
                self._guard_reset()
                step = self.step
                bar.update(step - bar.n)
                continue
            step += 1
            self.step = step
            if boundary:
                row = self.evaluate(float(loss.detach()))
                bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k == signal.quality_key} | {"params": row["params"]})
                bar.update(step - bar.n)
                if cfg.guard and all(math.isfinite(v) for v in row.values() if isinstance(v, float)):
                    snapshot = capture(self)
            if checkpoint_dir is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                save_checkpoint(capture(self), checkpoint_dir, checkpoint_extra)
        bar.close()
        if self.twd_targets and not self.diverged:  # a TWD phase that ran to the last step still ends in a cut
            self.prune()
            self.evaluate(None if loss is None else float(loss.detach()))
        final = self.history[-1]
        metrics = {k: v for k, v in final.items() if k not in ("step", "loss", "params", "seconds")}
        self.network.eval()
        metrics.update(self.signal.final_metrics(self.network))
        self.network.train()
        metrics.update({
            "params_initial": self.initial_params,
            "params_final": self.network.num_parameters(),
            "architecture_initial": self.initial_architecture,
            "architecture_final": self.network.widths(),
            "steps": cfg.steps,
            "steps_completed": self.step,
            "seconds": self.elapsed(),
            "rollbacks": self.rollbacks,
            "diverged": self.diverged,
            "precision": cfg.precision,
            "compiles": self.compiles,
            "final_loss": None if loss is None else float(loss.detach()),
        })
        self.registry.emit("aire_fit_end", trainer=self, metrics=MappingProxyType(metrics))
        return FitResult(network=self.network, metrics=metrics, history=self.history, events=self.events)
