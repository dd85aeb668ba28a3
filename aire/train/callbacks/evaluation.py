"""Evaluation of the network during a fit: when, and the history of rows it produced."""

from __future__ import annotations

import copy
from typing import Any

from aire.interfaces import Callback, TrainerView


class Evaluation(Callback):
    """Evaluates every `every` steps and after the last of `steps`; owns the history.

    A row is {"step": steps done, "loss": the last step's loss (None before training), "params":
    the network's parameter count, <the signal's metrics and what plugins return from aire_evaluate>,
    "seconds": fitting time so far}; plugins see the signal's metrics read-only.
    """

    state_key = "evaluation"

    def __init__(self, every: int, steps: int) -> None:
        self.every, self.steps = int(every), int(steps)
        self.history: list[dict[str, Any]] = []

    def due(self, step: int) -> bool:
        """Whether step `step` (0-based) ends at an evaluation."""
        return (step + 1) % self.every == 0 or step + 1 == self.steps

    def evaluate(self, trainer: TrainerView, loss: float | None = None) -> dict[str, Any]:
        """Evaluate `trainer.model` now (in eval mode) and append the row to the history; "params"
        counts the adaptive network's parameters."""
        model, network = trainer.model, trainer.network
        model.eval()
        metrics = trainer.signal.evaluate(model)
        model.train()
        metrics.update(trainer.registry.evaluate_extra(trainer, trainer.step, metrics))  # plugins' extra metrics
        row = {"step": trainer.step, "loss": loss, "params": network.num_parameters(), **metrics,
               "seconds": trainer.elapsed()}
        self.history.append(row)
        return row

    def state_dict(self) -> dict[str, Any]:
        return {"history": copy.deepcopy(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = copy.deepcopy(state["history"])
