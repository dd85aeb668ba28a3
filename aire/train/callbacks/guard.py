"""The divergence guard: roll back to the last good evaluation, with a lower learning rate, when the
loss explodes; stop with that model when it keeps exploding."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from aire.config import TrainConfig
from aire.interfaces import Callback, TrainerView
from aire.notices import warn


class DivergenceGuard(Callback):
    """Watches the training loss on the device and rolls the fit back when it diverges.

    A step's loss diverges when it is NaN/Inf or more than `factor` times the lowest loss seen so
    far. The lowest loss is seeded with the first step's loss (the initial model's), so a loss that
    explodes within the first steps yet stays finite (Adam at lr 1e3 or 1e8) is caught too.
    Observing costs no device sync: the loss is compared on the device every `check_every` steps,
    at the first step and at every step after which ``read_at(step)`` is true; the verdict (one
    sync) is read only there, where the host needs a good state anyway (evaluations, checkpoints).

    On a verdict of divergence the trainer is rewound to the snapshot taken at the last evaluation
    whose values were all finite (its model, optimizer, schedule, history, events and generators),
    the learning rate is scaled by `lr_factor` (again at every rollback), and a "rollback" event is
    logged; past `max_failures` rollbacks the fit stops there (``diverged``) with that model.

    State (``state_dict``, kept in checkpoints): the learning-rate scale, rollbacks so far, whether
    the fit diverged, the lowest loss read, and the snapshot with the lowest loss at its time, so a
    resumed fit rolls back to the last good evaluation, not to the checkpoint it resumed from.
    """

    state_key = "guard"

    def __init__(self, factor: float = 1e3, max_failures: int = 3, lr_factor: float = 0.5, check_every: int = 10,
                 read_at: Callable[[int], bool] | None = None) -> None:
        self.factor, self.max_failures, self.lr_factor = float(factor), int(max_failures), float(lr_factor)
        self.check_every = int(check_every)
        self.read_at = read_at or (lambda step: True)
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.diverged = False
        self.best_loss = math.inf
        self.snapshot: dict[str, Any] | None = None
        self.snapshot_best = math.inf
        self._best: torch.Tensor | None = None  # on-device running lowest loss
        self._fail: torch.Tensor | None = None  # on-device first failing step, -1 while healthy
        self._seed_pending = True

    @classmethod
    def from_config(cls, train: TrainConfig, read_at: Callable[[int], bool] | None = None) -> "DivergenceGuard":
        return cls(train.guard_factor, train.guard_max_failures, train.guard_lr_factor, train.guard_check_every,
                   read_at)

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: TrainerView) -> None:
        if self.snapshot is None:  # a fresh fit, or one resumed from a checkpoint saved without the guard
            self._take_snapshot(trainer)
        self._reset(trainer)

    def after_step(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        read = self.read_at(step)
        if self._seed_pending or read or (step + 1) % self.check_every == 0:
            self.observe(loss, step)
        if read and (failed := self.verdict()) is not None:
            self._roll_back(trainer, failed)

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        if all(math.isfinite(v) for v in row.values() if isinstance(v, float)):
            self._take_snapshot(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale, "rollbacks": self.rollbacks, "diverged": self.diverged,
                "best_loss": self.best_loss, "snapshot": self.snapshot, "snapshot_best": self.snapshot_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr_scale, self.rollbacks, self.diverged = state["lr_scale"], state["rollbacks"], state["diverged"]
        self.best_loss, self.snapshot = state["best_loss"], state["snapshot"]
        self.snapshot_best = state["snapshot_best"]

    # -------------------------------------------------------------- mechanics
    def observe(self, loss: torch.Tensor, step: int) -> None:
        """Without a device sync: note `step` as the first failure if the loss is NaN/Inf or more
        than factor times the lowest seen, else lower the running lowest loss."""
        value = loss.detach().float()
        bad = ~torch.isfinite(value) | (value > self.factor * self._best)
        healthy = self._fail < 0
        self._fail = torch.where(healthy & bad, step, self._fail)
        self._best = torch.where(healthy & ~bad, torch.minimum(self._best, value), self._best)
        self._seed_pending = False

    def verdict(self) -> int | None:
        """One device sync: the first failing step, or None (and the lowest loss is read)."""
        best, fail = torch.stack([self._best.double(), self._fail.double()]).tolist()
        if fail >= 0:
            return int(fail)
        self.best_loss = best
        return None

    def _reset(self, trainer: TrainerView) -> None:
        """Start the on-device state from the lowest loss read (at start, resume and rollback)."""
        device = next(trainer.network.parameters()).device
        self._best = torch.tensor(self.best_loss, dtype=torch.float32, device=device)
        self._fail = torch.tensor(-1, dtype=torch.long, device=device)
        self._seed_pending = not math.isfinite(self.best_loss)

    def _take_snapshot(self, trainer: TrainerView) -> None:
        self.snapshot = trainer.state_dict(exclude=self.state_key)
        self.snapshot_best = self.best_loss

    def _roll_back(self, trainer: TrainerView, failed_at: int) -> None:
        """Rewind to the snapshot, keeping the log of earlier rollbacks; lower the lr or stop."""
        earlier = [e for e in trainer.events[len(self.snapshot["events"]):] if e["event"] == "rollback"]
        trainer.rewind(self.snapshot)
        trainer.events.extend(earlier)
        self.rollbacks += 1
        self.best_loss = self.snapshot_best
        trainer.log_event("rollback", failed_at=failed_at, to_step=trainer.step)
        if self.rollbacks > self.max_failures:
            warn(f"training diverged {self.rollbacks} times (last at step {failed_at}); stopping with the "
                 f"last good model from step {trainer.step}", __name__)
            self.diverged = True
            trainer.should_stop = True
        else:
            self.lr_scale *= self.lr_factor
            warn(f"loss diverged at step {failed_at}; rolled back to step {trainer.step}, learning rate "
                 f"x{self.lr_scale:g}", __name__)
        self._reset(trainer)
