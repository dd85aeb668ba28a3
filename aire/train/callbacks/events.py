"""Forwards the loop's moments to plugins' event hooks (aire.hookspecs): aire_fit_start,
aire_step_end, aire_after_evaluate and aire_fit_end. (aire_evaluate comes from Evaluation; the architecture events from
the schedule, which makes the changes.)"""

from __future__ import annotations

from types import MappingProxyType

from typing import Any

import torch

from aire.interfaces import Callback, TrainerView


class PluginEvents(Callback):
    """Emits through ``trainer.registry.emit``; aire_step_end only when a plugin implements it."""

    def __init__(self) -> None:
        self._step_hook = False

    def on_fit_start(self, trainer: TrainerView) -> None:
        self._step_hook = trainer.registry.has_impls("aire_step_end")
        if not trainer.history:  # nothing evaluated yet: a fresh fit, not a resumed one
            trainer.registry.emit("aire_fit_start", trainer=trainer)

    def after_step(self, trainer: TrainerView, step: int, loss: torch.Tensor) -> None:
        if self._step_hook:
            trainer.registry.emit("aire_step_end", trainer=trainer, step=step, loss=loss)

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        trainer.registry.emit("aire_after_evaluate", trainer=trainer, row=MappingProxyType(row))

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        trainer.registry.emit("aire_fit_end", trainer=trainer, metrics=MappingProxyType(metrics))
