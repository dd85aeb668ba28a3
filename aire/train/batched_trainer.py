"""The training loop of N fits at once on a :class:`aire.nn.batched_mlp.BatchedSineMLP`.

Each member follows its own single fit (aire.train.trainer.Trainer with the ``aire``, ``aire-cubic``
or ``none`` schedule, BATCHED_SCHEDULES): the same step timeline (the schedule's ``plan``: AIRe's
few cycles, or aire-cubic's 8 short cut intervals), learning rate, loss (the member's
``signal.loss``), Adam update, densification (the policy proposes per member), TWD targets (the
criterion selects per member), cut rule and evaluations. The widths stay shared because every member
adds and removes the same number of neurons per layer; a member whose count would differ (e.g. a
column below epsilon besides the TWD targets), or whose loss diverges (the single fit's guard rule,
checked at the same steps), leaves the batch: it is frozen at zero and reported in ``left``, and
the caller fits it alone (aire.many.batched), where the ordinary guard rolls it back.

With ``compile`` on, the members' loss is compiled once the architecture is final, where that pays
(aire.train.batched_compile). Not done here (such jobs are not batched, see aire.many.batched.batch_key): tf32/bf16,
least-squares compensation, checkpoints, signals with their own training loss; plugin events
(aire_after_densify, aire_before_prune, aire_evaluate, ...) are not emitted for batch members.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace
from typing import Any, Sequence

import torch

from aire.config import ScheduleConfig, TrainConfig
from aire.interfaces import Backend, DensificationPolicy, DensifyContext, PruningCriterion, Signal
from aire.nn.batched_mlp import BatchedSineMLP
from aire.nn.sine_mlp import SineMLP
from aire.plugins import get_registry
from aire.signals.image import ImageSignal
from aire.theory.bounds import pruning_bound
from aire.train import schedule as sched
from aire.train.batched_adam import BatchedAdam
from aire.train.batched_compile import BatchedCompiler
from aire.train.trainer import FitResult, seeded_generator

#: the schedules a batch runs: AireSchedule and its cubic re-timing (per cycle: densify, TWD, cut) and
#: plain training; variants that refit weights at a cut (aire-lsq, aire-cubic-lsq) or size cuts by a
#: quality target are not batched
BATCHED_SCHEDULES = ("aire", "aire-cubic", "none")


class BatchedTrainer:
    """Fits `networks[n]` to `signals[n]` with seed `seeds[n]`, all at once; ``fit()`` returns one
    FitResult per member (None for members that left the batch, listed in ``left`` with the reason)."""

    def __init__(self, signals: Sequence[Signal], networks: Sequence[SineMLP], seeds: Sequence[int],
                 train: TrainConfig, schedule: ScheduleConfig, criterion: PruningCriterion,
                 policy: DensificationPolicy, backend: Backend | None = None) -> None:
        if schedule.kind not in BATCHED_SCHEDULES:
            raise ValueError(f"batched fitting runs the schedules {', '.join(BATCHED_SCHEDULES)}, not {schedule.kind!r}")
        self.signals, self.train, self.config = list(signals), train, schedule
        self.criterion, self.policy, self.backend = criterion, policy, backend
        self.network = BatchedSineMLP(networks)
        self.n = self.network.members
        self.optimizer = BatchedAdam(self.network, train.lr)
        self.schedule = get_registry().create("schedule", schedule.kind, schedule, criterion=criterion, policy=policy,
                                             **schedule.settings)
        self.generators = [seeded_generator(s, 0) for s in seeds]
        self.device = self.network.weights[0].device
        self.initial_params, self.initial_architecture = self.network.num_parameters(), self.network.widths()
        self.histories: list[list[dict[str, Any]]] = [[] for _ in range(self.n)]
        self.events: list[list[dict[str, Any]]] = [[] for _ in range(self.n)]
        self.left: dict[int, str] = {}
        self.step = 0
        self.twd_targets: dict[int, torch.Tensor] = {}  # layer -> (N, width) bool mask
        self.twd_phase: tuple[int, int] | None = None
        self._best = torch.full((self.n,), math.inf, device=self.device)
        self._fail = torch.zeros(self.n, dtype=torch.bool, device=self.device)
        self._seeded = False
        self.compiler: BatchedCompiler | None = None
        full = train.batch_size is None or all(train.batch_size >= s.coords.shape[0] for s in self.signals)
        self._full = None
        if full:
            x, _ = self.signals[0].sample(None)
            if any(not torch.equal(s.sample(None)[0], x) for s in self.signals):
                raise ValueError("full-batch members must share their inputs (images of one size)")
            self._full = (x.unsqueeze(0), torch.stack([s.sample(None)[1] for s in self.signals]))
            self._full_channels = self._full[1].transpose(1, 2).contiguous()  # (N, out, P): forward_channels' layout
        # members whose loss is ImageSignal.loss (F.mse_loss, the mean over pixels and channels) share one
        # batched reduction; a signal with a loss of its own gets it called per member
        self._mse = all(type(s).loss is ImageSignal.loss for s in self.signals)

    # ------------------------------------------------------------------ loop
    def fit(self) -> list[FitResult | None]:
        self._start = time.perf_counter()
        cycles = self.schedule.plan(self.train.steps) if self.config.kind != "none" else []
        if cycles:
            self.schedule.cycles = cycles
            self.schedule.check_budget(self._view())
        self.evaluate([None] * self.n)
        if self.train.compile and self._mse and self._full is not None:  # from the last cut on (BatchedCompiler)
            self.compiler = BatchedCompiler(self.mse_losses, max((c.prune for c in cycles), default=0),
                                            self.train.steps, self.device.type)
        losses = None
        for step in range(self.train.steps):
            self.step = step
            if any(step == c.prune for c in cycles):
                self.prune()
            for cycle in cycles:
                if step == cycle.start:
                    self.begin_cycle(cycle)
            if self.compiler:
                self.compiler.start(step)
            losses = self.training_step(step)
            if self.compiler:
                self.compiler.end(step)
            self.step = step + 1
            if self.train.guard:
                self.watch(losses, step)
            if (step + 1) % self.train.eval_every == 0 or step + 1 == self.train.steps:
                self.evaluate(losses.detach().tolist())
        if self.twd_targets:  # a TWD phase that ran to the last step still ends in a cut
            self.prune()
            self.evaluate([h[-1]["loss"] for h in self.histories])
        if hasattr(self.schedule, "_say_stubborn"):  # AIRe's schedules (not none): one notice for the fit
            self.schedule._say_stubborn()
        members = {n: self.network.member(n).eval() for n in range(self.n) if n not in self.left}
        finals = self.final_metrics(members)
        return [None if n in self.left else self.result(n, members[n], finals[n]) for n in range(self.n)]

    def training_step(self, step: int) -> torch.Tensor:
        """One Adam step of every member; returns the members' losses (N,)."""
        self.optimizer.lr = self.schedule.learning_rate(step, self.train)
        if self._full is not None:
            x, y = self._full
        else:
            pairs = [s.sample(self.train.batch_size, g) for s, g in zip(self.signals, self.generators)]
            x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        if self._mse and self._full is not None:  # every member's loss is ImageSignal's MSE: one reduction
            losses = (self.compiler or self.mse_losses)(x)
        else:
            prediction = self.network(x)
            # unbind: one backward node for all members (indexing each would zero-fill N x the output per member)
            losses = torch.stack([s.loss(p, t) for s, p, t in zip(self.signals, prediction.unbind(0), y.unbind(0))])
        self.optimizer.zero_grad()
        losses.sum().backward()  # d(sum)/d(member n's parameters) = d(loss_n)/d(them): members stay independent
        with torch.no_grad():
            for layer, mask in self.twd_targets.items():  # targets excluded from Adam's update
                grad = self.network.outgoing(layer).grad
                if grad is not None:
                    grad.masked_fill_(mask.unsqueeze(1), 0.0)
            self.optimizer.step()
            if self.twd_targets:  # and decayed by (1 - alpha_t)
                start, length = self.twd_phase
                a = sched.alpha(step - start, length, self.config.alpha_max)
                for layer, mask in self.twd_targets.items():
                    w = self.network.outgoing(layer)
                    w.copy_(torch.where(mask.unsqueeze(1), w * (1.0 - a), w))
        return losses.detach()

    def mse_losses(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's full-batch mean squared error (N,), computed neurons-first (forward_channels):
        F.mse_loss's value up to the order of the sum; the function torch.compile compiles."""
        return (self.network.forward_channels(x) - self._full_channels).square().mean(dim=(1, 2))

    # ----------------------------------------------------------------- guard
    def watch(self, losses: torch.Tensor, step: int) -> None:
        """The single fit's DivergenceGuard rule per member, observed at the same steps; a member
        found diverging at an evaluation leaves the batch (its single fit will roll back)."""
        due = (step + 1) % self.train.eval_every == 0 or step + 1 == self.train.steps
        if not self._seeded or due or (step + 1) % self.train.guard_check_every == 0:
            value = losses.float()
            bad = ~torch.isfinite(value) | (value > self.train.guard_factor * self._best)
            self._fail |= bad
            self._best = torch.where(bad, self._best, torch.minimum(self._best, value))
            self._seeded = True
        if due:
            for n in self._fail.nonzero().flatten().tolist():
                self.leave(n, f"loss diverged by step {step}")

    def leave(self, n: int, reason: str) -> None:
        """Take member n out of the batch: frozen at zero (no NaN reaches the shared steps)."""
        if n in self.left:
            return
        self.left[n] = reason
        with torch.no_grad():
            for p in [*self.network.weights, *self.network.biases]:
                p[n] = 0.0
            for key, _ in self.optimizer.params():
                for moment in self.optimizer.moments(key):
                    moment[n] = 0.0
            self.optimizer.member_lr[n] = 0.0

    def _agree(self, counts: Sequence[int], what: str) -> int:
        """The count the members in the batch share; members with another count leave it."""
        active = [c for n, c in enumerate(counts) if n not in self.left]
        if not active:
            return 0
        common = max(set(active), key=active.count)
        for n, c in enumerate(counts):
            if c != common:
                self.leave(n, f"{what}: {c} neurons where the batch has {common}")
        return common

    # -------------------------------------------------------------- schedule
    def _view(self, member: SineMLP | None = None) -> Any:
        """What AireSchedule's budget helpers read of a trainer (member 0's network: widths are shared)."""
        return SimpleNamespace(network=member or self.network.member(0), signal=self.signals[0],
                               train_config=self.train, initial_params=self.initial_params,
                               initial_architecture=self.initial_architecture)

    def log_event(self, n: int, kind: str, **info: Any) -> None:
        self.events[n].append({"step": self.step, "event": kind, "params": self.network.num_parameters(),
                               "architecture": self.network.widths(), **info})

    def begin_cycle(self, cycle: sched.Cycle) -> None:
        """Densify each member by its policy, then choose each member's TWD targets by its criterion."""
        net, protected = self.network, None
        k_new = self.schedule.frequencies_to_add(self._view(), cycle)  # as AireSchedule.begin_cycle
        if k_new > 0:
            members = [net.member(n) for n in range(self.n)]
            proposals = [self.policy.propose(m, m.encoding, k_new, DensifyContext(s, m, self.backend))
                         for m, s in zip(members, self.signals)]
            added = self._agree([int(r.shape[0]) for r, _ in proposals], "densification")
            rows = torch.stack([r if n not in self.left else r.new_zeros(added, r.shape[1])
                                for n, (r, _) in enumerate(proposals)])
            bias = torch.stack([b if n not in self.left else b.new_zeros(added)
                                for n, (_, b) in enumerate(proposals)])
            before = net.widths()[0]
            net.insert_input_frequencies(rows, bias, self.optimizer)
            protected = torch.arange(before, before + added)
            for n in range(self.n):
                self.log_event(n, "densify", added=added)
        members = [net.member(n) for n in range(self.n)]
        self.twd_targets = {}
        for layer, k in self.schedule._k_per_layer(self._view(members[0]), cycle).items():
            k = min(k, net.widths()[layer] - 1)
            if k <= 0:
                continue
            exclude = protected if layer == 0 else None
            mask = torch.zeros(self.n, net.widths()[layer], dtype=torch.bool)
            for n, m in enumerate(members):
                mask[n, self.criterion.select(m, layer, k, exclude).cpu()] = True
            mask = mask.to(self.device)
            self.twd_targets[layer] = mask
            for moment in self.optimizer.moments(("weights", layer + 1)):  # reset the targets' moments
                moment.masked_fill_(mask.unsqueeze(1), 0.0)
        self.twd_phase = (cycle.start, cycle.prune - cycle.start)
        for n in range(self.n):
            self.log_event(n, "twd_start", targets={str(l): int(m[n].sum()) for l, m in self.twd_targets.items()})

    def prune(self) -> None:
        """AireSchedule.prune per member: columns below epsilon, plus the TWD targets under a budget."""
        net = self.network
        for layer in self.schedule.prunable_layers(net):
            norms = net.outgoing(layer).detach().abs().sum(dim=1)  # (N, width)
            remove = norms < self.config.epsilon
            targets = self.twd_targets.get(layer)
            if self.config.target_params is not None and targets is not None:
                stubborn = targets & ~remove
                if stubborn.any():  # said once at the end of the fit, as a single fit says it (AireSchedule)
                    self.schedule.stubborn.append((layer, int(stubborn.sum()), float(norms[stubborn].max())))
                remove |= targets
            everything = remove.all(dim=1)  # always keep the strongest neuron
            remove[everything, norms[everything].argmax(dim=1)] = False
            count = self._agree(remove.sum(dim=1).tolist(), f"cut of layer {layer}")
            if count == 0:
                continue
            neurons = torch.stack([remove[n].nonzero().flatten() if n not in self.left
                                   else torch.arange(count, device=remove.device) for n in range(self.n)])
            records = {}
            for n in range(self.n):
                if n not in self.left:
                    cut = neurons[n]
                    records[n] = {"residual_column_l1": float(norms[n, cut].sum()),
                                  "theorem2_bound": pruning_bound(net.member(n), layer, cut.cpu().numpy())}
            net.remove_neurons(layer, neurons, self.optimizer)
            for n, record in records.items():
                self.log_event(n, "prune", layer=layer, removed=count, **record)
        self.twd_targets, self.twd_phase = {}, None
        if self.config.lr_rewind:
            self.schedule.lr_origin = self.step

    # ------------------------------------------------------------ evaluation
    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def evaluate(self, losses: Sequence[float | None]) -> None:
        """One history row per member in the batch: its signal's metrics of its own network."""
        seconds = self.elapsed()
        for n, signal in enumerate(self.signals):
            if n in self.left:
                continue
            member = self.network.member(n).eval()
            self.histories[n].append({"step": self.step, "loss": losses[n], "params": member.num_parameters(),
                                      **signal.evaluate(member), "seconds": seconds})

    def final_metrics(self, members: dict[int, SineMLP]) -> dict[int, dict[str, Any]]:
        """Each member's ``signal.final_metrics`` of its network (in eval mode). One MS-SSIM call for the
        whole batch was tried and saved nothing: at 64 px the time is torchmetrics' double-precision
        grouped conv2d, proportional to the pixels, not per-call overhead."""
        return {n: self.signals[n].final_metrics(m) for n, m in members.items()}

    def result(self, n: int, network: SineMLP, final_metrics: dict[str, Any]) -> FitResult:
        """Member n's FitResult (`network`: its SineMLP, `final_metrics`: its signal's final metrics of it)
        with the metrics a single fit reports (Trainer.final_metrics)."""
        final = self.histories[n][-1]
        metrics = {k: v for k, v in final.items() if k not in ("step", "loss", "params", "seconds")}
        metrics.update(final_metrics)
        network.train()
        metrics.update({
            "params_initial": self.initial_params, "params_final": network.num_parameters(),
            "architecture_initial": self.initial_architecture, "architecture_final": network.widths(),
            "steps": self.train.steps, "steps_completed": self.step, "seconds": self.elapsed(),
            "rollbacks": 0, "diverged": False, "precision": self.train.precision,
            "compiles": self.compiler.compiles if self.compiler else 0,
            **({"compile": self.compiler.summary()} if self.compiler else {}),
            "final_loss": final["loss"], "batched": {"members": self.n, "member": n}})
        return FitResult(network=network, metrics=metrics, history=self.histories[n], events=self.events[n])
