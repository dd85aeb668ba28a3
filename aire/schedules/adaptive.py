"""The ``aire`` schedule: warm-up, then cycles of [densify -> targeted weight decay -> prune], then
fine-tuning (AIRe, arXiv 2510.23943; timing in aire.train.schedule.plan).

Targeted weight decay (TWD) as measured in SPEC section 6: the targeted outgoing columns are
excluded from Adam's update (gradients zeroed after backward, moments reset when chosen) and scaled
by (1 - alpha_t) after each optimizer step, alpha_t ramped linearly to alpha_max. They really reach
~0, so by Theorem 2 the structured cut at the end of the phase (every column below epsilon, plus
stubborn targets when a parameter budget must hold) barely changes f.
"""

from __future__ import annotations

from typing import Any

import torch

from aire.config import ConfigError, ScheduleConfig, TrainConfig
from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, DensifyContext, PruningCriterion, Schedule, TrainerView
from aire.notices import warn
from aire.pruning.compensate import least_squares_compensation
from aire.theory.bounds import pruning_bound
from aire.train import schedule as sched


class AireSchedule(Schedule):
    """Densify, TWD and prune at the steps of ``sched.plan(config, steps)``.

    State (``state_dict``): the TWD targets per sine layer (indices into the layer's neurons), the
    current TWD phase (start step, length), the input neurons born this cycle (never TWD targets)
    and the step where the learning-rate decay restarted (the last cut, with ``lr_rewind``).
    """

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy) -> None:
        self.config, self.criterion, self.policy = config, criterion, policy
        self.cycles: list[sched.Cycle] = []
        self.twd_targets: dict[int, torch.Tensor] = {}
        self.twd_phase: tuple[int, int] | None = None  # (start step, length)
        self.protected = torch.empty(0, dtype=torch.long)  # input neurons born this cycle
        self.lr_origin = 0
        # quality target (ScheduleConfig.target_psnr): the last network that held it and the cuts kept
        self.held: dict[str, Any] | None = None
        self.accepted: list[dict[str, Any]] = []
        self.cutting = True  # False once a cut broke the target (and was undone)

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: TrainerView) -> None:
        self.cycles = sched.plan(self.config, trainer.train_config.steps)
        self.check_budget(trainer)

    def before_step(self, trainer: TrainerView, step: int) -> None:
        if self.cutting and any(step == cycle.prune for cycle in self.cycles):
            self.prune(trainer)
        for cycle in self.cycles:
            if step == cycle.start and self.cutting and self.check_target(trainer):
                self.begin_cycle(trainer, cycle)

    def after_backward(self, trainer: TrainerView, step: int) -> None:
        """Exclude the targeted columns from the optimizer's update."""
        for layer, targets in self.twd_targets.items():
            grad = trainer.network.outgoing(layer).grad
            if grad is not None:
                grad[:, targets] = 0.0

    def after_step(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        """Decay the targeted columns by (1 - alpha_t)."""
        if not self.twd_targets:
            return
        start, length = self.twd_phase
        a = sched.alpha(step - start, length, self.config.alpha_max)
        with torch.no_grad():
            for layer, targets in self.twd_targets.items():
                trainer.network.outgoing(layer)[:, targets] *= 1.0 - a

    def on_train_end(self, trainer: TrainerView) -> None:
        """A TWD phase that ran to the last step still ends in a cut (not after a divergence stop);
        with a quality target, a final network that misses it is replaced by the last that held it."""
        if self.twd_targets and not trainer.should_stop:
            self.prune(trainer)
            trainer.evaluate(trainer.history[-1]["loss"])
        if self.config.target_psnr is not None and self.held is not None and not trainer.should_stop:
            row = trainer.history[-1]
            if self._holds(row[self._target_key(trainer, row)]):
                self._accept(trainer, row)
            elif self.cutting:
                self._undo(trainer)
                trainer.evaluate(row["loss"])

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        """metrics["target"]: the metric, the target, whether the final network holds it, and the
        parameters (and quality) at the start and after every accepted cut. And one line when a fit
        without a budget ended larger than it started (metrics.json records it as ``params_grew`` and
        ``params_fraction``): densification then added more than pruning removed."""
        if metrics.get("params_grew") and self.config.target_params is None and self.config.target_psnr is None:
            warn(
                f"the fit ended larger than it started ({metrics['params_initial']} -> {metrics['params_final']} "
                f"parameters, {metrics['params_fraction']:.0%}): without target_params, densification added more "
                "than pruning removed; set target_params (e.g. --target-params 1.0) to cap the size", __name__)
        if self.config.target_psnr is None:
            return
        key = self._target_key(trainer, metrics)
        held = bool(self._holds(metrics[key]))
        metrics["target"] = {"metric": key, "value": self.config.target_psnr, "higher_is_better": True,
                             "held": held, "accepted": list(self.accepted)}
        if not held:
            warn(f"target_psnr {self.config.target_psnr:g} was not reached: {key} {metrics[key]:.4g} "
                 "at the end, no cut made", __name__)

    def learning_rate(self, step: int, train: TrainConfig) -> float:
        """Exponential decay lr -> lr_final over the run, restarted at the last cut with lr_rewind."""
        start = self.lr_origin
        return train.lr * (train.lr_final / train.lr) ** ((step - start) / max(1, train.steps - start))

    def state_dict(self) -> dict[str, Any]:
        import copy

        return {"twd_targets": {k: v.clone() for k, v in self.twd_targets.items()}, "twd_phase": self.twd_phase,
                "protected": self.protected.clone(), "lr_origin": self.lr_origin,
                "held": copy.deepcopy(self.held), "accepted": copy.deepcopy(self.accepted), "cutting": self.cutting}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import copy

        self.twd_targets = {int(k): v.clone() for k, v in state["twd_targets"].items()}
        self.twd_phase = None if state["twd_phase"] is None else tuple(state["twd_phase"])
        self.protected = state["protected"].clone()
        self.lr_origin = state["lr_origin"]
        self.held, self.accepted = copy.deepcopy(state.get("held")), copy.deepcopy(state.get("accepted", []))
        self.cutting = state.get("cutting", True)

    # --------------------------------------------------------- quality target
    def _target_key(self, trainer: TrainerView, row: dict[str, Any]) -> str:
        """The PSNR metric the target is about: the signal's quality key when it is a PSNR, else "psnr"."""
        key = trainer.signal.quality_key if "psnr" in trainer.signal.quality_key else "psnr"
        if not isinstance(row.get(key), (int, float)):
            known = ", ".join(k for k, v in row.items() if isinstance(v, float) and k not in ("loss", "seconds"))
            raise ConfigError(f"target_psnr: this signal reports no PSNR (its metrics: {known})")
        return key

    def _holds(self, value: float) -> bool:
        return value >= self.config.target_psnr

    def _accept(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        """Keep the network as the last that held the target and record it (once per architecture)."""
        from aire.train.state import model_state

        key = self._target_key(trainer, row)
        params = trainer.network.num_parameters()
        if not self.accepted or self.accepted[-1]["params"] != params:
            self.accepted.append({"step": trainer.step, "params": params, key: float(row[key])})
            trainer.log_event("target_held", **{key: float(row[key])})
        self.held = model_state(trainer.network, trainer.optimizer, trainer.model)

    def _undo(self, trainer: TrainerView) -> None:
        """Put back the last network that held the target (tensors and Adam moments); stop cutting."""
        from aire.train.state import load_model_state
        from aire.train.trainer import make_optimizer

        load_model_state(trainer.network, self.held, trainer.model)
        trainer.optimizer = make_optimizer(trainer.model, trainer.train_config.lr)
        trainer.optimizer.load_state_dict(self.held["optimizer"])
        self.cutting = False
        self.twd_targets, self.twd_phase = {}, None
        trainer.log_event("target_undo")

    def check_target(self, trainer: TrainerView) -> bool:
        """At the start of a cycle (after warm-up or a cut's recovery): whether cutting goes on. A
        network that holds the target is kept; one that misses it after a cut is replaced by the
        last that held it and cutting stops; missing it before any cut is out of reach (ConfigError)."""
        if self.config.target_psnr is None:
            return True
        trainer.network.eval()
        with torch.no_grad():
            row = dict(trainer.signal.evaluate(trainer.network))
        trainer.network.train()
        key = self._target_key(trainer, row)
        if self._holds(row[key]):
            self._accept(trainer, row)
            return True
        if self.held is None:  # not reached yet: this and the later cycles wait (those that no longer fit go)
            delay = max(1, int(round(self.config.cycle_gap * trainer.train_config.steps)))
            steps = trainer.train_config.steps
            self.cycles = [c if c.start < trainer.step else sched.Cycle(c.index, c.start + delay, c.prune + delay)
                           for c in self.cycles]
            self.cycles = [c for c in self.cycles if c.prune < steps]
            return False
        self._undo(trainer)
        return False

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        """Before the target first holds: fail early when even the optimistic straight-line
        extrapolation of the quality's rise over the second half of the steps so far cannot reach it
        by the last step (PSNR rises ever more slowly)."""
        steps = trainer.train_config.steps
        if self.config.target_psnr is None or self.held is not None or not 0 < trainer.step < steps:
            return
        key = self._target_key(trainer, row)
        earlier = [h for h in trainer.history if h["step"] <= trainer.step // 2 and isinstance(h.get(key), (int, float))]
        warm = int(round(self.config.warmup * steps))
        if not earlier or trainer.step < warm or self._holds(row[key]):
            return
        then = earlier[-1]
        rate = max(0.0, (row[key] - then[key]) / max(1, trainer.step - then["step"]))
        reachable = row[key] + rate * (steps - trainer.step)
        if reachable < self.config.target_psnr:
            raise ConfigError(
                f"target_psnr {self.config.target_psnr:g} is out of reach of the starting network: {key} {row[key]:.4g} "
                f"at step {trainer.step}, rising {100 * rate:.2g} dB per 100 steps (at most {reachable:.4g} by step "
                f"{steps}); widen the network, train longer or lower the target")

    # ------------------------------------------------------------- the phases
    def prunable_layers(self, network: Any) -> list[int]:
        n = network.num_sine_layers
        layers = self.config.prune_layers
        chosen = (list(range(1, n)) or [0]) if layers is None else [int(i) for i in layers]
        bad = [i for i in chosen if i >= n]
        if bad:
            raise ConfigError(f"prune_layers {bad} do not exist: the network has sine layers 0..{n - 1}")
        return chosen

    def densify_count(self, input_width: int) -> int:
        """Input frequencies a cycle adds: densify_k, or densify_fraction of the input width."""
        k = self.config.densify_k
        return int(round(self.config.densify_fraction * input_width)) if k is None else int(k)

    def check_budget(self, trainer: TrainerView) -> None:
        """Fail early, naming the setting, when the budget cannot be met by pruning the chosen layers."""
        if self.config.target_params is None or not self.cycles:
            return
        widths = list(trainer.initial_architecture[:-1])
        for _ in self.cycles:  # the input width after every densification
            widths[0] += self.densify_count(widths[0])
        layers = self.prunable_layers(trainer.network)
        smallest = [1 if i in layers else w for i, w in enumerate(widths)]
        minimum = sched.count_parameters(trainer.network.weights[0].shape[1], smallest, trainer.signal.out_features)
        target = self.config.target_params * trainer.initial_params
        if minimum > target:
            raise ConfigError(
                f"target_params {self.config.target_params} is out of reach: pruning sine layers {layers} "
                f"(with densification) leaves at least {minimum} of {trainer.initial_params} parameters; "
                "add layers to prune_layers (0 = input frequencies) or lower densification")

    def _k_per_layer(self, trainer: TrainerView, cycle: sched.Cycle) -> dict[int, int]:
        network = trainer.network
        widths = network.widths()[:-1]
        layers = self.prunable_layers(network)
        if self.config.target_params is not None:
            target = sched.cycle_target(trainer.initial_params, self.config.target_params, cycle.index, len(self.cycles))
        elif self.config.target_psnr is not None and self.accepted:
            # each cut, densification included, leaves (1 - prune_fraction) of the last network that held the target
            target = self.accepted[-1]["params"] * (1.0 - self.config.prune_fraction)
        else:
            return {i: int(round(self.config.prune_fraction * widths[i])) for i in layers}
        new = sched.budget_widths(network.weights[0].shape[1], widths, trainer.signal.out_features, layers, target)
        return {i: widths[i] - new[i] for i in layers}

    def begin_cycle(self, trainer: TrainerView, cycle: sched.Cycle) -> None:
        """Densify, then choose the TWD targets and reset their Adam moments."""
        network = trainer.network
        self.protected = torch.empty(0, dtype=torch.long)
        k_new = self.densify_count(network.widths()[0])
        if k_new > 0:
            context = DensifyContext(trainer.signal, network, trainer.backend)
            rows, bias = self.policy.propose(network, network.encoding, k_new, context)
            before = network.widths()[0]
            network.insert_input_frequencies(rows, bias, trainer.optimizer)
            self.protected = torch.arange(before, before + rows.shape[0])
            trainer.log_event("densify", added=int(rows.shape[0]))
            trainer.registry.emit("aire_after_densify", trainer=trainer, added=int(rows.shape[0]))
        self.twd_targets = {}
        for layer, k in self._k_per_layer(trainer, cycle).items():
            k = min(k, network.widths()[layer] - 1)
            if k <= 0:
                continue
            exclude = self.protected if layer == 0 else None
            targets = self.criterion.select(network, layer, k, exclude).to(network.weights[0].device)
            self.twd_targets[layer] = targets
            self._reset_moments(trainer.optimizer, network.outgoing(layer), targets)
        self.twd_phase = (cycle.start, cycle.prune - cycle.start)
        trainer.log_event("twd_start", targets={str(l): int(t.numel()) for l, t in self.twd_targets.items()})

    @staticmethod
    def _reset_moments(optimizer: torch.optim.Optimizer, weight: torch.Tensor, targets: torch.Tensor) -> None:
        state = optimizer.state.get(weight, {})
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            if key in state:
                state[key][:, targets] = 0.0

    def _neurons_to_cut(self, network: Any, layer: int) -> torch.Tensor:
        """Neurons whose outgoing column L1 norm is below epsilon; with a parameter budget, the TWD
        targets still above it too (with a warning), so the budget holds. Never the whole layer."""
        norms = network.outgoing(layer).detach().abs().sum(dim=0)
        remove = norms < self.config.epsilon
        targets = self.twd_targets.get(layer)
        budgeted = self.config.target_params is not None or self.config.target_psnr is not None
        if budgeted and targets is not None:
            stubborn = targets[~remove[targets]]
            if stubborn.numel():
                warn(
                    f"TWD left {stubborn.numel()} targets of layer {layer} above epsilon "
                    f"(max column L1 {float(norms[stubborn].max()):.3g}); removing them for the budget. "
                    "Lengthen twd_length or raise alpha_max.", __name__)
            remove[targets] = True
        neurons = remove.nonzero().flatten()
        if neurons.numel() >= norms.numel():  # always keep the strongest neuron
            neurons = neurons[neurons != torch.argmax(norms)]
        return neurons

    def _record_cut(self, trainer: TrainerView, layer: int, neurons: torch.Tensor) -> dict[str, Any]:
        """What the "prune" event records about a cut, measured before the surgery: the removed
        columns' L1 norm and Theorem 2's bound on the change of f. The place to add a predicted
        quality drop (a ``predicted`` field) for each cut."""
        norms = trainer.network.outgoing(layer).detach().abs().sum(dim=0)
        return {"residual_column_l1": float(norms[neurons].sum()),
                "theorem2_bound": pruning_bound(trainer.network, layer, neurons.cpu().numpy())}

    def prune(self, trainer: TrainerView) -> None:
        """Cut every prunable layer (see _neurons_to_cut), end the TWD phase, rewind the lr decay."""
        network = trainer.network
        for layer in self.prunable_layers(network):
            neurons = self._neurons_to_cut(network, layer)
            if neurons.numel() == 0:
                continue
            record = self._record_cut(trainer, layer, neurons)
            trainer.registry.emit("aire_before_prune", trainer=trainer, layer=layer, neurons=neurons)
            if self.config.compensate:
                x = trainer.signal.network_inputs(4096, trainer.generator)
                least_squares_compensation(network, layer, neurons, x)
            network.remove_neurons(layer, neurons, trainer.optimizer)
            trainer.log_event("prune", layer=layer, removed=int(neurons.numel()), **record)
            trainer.registry.emit("aire_after_prune", trainer=trainer, layer=layer, removed=int(neurons.numel()))
        self.twd_targets = {}
        self.twd_phase = None
        if self.config.lr_rewind:
            self.lr_origin = trainer.step


def aire_schedule(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy) -> AireSchedule:
    """Factory of the ``aire`` schedule."""
    return AireSchedule(config, criterion, policy)


@hookimpl
def aire_add_schedules() -> dict:
    return {"aire": aire_schedule}
