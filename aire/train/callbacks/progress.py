"""The progress bar (tqdm) of a fit: steps done, the signal's quality metric and the parameter count."""

from __future__ import annotations

from typing import IO, Any

from tqdm.auto import tqdm

from aire.interfaces import Callback, TrainerView


class ProgressBar(Callback):
    """Opened at the fit's first step (a resumed fit starts where it stopped), moved and labelled
    at each evaluation, closed after the last step. Keeps no state of its own."""

    def __init__(self, steps: int, quality_key: str = "psnr", file: IO[str] | None = None) -> None:
        self.steps, self.quality_key, self.file = steps, quality_key, file
        self.bar: Any = None

    def on_fit_start(self, trainer: TrainerView) -> None:
        self.bar = tqdm(total=self.steps, initial=trainer.step, desc="fit", unit="step", dynamic_ncols=True,
                        leave=False, file=self.file)

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        if self.bar is None:
            return
        shown = {k: f"{v:.4g}" for k, v in row.items() if k == self.quality_key}
        self.bar.set_postfix(shown | {"params": row["params"]})
        self.bar.update(trainer.step - self.bar.n)

    def on_train_end(self, trainer: TrainerView) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
