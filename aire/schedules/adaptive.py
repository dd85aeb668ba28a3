"""The ``aire`` schedule: warm-up, then cycles of [densify -> targeted weight decay -> prune], then
fine-tuning (AIRe, arXiv 2510.23943; timing in aire.train.schedule.plan).

Targeted weight decay (TWD): the targeted outgoing columns are
excluded from Adam's update (gradients zeroed after backward, moments reset when chosen) and scaled
by (1 - alpha_t) after each optimizer step, alpha_t ramped linearly to alpha_max. They really reach
~0, so by Theorem 2 the structured cut at the end of the phase (every column below epsilon, plus
stubborn targets when a parameter budget must hold) barely changes f.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import torch

from aire.config import ConfigError, ScheduleConfig, TrainConfig
from aire.hookspecs import hookimpl
from aire.interfaces import DensificationPolicy, DensifyContext, PruningCriterion, Schedule, TrainerView
from aire.notices import warn
from aire.pruning.certified import CutPrediction, predict_change
from aire.pruning.compensate import least_squares_compensation
from aire.schedules import cuts
from aire.targets import (CutOutcome, QualityTarget, TargetMode, anticipate_plan, improvement_rate, optimistic_end,
                          projected_margin, propose_fraction, resolve)
from aire.theory.boundprop import removal_change
from aire.theory.bounds import pruning_bound
from aire.train import schedule as sched

#: what a prune event's measured "recovered" says until the recovery has ended (then the quality
#: measured replaces it, in history.json and history.jsonl alike)
PENDING = "pending: measured when the recovery ends (the next cycle's start or the end of the fit)"
#: sample points of a cut's Monte-Carlo PSNR estimate and measured root mean square change
PREDICTION_POINTS = 4096
#: wall-clock cap of one cut's branch and bound, whatever its box budget (the bound stays rigorous)
CERTIFICATE_SECONDS = 20.0


class AireSchedule(Schedule):
    """Densify, TWD and prune at the steps of ``sched.plan(config, steps)``.

    State (``state_dict``): the TWD targets per sine layer (indices into the layer's neurons), the
    current TWD phase (start step, length), the input neurons born this cycle (never TWD targets)
    and the step where the learning-rate decay restarted (the last cut, with ``lr_rewind``).
    """

    honours_targets = True  # target_psnr / target_chamfer: see the "quality target" methods
    #: what to change when TWD leaves targets above epsilon (the stubborn-target warning's last sentence)
    twd_advice = "Lengthen twd_length or raise alpha_max."

    def __init__(self, config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                 **settings: Any) -> None:
        self.config, self.criterion, self.policy = config, criterion, policy
        self.mode = TargetMode.from_settings(settings)  # how a quality target is cut to (aire.targets.TargetMode)
        self.cycles: list[sched.Cycle] = []
        self.twd_targets: dict[int, torch.Tensor] = {}
        #: (layer, count, largest column L1) of each layer's cut that removed TWD targets still above epsilon
        self.stubborn: list[tuple[int, int, float]] = []
        self.twd_phase: tuple[int, int] | None = None  # (start step, length)
        self.protected = torch.empty(0, dtype=torch.long)  # input neurons born this cycle
        self.lr_origin = 0
        # quality target (aire.targets): the last network that held it and the cuts kept
        self.target: QualityTarget | None = None
        self.held: dict[str, Any] | None = None
        self.accepted: list[dict[str, Any]] = []
        self.cutting = True  # False once no smaller cut is worth trying (the last broke the target and was undone)
        self.held_margin = 0.0  # the held network's margin to the target at its last check
        self.outcomes: list[CutOutcome] = []  # every cut measured after its recovery, oldest first
        self.next_fraction = config.prune_fraction  # of the held network's parameters, for the next cut
        self.predicted_rate: float | None = None  # Theorem 2 / predict_cut: PSNR drop per unit fraction, held network
        self.samples: list[tuple[int, float]] = []  # (step, quality) at the checks before the target first holds
        self.real_held: dict[str, Any] | None = None  # the last network whose measured quality held the target
        self.rate: float | None = None  # "anticipate": the warm-up's margin gained per e-fold of steps
        self.check_step: int | None = None  # "anticipate": the check after the last cut's recovery
        self.out_of_reach: str | None = None  # why the target is out of reach of the starting network, once known
        # the schedule's own draws (a data-aware criterion's inputs, compensation points): the batches stay put
        self.generator = torch.Generator().manual_seed(0)

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: TrainerView) -> None:
        from aire.train.trainer import seeded_generator

        self.target = resolve(self.config, trainer.signal)
        self.cycles = self.plan(trainer.train_config.steps)
        if self.anticipates:
            phases, self.check_step = anticipate_plan(trainer.train_config.steps, self.config.warmup, self.mode.end,
                                                      self.mode.cuts, self.config.twd_length)
            self.cycles = [sched.Cycle(index=i, start=a, prune=b) for i, (a, b) in enumerate(phases)]
        self.generator = seeded_generator(trainer.train_config.seed, 2)
        self.check_budget(trainer)

    def plan(self, steps: int) -> list[sched.Cycle]:
        """The cycles of a run of `steps` steps (aire.train.schedule.plan); variants re-time them."""
        return sched.plan(self.config, steps)

    def before_step(self, trainer: TrainerView, step: int) -> None:
        if self.cutting and any(step == cycle.prune for cycle in self.cycles) and (
                self.target is None or self.twd_phase is not None):  # to a target: only a cycle that began cuts
            self.prune(trainer)
        if any(step == cycle.start for cycle in self.cycles):
            self._record_recovery(trainer)
        for cycle in self.cycles:
            if step == cycle.start and self.cutting and self.check_target(trainer):
                self.begin_cycle(trainer, cycle)
        if step == self.check_step and self.cutting and self.target is not None:
            self._record_recovery(trainer)
            self.check_target(trainer)  # the last cut's recovery: kept or undone, and no more cuts
            self.cutting = False

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
        if trainer.should_stop:
            self._record_recovery(trainer, "the fit stopped (divergence guard) before the recovery ended")
        else:
            self._record_recovery(trainer)
        if self.twd_targets and not trainer.should_stop:
            self.prune(trainer)
            trainer.evaluate(trainer.history[-1]["loss"])
            self._record_recovery(trainer)  # a cut at the last step: no steps to recover
        if self.target is not None and self.held is not None and not trainer.should_stop:
            row = trainer.history[-1]
            if self.target.metric not in row:  # a costly metric (Chamfer): measured now
                row = {**row, **self._measure(trainer)}
            if self._changed(trainer):  # the last cut, measured after what recovery the run had left
                self.outcomes.append(CutOutcome(self._cut_fraction(trainer), self.held_margin,
                                                self.target.margin(row[self.target.metric]), self.predicted_rate))
            if self.target.holds(row[self.target.metric]):
                self._accept(trainer, row)
            elif self.real_held is not None and self._changed(trainer, self.real_held):
                self._undo(trainer, stop=True, state=self.real_held)  # the smallest network that held, measured
                trainer.evaluate(row["loss"])

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        """metrics["target"]: the metric, the target, whether the final network holds it, and the
        parameters (and quality) at the start and after every accepted cut. And one line when a fit
        without a budget ended larger than it started (metrics.json records it as ``params_grew`` and
        ``params_fraction``): densification then added more than pruning removed."""
        self._record_recovery(trainer, "the fit ended before the recovery did")  # none left normally
        self._say_stubborn()
        if metrics.get("params_grew") and self.config.target_params is None and self.target is None:
            warn(
                f"the fit ended larger than it started ({metrics['params_initial']} -> {metrics['params_final']} "
                f"parameters, {metrics['params_fraction']:.0%}): without target_params, densification added more "
                "than pruning removed; set target_params (e.g. --target-params 1.0) to cap the size", __name__)
        if self.target is None:
            return
        key = self.target.metric
        held = bool(self.target.holds(metrics.get(key)))
        finite = lambda v: v if v is None or math.isfinite(v) else None  # noqa: E731 (a cut that left no mesh)
        metrics["target"] = {**self.target.record(), "held": held, "accepted": list(self.accepted),
                             "cuts": [{k: finite(v) for k, v in attrs.asdict(o).items()} for o in self.outcomes]}
        if not held:
            metrics["target"]["missed"] = self.out_of_reach or "not reached by the end of the run"
            if self.out_of_reach is None:  # (out of reach: said when it was found)
                warn(f"{self.target.option} {self.target.value:g} was not held: {key} {metrics.get(key)} at the end; "
                     "the final network is kept", __name__)

    def learning_rate(self, step: int, train: TrainConfig) -> float:
        """Exponential decay lr -> lr_final over the run, restarted at the last cut with lr_rewind."""
        return cuts.rewound_lr(step, train, self.lr_origin)

    def state_dict(self) -> dict[str, Any]:
        import copy

        return {"twd_targets": {k: v.clone() for k, v in self.twd_targets.items()}, "twd_phase": self.twd_phase,
                "protected": self.protected.clone(), "lr_origin": self.lr_origin,
                "held": copy.deepcopy(self.held), "accepted": copy.deepcopy(self.accepted), "cutting": self.cutting,
                "held_margin": self.held_margin, "outcomes": [attrs.asdict(o) for o in self.outcomes],
                "next_fraction": self.next_fraction, "predicted_rate": self.predicted_rate,
                "samples": list(self.samples), "real_held": copy.deepcopy(self.real_held), "rate": self.rate,
                "out_of_reach": self.out_of_reach}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import copy

        self.twd_targets = {int(k): v.clone() for k, v in state["twd_targets"].items()}
        self.twd_phase = None if state["twd_phase"] is None else tuple(state["twd_phase"])
        self.protected = state["protected"].clone()
        self.lr_origin = state["lr_origin"]
        self.held, self.accepted = copy.deepcopy(state.get("held")), copy.deepcopy(state.get("accepted", []))
        self.cutting = state.get("cutting", True)
        self.held_margin = state.get("held_margin", 0.0)
        self.outcomes = [CutOutcome(**o) for o in state.get("outcomes", [])]
        self.next_fraction = state.get("next_fraction", self.config.prune_fraction)
        self.predicted_rate = state.get("predicted_rate")
        self.samples = [tuple(x) for x in state.get("samples", [])]
        self.real_held = copy.deepcopy(state.get("real_held", self.held))
        self.rate = state.get("rate")
        self.out_of_reach = state.get("out_of_reach")

    # --------------------------------------------------------- quality target
    def _measure(self, trainer: TrainerView) -> dict[str, Any]:
        """The model's metrics now: evaluate(), plus final_metrics() when the target's metric is only
        there (the SDF's Chamfer distance, on an extracted mesh)."""
        model = trainer.model
        model.eval()
        with torch.no_grad():
            row = dict(trainer.signal.evaluate(model))
        if self.target.metric not in row:
            row.update(trainer.signal.final_metrics(model))
        model.train()
        if self.target.metric not in row:
            known = ", ".join(k for k, v in row.items() if isinstance(v, float))
            raise ConfigError(f"{self.target.option}: the signal reports no {self.target.metric} "
                              f"(its metrics: {known})")
        return row

    def _accept(self, trainer: TrainerView, row: dict[str, Any], margin: float | None = None) -> None:
        """Keep the network as the last that held the target and record it (once per architecture).
        margin: the margin it holds with ("anticipate": projected to the last step; default: measured).
        A network whose measured quality holds the target is also kept as the fallback of the end."""
        from aire.train.state import model_state

        key = self.target.metric
        params = trainer.network.num_parameters()
        measured = self.target.margin(row[key])
        margin = measured if margin is None else margin
        if not self.accepted or self.accepted[-1]["params"] != params:
            entry = {"step": trainer.step, "params": params, key: float(row[key])}
            if margin != measured:
                entry["projected_margin"] = float(margin)
            self.accepted.append(entry)
            trainer.log_event("target_held", **entry)
        self.held = model_state(trainer.network, trainer.optimizer, trainer.model)
        self.held_margin = margin
        if measured >= 0.0:
            self.real_held = self.held

    def _undo(self, trainer: TrainerView, stop: bool, state: dict[str, Any] | None = None) -> None:
        """Put back the last network that held the target (tensors and Adam moments), or `state`; with
        `stop`, cut no more."""
        from aire.train.state import load_model_state
        from aire.train.trainer import make_optimizer

        state = self.held if state is None else state
        load_model_state(trainer.network, state, trainer.model)
        trainer.optimizer = make_optimizer(trainer.model, trainer.train_config.lr)
        trainer.optimizer.load_state_dict(state["optimizer"])
        self.cutting = not stop
        self.twd_targets, self.twd_phase = {}, None
        trainer.log_event("target_undo")

    def _changed(self, trainer: TrainerView, state: dict[str, Any] | None = None) -> bool:
        """Whether the architecture differs from the held network's, or `state`'s (a cut, or a densification, since)."""
        state = self.held if state is None else state
        return state is not None and [tuple(w.shape) for w in state["weights"]] != [
            tuple(w.shape) for w in trainer.network.weights]

    def _cut_fraction(self, trainer: TrainerView) -> float:
        """The fraction of the held network's parameters the network now lacks (the last cut, densification
        included; never below 0)."""
        return max(0.0, 1.0 - trainer.network.num_parameters() / self.accepted[-1]["params"])

    def _smallest_fraction(self, trainer: TrainerView) -> float:
        """The fraction of the parameters one neuron fewer in every pruned layer removes."""
        network = trainer.network
        widths = network.widths()[:-1]
        layers = self.prunable_layers(network)
        fewer = [w - 1 if i in layers and w > 1 else w for i, w in enumerate(widths)]
        inputs, outputs = network.weights[0].shape[1], trainer.signal.out_features
        full = sched.count_parameters(inputs, widths, outputs)
        return (full - sched.count_parameters(inputs, fewer, outputs)) / full

    def _predict_rate(self, trainer: TrainerView, row: dict[str, Any]) -> float | None:
        """PSNR drop per unit fraction that cutting prune_fraction of each pruned layer's lowest-scoring
        neurons would cause at once (aire.pruning.certified.predict_cut, Theorem 2's companion estimate on
        4096 of the signal's points), for signals whose samples are the network's inputs and outputs
        (images); None elsewhere. Only its ratio to the measured drop after recovery is used."""
        from aire.pruning.certified import predict_cut

        if self.target.metric != "psnr" or trainer.model is not trainer.network:
            return None
        network, probe = trainer.network, self.config.prune_fraction
        generator = torch.Generator().manual_seed(int(trainer.train_config.seed))
        x, y = trainer.signal.sample(4096, generator)
        drop = 0.0
        for layer in self.prunable_layers(network):
            k = min(int(round(probe * network.widths()[layer])), network.widths()[layer] - 1)
            if k > 0:
                neurons = self.criterion.select(network, layer, k, None).cpu()
                drop += predict_cut(network, layer, neurons, float(row["psnr"]), x, y).psnr_drop_estimate
        return drop / probe if drop > 0 else None

    def _plan_next_cut(self, trainer: TrainerView, row: dict[str, Any]) -> bool:
        """Size the next cut from the held network's margin and the cuts measured so far
        (aire.targets.propose_fraction); False (and no more cutting) when none is worth trying."""
        self.predicted_rate = self._predict_rate(trainer, row)
        first = self.mode.first if self.anticipates and self.mode.first is not None else self.config.prune_fraction
        self.next_fraction = propose_fraction(self.held_margin, self.outcomes, first=first,
                                              smallest=self._smallest_fraction(trainer),
                                              predicted_rate=self.predicted_rate)
        if self.next_fraction <= 0.0:
            self.cutting = False
            return False
        trainer.log_event("target_next_cut", fraction=self.next_fraction, margin=self.held_margin)
        return True

    def check_target(self, trainer: TrainerView) -> bool:
        """At the start of a cycle (after warm-up or a cut's recovery): whether this cycle cuts, and how much.
        A network that holds the target is kept and the next cut sized; one that misses it after a cut
        is replaced by the last that held it and a smaller cut is tried (bisection) while one is worth
        trying; missing it before any cut delays the cycles, or is out of reach (_check_reach)."""
        if self.target is None:
            return True
        row = self._measure(trainer)
        value = row[self.target.metric]
        margin = self._margin(trainer, value)
        if self._changed(trainer):  # a cut was made since the held network: measure how it did
            self.outcomes.append(CutOutcome(self._cut_fraction(trainer), self.held_margin, margin, self.predicted_rate))
        if margin >= 0.0:
            self._accept(trainer, row, margin)
            return self._plan_next_cut(trainer, row)
        if self.target.holds(value):  # a measured hold the projection doubts ("anticipate" after a cut): the fallback
            from aire.train.state import model_state

            self.real_held = model_state(trainer.network, trainer.optimizer, trainer.model)
        if self.held is None and self.anticipates:  # not projected to hold yet: this cycle does not cut
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.samples.append((trainer.step, float(value)))
            if len(self.samples) > 1:
                self._check_reach(trainer, self.samples)
            return False
        if self.held is None:  # not reached yet: this and the later cycles wait (those that no longer fit go)
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.samples.append((trainer.step, float(value)))
            if len(self.samples) > 1:  # a trend: fail now when even it cannot reach the target
                self._check_reach(trainer, self.samples)
            delay = max(1, int(round(self.config.cycle_gap * trainer.train_config.steps)))
            steps = trainer.train_config.steps
            self.cycles = [c if c.start < trainer.step else sched.Cycle(c.index, c.start + delay, c.prune + delay)
                           for c in self.cycles]
            self.cycles = [c for c in self.cycles if c.prune < steps]
            return False
        self._undo(trainer, stop=False)
        return self._plan_next_cut(trainer, {**row, **{self.target.metric: self.accepted[-1][self.target.metric]}})

    @property
    def anticipates(self) -> bool:
        """Whether a quality target is cut to in the "anticipate" mode (aire.targets.TargetMode)."""
        return self.target is not None and self.mode.mode == "anticipate"

    def _margin(self, trainer: TrainerView, value: Any) -> float:
        """The margin a check decides on: measured, or ("anticipate") projected to the last step with the
        warm-up's improvement rate (aire.targets.projected_margin), which the first check measures from
        the history (None, so no projection, for a metric the history lacks: the SDF's Chamfer)."""
        margin = self.target.margin(value)
        if not self.anticipates:
            return margin
        steps, key = trainer.train_config.steps, self.target.metric
        if self.rate is None and not self.accepted:
            samples = [(h["step"], h[key]) for h in trainer.history if isinstance(h.get(key), (int, float))
                       and h["step"] < trainer.step]
            samples.append((trainer.step, value))
            self.rate = improvement_rate(samples, self.target)
        return projected_margin(margin, self.rate, trainer.step, steps, self.mode.kappa)

    def _check_reach(self, trainer: TrainerView, samples: list[tuple[int, float]]) -> None:
        """When even the optimistic straight line through the quality so far (aire.targets.optimistic_end)
        cannot reach the target by the last step: say so at once (one line, the quality reached), cut no
        more and train on, so the run still ends with the starting network trained to the end (the closest
        it gets), which metrics.json reports as not holding the target ("missed": this line)."""
        if self.out_of_reach is not None:
            return
        steps, (step, value) = trainer.train_config.steps, samples[-1]
        reachable = optimistic_end(samples, steps, self.target.higher_is_better)
        if self.target.holds(reachable) or self.real_held is not None:
            return
        rate = (reachable - value) / max(1, steps - step)
        bound = "at most" if self.target.higher_is_better else "at least"
        self.out_of_reach = (
            f"{self.target.option} {self.target.value:g} is out of reach of the starting network: "
            f"{self.target.metric} {value:.4g} at step {step}, changing {100 * rate:.2g} per 100 steps ({bound} "
            f"{reachable:.4g} by step {steps}); widen the network, train longer or relax the target")
        self.cutting = False
        warn(f"{self.out_of_reach}; training on without cuts, the run is written and reports the target as not held",
             __name__)

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        """Before the target first holds (and after warm-up): fail early when even the optimistic
        straight-line extrapolation of the quality's trend over the second half of the steps so far
        cannot reach it by the last step (quality curves flatten)."""
        steps = trainer.train_config.steps
        if self.target is None or self.held is not None or self.out_of_reach or not 0 < trainer.step < steps:
            return
        key = self.target.metric
        if not isinstance(row.get(key), (int, float)):  # a costly metric: checked at the cycles' starts
            return
        if trainer.step < int(round(self.config.warmup * steps)) or self.target.holds(row[key]):
            return
        samples = [(h["step"], h[key]) for h in trainer.history if isinstance(h.get(key), (int, float))]
        if not samples or samples[-1][0] != trainer.step:
            samples.append((trainer.step, row[key]))
        if len(samples) > 1:
            self._check_reach(trainer, samples)

    # ------------------------------------------------------------- the phases
    def prunable_layers(self, network: Any) -> list[int]:
        return cuts.prunable_layers(network, self.config.prune_layers)

    def densify_count(self, input_width: int, cycle: int = 0) -> int:
        """Input frequencies cycle `cycle` (0-based) adds: densify_k, or densify_fraction of the input width
        (to a quality target in the "anticipate" mode: only in its first densify_cycles cycles)."""
        if self.anticipates and cycle >= self.mode.densify_cycles:
            return 0
        k = self.config.densify_k
        return int(round(self.config.densify_fraction * input_width)) if k is None else int(k)

    def check_budget(self, trainer: TrainerView) -> None:
        """Fail early, naming the setting, when the budget cannot be met by pruning the chosen layers."""
        if self.config.target_params is None or not self.cycles:
            return
        widths = list(trainer.initial_architecture[:-1])
        for cycle in self.cycles:  # the input width after every densification
            widths[0] += self.densify_count(widths[0], cycle.index)
        layers = self.prunable_layers(trainer.network)
        smallest = [1 if i in layers else w for i, w in enumerate(widths)]
        minimum = sched.count_parameters(trainer.network.weights[0].shape[1], smallest, trainer.signal.out_features)
        target = self.config.target_params * trainer.initial_params
        if minimum > target:
            raise ConfigError(
                f"target_params {self.config.target_params} is out of reach: pruning sine layers {layers} "
                f"(with densification) leaves at least {minimum} of {trainer.initial_params} parameters; "
                "add layers to prune_layers (0 = input frequencies) or lower densification")

    def frequencies_to_add(self, trainer: TrainerView, cycle: sched.Cycle) -> int:
        """The input frequencies `cycle` adds: densify_count, paid from the parameters the run ends with
        under a budget (else from the cycle's target to a quality target), in proportion
        (aire.schedules.cuts.affordable_frequencies). `trainer` needs network, signal and initial_params."""
        network = trainer.network
        k_new = self.densify_count(network.widths()[0], cycle.index)
        budget = self.config.target_params
        target = budget * trainer.initial_params if budget is not None else self._params_target(trainer, cycle)
        if k_new > 0 and target is not None:
            k_new = cuts.affordable_frequencies(network.weights[0].shape[1], network.widths()[:-1],
                                                trainer.signal.out_features, self.prunable_layers(network), target,
                                                k_new)
        return k_new

    def _params_target(self, trainer: TrainerView, cycle: sched.Cycle) -> float | None:
        """The parameters the network may have after `cycle`'s cut (densification included), or None
        without a parameter budget or quality target to size it."""
        if self.config.target_params is not None:
            return self.cycle_target(trainer.initial_params, cycle)
        if self.target is not None and self.accepted:
            # each cut, densification included, leaves (1 - next_fraction) of the last network that held the target
            return self.accepted[-1]["params"] * (1.0 - self.next_fraction)
        return None

    def _k_per_layer(self, trainer: TrainerView, cycle: sched.Cycle) -> dict[int, int]:
        network = trainer.network
        widths = network.widths()[:-1]
        layers = self.prunable_layers(network)
        target = self._params_target(trainer, cycle)
        if target is None:
            return {i: int(round(self.config.prune_fraction * widths[i])) for i in layers}
        new = sched.budget_widths(network.weights[0].shape[1], widths, trainer.signal.out_features, layers, target)
        return {i: widths[i] - new[i] for i in layers}

    def cycle_target(self, initial_params: int, cycle: sched.Cycle) -> float:
        """Parameters left after `cycle` under target_params: geometric steps to the budget."""
        return sched.cycle_target(initial_params, self.config.target_params, cycle.index, len(self.cycles))

    def begin_cycle(self, trainer: TrainerView, cycle: sched.Cycle) -> None:
        """Densify, then choose the TWD targets and reset their Adam moments."""
        network = trainer.network
        self.protected = torch.empty(0, dtype=torch.long)
        k_new = self.frequencies_to_add(trainer, cycle)
        if k_new > 0:
            context = DensifyContext(trainer.signal, network, trainer.backend)
            rows, bias = self.policy.propose(network, network.encoding, k_new, context)
            before = network.widths()[0]
            network.insert_input_frequencies(rows, bias, trainer.optimizer)
            self.protected = torch.arange(before, before + rows.shape[0])
            trainer.log_event("densify", added=int(rows.shape[0]))
            trainer.registry.emit("aire_after_densify", trainer=trainer, added=int(rows.shape[0]))
        self.twd_targets = {}
        cuts.show_inputs(self.criterion, trainer, self.generator)
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

    def _say_stubborn(self) -> None:
        """One line for the whole fit when cuts removed TWD targets still above epsilon (for the budget): how
        many, at how many layer cuts, the largest column L1 left; each cut's residual_column_l1 and Theorem 2
        bound are in its prune event."""
        if not self.stubborn:
            return
        count = sum(n for _, n, _ in self.stubborn)
        layer, _, largest = max(self.stubborn, key=lambda r: r[2])
        warn(f"TWD left {count} targets above epsilon at {len(self.stubborn)} layer cuts (largest column L1 "
             f"{largest:.3g}, layer {layer}); they were cut anyway, as the budget or quality target asks (each cut's "
             f"residual_column_l1 and theorem2_bound are in its prune event). {self.twd_advice}", __name__)
        self.stubborn = []

    def _neurons_to_cut(self, network: Any, layer: int) -> torch.Tensor:
        """Neurons whose outgoing column L1 norm is below epsilon; with a parameter budget, the TWD
        targets still above it too (with a warning), so the budget holds. Never the whole layer."""
        norms = network.outgoing(layer).detach().abs().sum(dim=0)
        remove = norms < self.config.epsilon
        targets = self.twd_targets.get(layer)
        budgeted = self.config.target_params is not None or self.target is not None
        if budgeted and targets is not None:
            stubborn = targets[~remove[targets]]
            if stubborn.numel():  # said once, at the end of the fit (_say_stubborn)
                self.stubborn.append((layer, int(stubborn.numel()), float(norms[stubborn].max())))
            remove[targets] = True
        neurons = remove.nonzero().flatten()
        if neurons.numel() >= norms.numel():  # always keep the strongest neuron
            neurons = neurons[neurons != torch.argmax(norms)]
        return neurons

    def _record_cut(self, trainer: TrainerView, layer: int, neurons: torch.Tensor) -> dict[str, Any]:
        """What the "prune" event records about a cut, measured before the surgery: the removed
        columns' L1 norm and Theorem 2's bound on the change of f (removal alone, without
        compensation). prune() adds the "predicted" and "measured" records."""
        norms = trainer.network.outgoing(layer).detach().abs().sum(dim=0)
        return {"residual_column_l1": float(norms[neurons].sum()),
                "theorem2_bound": pruning_bound(trainer.network, layer, neurons.cpu().numpy())}

    # ------------------------------------------------------ cut prediction
    def quality(self, trainer: TrainerView) -> float | str:
        """The signal's quality metric (``signal.quality_key``) of the model now, from the last history
        row when it was evaluated at this step on this architecture, else evaluated (in eval mode);
        a sentence instead when the signal's metrics lack it."""
        last = trainer.history[-1] if trainer.history else {}
        key = trainer.signal.quality_key
        if (last.get("step") == trainer.step and last.get("params") == trainer.network.num_parameters()
                and isinstance(last.get(key), (int, float)) and not self._surgery_since(trainer, last)):
            return float(last[key])
        model = trainer.model
        model.eval()
        with torch.no_grad():
            row = trainer.signal.evaluate(model)
        model.train()
        value = row.get(key)
        return float(value) if isinstance(value, (int, float)) else f"the signal's metrics have no {key!r}"

    @staticmethod
    def _surgery_since(trainer: TrainerView, row: dict[str, Any]) -> bool:
        """Whether a cut or densification was logged at the row's step: the row may then predate it
        (a compensated cut changes weights the parameter count does not show), so it is not reused."""
        return any(e["step"] == row["step"] and e["event"] in ("prune", "densify") for e in trainer.events)

    def predict_cut(self, trainer: TrainerView, layer: int, neurons: Any, quality: float | str | None = None,
                    new_outgoing: torch.Tensor | None = None, certify: bool = True, *,
                    new_bias: torch.Tensor | None = None) -> CutPrediction:
        """The prediction for a proposed cut of `neurons` of sine layer `layer`, before making it (the
        network is not modified): the public entry for code that sizes cuts (e.g. the quality target).

        quality: the signal's quality now (evaluated when None; see `quality`). new_outgoing: the
        stored-form outgoing matrix the cut would leave, cut columns included (least-squares
        compensation refits the kept ones); None means plain removal. new_bias: the next layer's bias the
        cut would leave (a refit of the next layer, e.g. aire-lsq), None: unchanged. With a PSNR signal
        (``signal.output_psnr_peak``) the prediction has the rigorous PSNR drop bound and the
        Monte-Carlo estimate (PREDICTION_POINTS points of a generator of its own, so predicting
        never moves the fit's random streams); otherwise the notes say why not. certify: run the
        branch and bound with ``cut_certificate_boxes`` boxes (capped at CERTIFICATE_SECONDS).
        See aire.pruning.certified.CutPrediction for which number is rigorous and which an estimate.
        """
        from aire.train.trainer import seeded_generator

        network, signal = trainer.network, trainer.signal
        idx = torch.as_tensor(neurons).reshape(-1).cpu().numpy()
        canonical, new_w, new_b = removal_change(network, layer, idx)
        scale = network.omega(canonical) if canonical < network.num_sine_layers else 1.0  # canonical: omega_0 absorbed
        if new_outgoing is not None:
            new_w = new_outgoing.detach().double().cpu().numpy() * scale
            new_w[:, idx] = 0.0
        if new_bias is not None:
            new_b = new_bias.detach().double().cpu().numpy() * scale
        peak = getattr(signal, "output_psnr_peak", None)
        if quality is None:
            quality = self.quality(trainer) if peak is not None else None
        generator = seeded_generator(trainer.train_config.seed, 1000 + trainer.step)
        if peak is not None:
            points, targets = signal.sample(PREDICTION_POINTS, generator)
        else:
            points, targets = signal.network_inputs(PREDICTION_POINTS, generator), None
        boxes = int(self.config.cut_certificate_boxes)
        settings = None
        if certify and boxes > 0:
            d = network.weights[0].shape[1]
            settings = {"max_boxes": boxes, "initial": max(2, int((boxes / 4) ** (1 / d))),
                        "time_limit": CERTIFICATE_SECONDS, "device": network.weights[0].device}
        psnr = quality if peak is not None and isinstance(quality, (int, float)) else None
        prediction = predict_change(network, (canonical, new_w, new_b), psnr, points, targets, peak=peak or 2.0,
                                    certify=settings)
        notes = dict(prediction.notes)
        if settings is None and certify:
            notes["certificate"] = "not run: cut_certificate_boxes is 0 (change_bound is the vector bound)"
        if peak is None:
            why = f"the signal's quality ({signal.quality_key}) is not a PSNR of the network output"
            notes["psnr_drop_bound"] = notes["psnr_drop_estimate"] = why
        elif psnr is None:
            notes["psnr_drop_bound"] = notes["psnr_drop_estimate"] = f"no quality to start from: {quality}"
        return attrs.evolve(prediction, notes=notes)

    def _record_recovery(self, trainer: TrainerView, reason: str | None = None) -> None:
        """Fill the measured "recovered" quality (and "recovered_step") of the cuts still waiting for
        it: the quality now (the start of a cycle, or the end of the fit), or `reason` where there is
        none to measure. The prune events in trainer.events are completed in place: history.json has
        them whole, and history.jsonl rewrites itself when an event it wrote has changed."""
        waiting = [e for e in trainer.events
                   if e["event"] == "prune" and isinstance(e.get("measured"), dict) and e["measured"].get("recovered") == PENDING]
        if not waiting:
            return
        value = reason if reason is not None else self.quality(trainer)
        for event in waiting:
            event["measured"].update(recovered=value, recovered_step=trainer.step)

    def compensate(self, trainer: TrainerView, layer: int, neurons: torch.Tensor) -> None:
        """Before `neurons` of `layer` go: with ``compensate``, the least-squares refit of the kept
        outgoing columns (aire.pruning.compensate) on 4096 training inputs."""
        if self.config.compensate:
            x = trainer.signal.network_inputs(4096, trainer.generator)
            least_squares_compensation(trainer.network, layer, neurons, x)

    def _compensation(self, trainer: TrainerView, layer: int,
                      neurons: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Run compensate() and return the next layer's (weight, bias) it made, with the network put back
        as it was (so the cut is predicted from the network before it), or (None, None) when it changed
        nothing. compensate() may change only sine layer `layer` + 1's weight and bias."""
        network = trainer.network
        weight, bias = network.outgoing(layer), network.biases[layer + 1]
        saved = weight.detach().clone(), bias.detach().clone()
        others = [p for p in network.parameters() if p is not weight and p is not bias]
        before = [p.detach().clone() for p in others]
        self.compensate(trainer, layer, neurons)
        if any(not torch.equal(p.detach(), q) for p, q in zip(others, before)):
            raise RuntimeError(f"{type(self).__name__}.compensate changed parameters beyond layer {layer + 1}'s "
                               "weight and bias; the cut's prediction would not cover them")
        if torch.equal(weight.detach(), saved[0]) and torch.equal(bias.detach(), saved[1]):
            return None, None
        new = weight.detach().clone(), bias.detach().clone()
        with torch.no_grad():
            weight.copy_(saved[0])
            bias.copy_(saved[1])
        return new

    def prune(self, trainer: TrainerView) -> None:
        """Cut every prunable layer (see _neurons_to_cut), end the TWD phase, rewind the lr decay.

        Each cut's "prune" event records, besides _record_cut's fields, "predicted" (predict_cut:
        the certified bound on the output change and the PSNR drop it implies, made before the
        cut, compensation included) and "measured" (the signal's quality right before and right
        after the cut, and once the recovery ends, after it): (1 + layers cut) evaluations per
        prune plus one at the end of the recovery when no history row falls there."""
        network = trainer.network
        key, higher = trainer.signal.quality_key, trainer.signal.higher_is_better
        before: float | str | None = None
        for layer in self.prunable_layers(network):
            neurons = self._neurons_to_cut(network, layer)
            if neurons.numel() == 0:
                continue
            record = self._record_cut(trainer, layer, neurons)
            if before is None:
                before = self.quality(trainer)
            trainer.registry.emit("aire_before_prune", trainer=trainer, layer=layer, neurons=neurons)
            new_outgoing, new_bias = self._compensation(trainer, layer, neurons)
            prediction = self.predict_cut(trainer, layer, neurons, before, new_outgoing, new_bias=new_bias)
            if new_outgoing is not None:  # the compensated next layer, as compensate() left it
                with torch.no_grad():
                    network.outgoing(layer).copy_(new_outgoing)
                    network.biases[layer + 1].copy_(new_bias)
            network.remove_neurons(layer, neurons, trainer.optimizer)
            after = self.quality(trainer)
            measured: dict[str, Any] = {"metric": key, "before": before, "after_cut": after, "recovered": PENDING}
            if isinstance(before, float) and isinstance(after, float):
                measured["drop"] = before - after if higher else after - before
            trainer.log_event("prune", layer=layer, removed=int(neurons.numel()), **record,
                              predicted=prediction.as_dict(), measured=measured)
            trainer.registry.emit("aire_after_prune", trainer=trainer, layer=layer, removed=int(neurons.numel()))
            before = after
        self.twd_targets = {}
        self.twd_phase = None
        if self.config.lr_rewind:
            self.lr_origin = trainer.step


def aire_schedule(config: ScheduleConfig, criterion: PruningCriterion, policy: DensificationPolicy,
                  **settings: Any) -> AireSchedule:
    """Factory of the ``aire`` schedule; settings: the quality-target mode's ``target_*`` (aire.targets.TargetMode)."""
    return AireSchedule(config, criterion, policy, **settings)


@hookimpl
def aire_add_schedules() -> dict:
    return {"aire": aire_schedule}
