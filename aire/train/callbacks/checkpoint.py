"""Checkpoints every N steps, written atomically (aire.train.state.save_checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aire.interfaces import Callback
from aire.train.state import save_checkpoint


class Checkpointing(Callback):
    """Writes ``trainer.state_dict()`` (+ `extra`, e.g. the command's settings) to
    DIR/checkpoint.pt at the top of every `every`-th step before the last, so that
    ``Trainer.fit(resume=load_checkpoint(DIR))`` continues bit for bit. Keeps no state of its own."""

    state_key = "checkpoint"

    def __init__(self, directory: str | Path, every: int, steps: int, extra: dict[str, Any] | None = None) -> None:
        self.directory, self.every, self.steps, self.extra = Path(directory), int(every), int(steps), extra

    def due(self, step: int) -> bool:
        """Whether a checkpoint is written at the top of step `step` (after `step` steps)."""
        return step % self.every == 0 and 0 < step < self.steps

    def on_step_end(self, trainer: Any, step: int) -> None:
        if self.due(step):
            save_checkpoint(trainer.state_dict(), self.directory, self.extra)
