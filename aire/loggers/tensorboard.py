"""TensorBoard logging of a fit (an event plugin), with ``--log tensorboard`` (TrainConfig.log).

Writes through torch.utils.tensorboard.SummaryWriter into ``trainer.log_dir / "tensorboard"`` (moved into the
run folder at the end: ``tensorboard --logdir runs/``):

* scalars at every evaluation: ``metrics/<name>`` for the loss and each metric, ``params`` (the parameter count);
* text ``architecture`` at the start and at every structural event, and ``events`` (the event as JSON);
* scalars ``events/<kind>`` (1 at each densify, twd_start, prune or rollback step) so they line up with the curves;
* an image ``reconstruction`` at every evaluation for signals that offer ``preview(model)``: the image signal's
  reconstruction, the NeRF signal's first test view (at the periodic evaluation's resolution), the SDF signal's
  slices through the centre.

Needs the ``tensorboard`` package (the ``aire-inr[tensorboard]`` extra); without it the fit stops before its first
step with one line naming the extra. A resumed fit passes ``purge_step``, so events an interrupted process wrote after
the checkpoint are dropped.
"""

from __future__ import annotations

import json
import weakref
from typing import Any, Mapping

from aire.hookspecs import TrainerView, hookimpl

NAME = "tensorboard"
SUBFOLDER = "tensorboard"

_writers: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def summary_writer_class() -> Any:
    """torch.utils.tensorboard.SummaryWriter, or InputError naming the extra when tensorboard is missing."""
    from aire.errors import InputError

    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch imports tensorboard lazily here and raises ImportError without it
        raise InputError("--log tensorboard needs the tensorboard package: pip install 'aire-inr[tensorboard]'") from None
    return SummaryWriter


def _writer(trainer: TrainerView) -> Any:
    """This fit's SummaryWriter, opened at its first event; None unless TensorBoard logging is asked for."""
    if getattr(trainer, "log_dir", None) is None or NAME not in trainer.train_config.log:
        return None
    writer = _writers.get(trainer)
    if writer is None:
        writer_class = summary_writer_class()
        resumed = bool(trainer.history)
        writer = writer_class(log_dir=str(trainer.log_dir / SUBFOLDER), purge_step=trainer.step if resumed else None)
        writer.add_text("architecture", str(trainer.network.widths()), trainer.step)
        _writers[trainer] = writer
    return writer


@hookimpl
def aire_after_evaluate(trainer: TrainerView, row: Mapping[str, Any]) -> None:
    writer = _writer(trainer)
    if writer is None:
        return
    step = int(row["step"])
    for key, value in row.items():
        if key in ("step", "seconds", "params") or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        writer.add_scalar(f"metrics/{key}", float(value), step)
    writer.add_scalar("params", int(row["params"]), step)
    writer.add_scalar("seconds", float(row["seconds"]), step)
    preview = getattr(trainer.signal, "preview", None)
    if callable(preview):
        writer.add_image("reconstruction", preview(trainer.model), step, dataformats="HWC")
    writer.flush()


@hookimpl
def aire_after_event(trainer: TrainerView, event: Mapping[str, Any]) -> None:
    writer = _writer(trainer)
    if writer is None:
        return
    from aire.io import jsonable

    step = int(event["step"])
    writer.add_scalar(f"events/{event['event']}", 1.0, step)
    writer.add_text("events", json.dumps(jsonable(dict(event))), step)
    writer.add_text("architecture", str(event["architecture"]), step)
    writer.flush()


@hookimpl
def aire_fit_end(trainer: TrainerView, metrics: Mapping[str, Any]) -> None:
    writer = _writers.pop(trainer, None)
    if writer is None:
        return
    for key in ("params_final", "params_fraction"):
        if isinstance(metrics.get(key), (int, float)):
            writer.add_scalar(f"final/{key}", float(metrics[key]), trainer.step)
    writer.close()
