"""torch.compile of the training forward, rebuilt whenever surgery or a rollback replaced parameters."""

from __future__ import annotations

import torch

from aire.interfaces import Callback, TrainerView


class Compiler(Callback):
    """Sets ``trainer.step_model`` to ``torch.compile(trainer.model)`` (the network itself for images
    and SDFs) before a step whenever the model's parameter objects changed (the schedule's surgery
    runs first, rollbacks replace them too): the old graph is dropped (torch.compiler.reset) and one
    compilation counted in `compiles`. Keeps no checkpointed state: `compiles` counts this process's
    compilations."""

    def __init__(self) -> None:
        self.compiles = 0
        self._key: tuple[int, ...] | None = None

    def before_step(self, trainer: TrainerView, step: int) -> None:
        key = tuple(id(p) for p in trainer.model.parameters())
        if key == self._key:
            return
        if self._key is not None:
            torch.compiler.reset()
        trainer.step_model = torch.compile(trainer.model, dynamic=False)
        self._key = key
        self.compiles += 1
