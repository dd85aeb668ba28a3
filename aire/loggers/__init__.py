"""Experiment loggers: event plugins (aire.hookspecs) that write a fit's progress into
``trainer.log_dir`` as it goes; aire.save_run moves what they wrote into the run folder.

* ``history-log`` (:mod:`aire.loggers.history_jsonl`): history.jsonl, one JSON line per evaluation,
  structural event and the final metrics, always on when the fit has a log folder.
* ``tensorboard-log`` (:mod:`aire.loggers.tensorboard`): tensorboard/ event files, with ``--log tensorboard``
  (the ``aire-inr[tensorboard]`` extra).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: the suffix of the live-log folder beside a run folder: runs/photo -> runs/photo.live
LIVE_SUFFIX = ".live"


def live_dir(out: str | Path) -> Path:
    """Where the live logs of the run folder `out` are written while it fits: the sibling `<out>.live`
    (the run folder itself is written all at once at the end, aire.atomic.atomic_folder)."""
    out = Path(out)
    return out.parent / (out.name + LIVE_SUFFIX)


def prepare_live_dir(folder: Path, resume: bool) -> Path:
    """Create the live-log folder (marked as aire's). A leftover of an earlier, unfinished fit of the same run
    folder is replaced, or kept when resuming (its loggers then rewrite or continue it). Raises InputError when
    the path holds something aire did not write."""
    from aire.atomic import MARKER, is_aire_folder, register, write_marker
    from aire.errors import InputError

    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise InputError(f"the live-log path {folder} exists and is not a folder aire wrote; move it away")
    if folder.exists() and any(folder.iterdir()) and not is_aire_folder(folder):
        raise InputError(f"the live-log folder {folder} holds files aire did not write (no {MARKER} marker); "
                         "move them away")
    if folder.exists() and not resume:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, "live")
    register(folder)  # inside a collection: the job's live log is aire's
    return folder


def move_live_logs(folder: Path, destination: Path) -> list[Path]:
    """Copy everything the loggers wrote in `folder` (not its marker) into `destination` (a run folder being
    written); the caller removes `folder` once the run folder is in place."""
    from aire.atomic import MARKER

    copied = []
    if not folder.is_dir():
        return copied
    for item in sorted(folder.iterdir()):
        if item.name == MARKER:
            continue
        target = destination / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(item, target)
        copied.append(target)
    return copied


def remove_live_dir(folder: Path) -> None:
    """Delete the live-log folder once its content is in the run folder (only a folder aire marked)."""
    from aire.atomic import is_aire_folder

    if folder.is_dir() and not folder.is_symlink() and is_aire_folder(folder):
        shutil.rmtree(folder, ignore_errors=True)
    elif folder.is_dir() and not any(folder.iterdir()):
        os.rmdir(folder)
