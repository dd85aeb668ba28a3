"""history.jsonl: the fit's history appended as it goes, one JSON object per line (an event plugin).

Lines, in the order they happen (``tail -f RUN.live/history.jsonl`` while it runs):

* ``{"kind": "evaluation", "step", "loss", "params", <metrics>, "seconds"}`` — each evaluation's history row;
* ``{"kind": "event", "step", "event", "params", "architecture", ...}`` — densify, twd_start, prune, rollback;
* ``{"kind": "final", <metrics>}`` — the final metrics, last.

Each line is flushed when written, so a reader never sees half a line. A resumed fit (or a rollback, which
rewinds the history), or an event completed after it was written (a prune event's quality after recovery,
aire.schedules.adaptive), rewrites the file from the trainer's own history and events, so the file always
matches them. NaN and infinities are written as null (strict JSON, like metrics.json). Written only when the fit has a
log folder (``trainer.log_dir``; ``aire fit`` gives it one).
"""

from __future__ import annotations

import json
import weakref
from typing import IO, Any, Mapping

from aire.hookspecs import TrainerView, hookimpl

FILE = "history.jsonl"


class _Log:
    """The open file of one fit and how many of its history rows and events are already in it."""

    def __init__(self, trainer: TrainerView) -> None:
        self.file: IO[str] = open(trainer.log_dir / FILE, "w", encoding="utf-8")
        self.rows = self.events = 0
        self.written: list[str] = []  # the event lines written, to notice an event completed later
        entries = [(row["step"], 0, "evaluation", row) for row in trainer.history]
        entries += [(event["step"], 1, "event", event) for event in trainer.events]
        for _, _, kind, entry in sorted(entries, key=lambda e: (e[0], e[1])):  # stable: their own order per step
            self.write(kind, entry)
        self.rows, self.events = len(trainer.history), len(trainer.events)

    def write(self, kind: str, entry: Mapping[str, Any]) -> None:
        line = _line(kind, entry)
        if kind == "event":
            self.written.append(line)
        self.file.write(line + "\n")
        self.file.flush()

    def stale(self, trainer: TrainerView) -> bool:
        """Whether the trainer's history or events no longer match what was written: rewound (a
        rollback) or an event written earlier changed since."""
        if len(trainer.history) < self.rows or len(trainer.events) < self.events:
            return True
        return any(_line("event", e) != w for e, w in zip(trainer.events, self.written))

    def catch_up(self, trainer: TrainerView) -> None:
        """Write the rows and events the trainer has that the file does not (in step order)."""
        new = [(row["step"], 0, "evaluation", row) for row in trainer.history[self.rows:]]
        new += [(event["step"], 1, "event", event) for event in trainer.events[self.events:]]
        for _, _, kind, entry in sorted(new, key=lambda e: (e[0], e[1])):
            self.write(kind, entry)
        self.rows, self.events = len(trainer.history), len(trainer.events)


def _line(kind: str, entry: Mapping[str, Any]) -> str:
    from aire.io import jsonable

    return json.dumps({"kind": kind, **jsonable(dict(entry))}, allow_nan=False)


_logs: "weakref.WeakKeyDictionary[Any, _Log]" = weakref.WeakKeyDictionary()


def _log(trainer: TrainerView) -> _Log | None:
    """The fit's log, opened (and filled with what it has so far) at its first event (the evaluation at step 0
    of a fresh fit); None without a folder.
    A history or event list shorter than what was written (a rollback rewound them), or an event changed since
    it was written, reopens the file."""
    if getattr(trainer, "log_dir", None) is None:
        return None
    log = _logs.get(trainer)
    if log is not None and log.stale(trainer):
        log.file.close()
        log = None
    if log is None:
        log = _logs[trainer] = _Log(trainer)
    return log


@hookimpl
def aire_after_evaluate(trainer: TrainerView, row: Mapping[str, Any]) -> None:
    log = _log(trainer)
    if log is not None:
        log.catch_up(trainer)


@hookimpl
def aire_after_event(trainer: TrainerView, event: Mapping[str, Any]) -> None:
    log = _log(trainer)
    if log is not None:
        log.catch_up(trainer)


@hookimpl
def aire_fit_end(trainer: TrainerView, metrics: Mapping[str, Any]) -> None:
    log = _log(trainer)
    if log is None:
        return
    log.catch_up(trainer)
    log.write("final", metrics)
    log.file.close()
    _logs.pop(trainer, None)
