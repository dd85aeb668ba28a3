"""The progress bar (tqdm) of a fit: steps done, steps/s and time left (moved every step), the signal's quality
metric and the parameter count (at each evaluation, and after each structural change: a cut, a densification,
a rollback)."""

from __future__ import annotations

from typing import IO, Any

from tqdm.auto import tqdm

from aire.interfaces import Callback, TrainerView

#: the bar's width on a terminal that reports none (see ProgressBar.on_fit_start)
FALLBACK_COLUMNS = 100


class ProgressBar(Callback):
    """Opened at the fit's first step (a resumed fit starts where it stopped), moved after every step (tqdm
    redraws at most ~10 times a second and reads no device value, so this costs no synchronisation), labelled
    with the quality at each evaluation, closed after the last step. After an event that changes the network
    (trainer.events gains an entry) the parameter count is the event's, and the quality, measured before it,
    says at which step (``psnr=23.22 (step 40), params=495``) until the next evaluation: an evaluation for
    the bar alone would cost a NeRF seconds. Keeps no state of its own."""

    def __init__(self, steps: int, quality_key: str = "psnr", file: IO[str] | None = None) -> None:
        self.steps, self.quality_key, self.file = steps, quality_key, file
        self.bar: Any = None
        self.quality: tuple[int, str] | None = None  # (step, value) of the last evaluation shown
        self.events_seen = 0

    def on_fit_start(self, trainer: TrainerView) -> None:
        self.events_seen = len(getattr(trainer, "events", ()))
        self.bar = tqdm(total=self.steps, initial=trainer.step, desc="fit", unit="step", dynamic_ncols=True,
                        leave=False, file=self.file)
        if any(size is not None and size < 1 for size in (self.bar.ncols, self.bar.nrows)):
            # a terminal that reports no size (a pseudo-terminal of 0 x 0, as `script` and some CI runners open)
            # gives tqdm a width and height of -1, with which it draws nothing for the whole fit: a fixed width
            # and tqdm's default height instead
            self.bar.dynamic_ncols = False
            self.bar.ncols = self.bar.ncols if self.bar.ncols is not None and self.bar.ncols >= 1 else FALLBACK_COLUMNS
            self.bar.nrows = None
            self.bar.refresh()

    def _move(self, step: int) -> None:
        if step >= self.bar.n:
            self.bar.update(step - self.bar.n)
        else:  # a rollback went back to an earlier step
            self.bar.n = step
            self.bar.refresh()

    def on_step_end(self, trainer: TrainerView, step: int) -> None:
        if self.bar is None:
            return
        events = getattr(trainer, "events", ())
        if len(events) != self.events_seen:  # a cut, a densification or a rollback since the last step
            self.events_seen = len(events)
            if events and "params" in events[-1]:
                shown = {self.quality_key: f"{self.quality[1]} (step {self.quality[0]})"} if self.quality else {}
                self.bar.set_postfix(shown | {"params": events[-1]["params"]}, refresh=False)
        self._move(step)

    def on_evaluate(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        if self.bar is None:
            return
        shown = {k: f"{v:.4g}" for k, v in row.items() if k == self.quality_key}
        if shown:
            self.quality = (row["step"], shown[self.quality_key])
        self.bar.set_postfix(shown | {"params": row["params"]}, refresh=False)
        self.events_seen = len(getattr(trainer, "events", ()))
        self._move(trainer.step)

    def on_train_end(self, trainer: TrainerView) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
