"""Output folders: what aire may replace, and writing them all at once.

Writing: into a temporary sibling, swapped into place at the end, so an error or an interrupt never
leaves a half-written folder where a finished one is expected.

Replacing (``--overwrite``) is allowed only for a folder aire wrote (it carries the marker file
``.aire``, or is a run or checkpoint folder of an older aire: metrics.json and model.json, or
checkpoint.pt, with nothing but aire's own file names beside them) or an empty one, and never for a folder that is, or contains, an input of the
run, the working folder or one of its parents, the home folder or a filesystem root. Every refusal is
an :class:`~aire.errors.InputError` raised before anything is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from aire.errors import InputError

#: the file that marks a folder as written by aire (JSON: {"written_by": "aire", "kind": ...})
MARKER = ".aire"
#: every name an aire run folder of an older version (without the marker) may hold
LEGACY_RUN_FILES = frozenset({
    "metrics.json", "model.safetensors", "model.json", "history.json", "training.png", "reconstruction.png",
    "signal.json", "mesh.ply", "distance.png", "test_views.png", "turntable.gif", "colour_head.safetensors",
    "nerf_field.json", "checkpoint.pt", "input.png", "spectrum.png",
})


def write_marker(folder: str | Path, kind: str) -> Path:
    """Mark `folder` as an aire output of `kind` ('run', 'scene', 'collection', 'checkpoint')."""
    from aire import __version__

    path = Path(folder) / MARKER
    path.write_text(json.dumps({"written_by": "aire", "version": __version__, "kind": kind}) + "\n")
    return path


def is_aire_folder(folder: str | Path) -> bool:
    """Whether `folder` was written by aire: it has the marker, or is a legacy run folder."""
    folder = Path(folder)
    try:
        marker = json.loads((folder / MARKER).read_text())
        if isinstance(marker, dict) and marker.get("written_by") == "aire":
            return True
    except (OSError, ValueError):
        pass
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return False
    finished_run = {"metrics.json", "model.json"} <= names
    return (finished_run or "checkpoint.pt" in names) and names <= LEGACY_RUN_FILES | {MARKER}


def _protected(out: Path, inputs: Iterable[str | Path]) -> str | None:
    """Why `out` (resolved) must never be replaced, or None."""
    if out == Path(out.anchor):
        return "it is a filesystem root"
    cwd = Path.cwd().resolve()
    if cwd == out or out in cwd.parents:
        return "it is the working folder" if cwd == out else "it contains the working folder"
    home = Path.home().resolve()
    if home == out or out in home.parents:
        return "it is the home folder" if home == out else "it contains the home folder"
    for source in inputs:
        source = Path(source).resolve()
        if source == out or out in source.parents:
            return f"it {'is' if source == out else 'contains'} the input {source}"
    return None


def check_replaceable(out: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Raise InputError unless the existing folder `out` may be deleted and replaced by a new output:
    aire wrote it or it is empty, and it is none of the protected places (module docstring)."""
    path = Path(out)
    if path.is_symlink():
        raise InputError(f"output folder {out} is a symbolic link; give the folder it points to, or another --out")
    reason = _protected(path.resolve(), inputs)
    if reason is not None:
        raise InputError(f"refusing to replace {out}: {reason}; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not is_aire_folder(path):
        raise InputError(f"refusing to replace {out}: it holds files aire did not write (no {MARKER} marker); "
                         "move them away or choose another --out")


def check_out_dir(out: str | Path, overwrite: bool, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse an output path that is a file, an existing non-empty folder unless `overwrite`, and (even
    with `overwrite`) any folder aire may not replace (see :func:`check_replaceable`)."""
    out = Path(out)
    inputs = list(inputs)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path exists and is not a folder: {out}")
    reason = _protected(out.resolve(), inputs)
    if reason is not None:
        raise InputError(f"cannot write the output into {out}: {reason}; choose another --out")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"output folder {out} already exists; pass --overwrite to replace it")
        check_replaceable(out, inputs)


@contextmanager
def atomic_folder(out: str | Path, *, kind: str = "run", overwrite: bool = False,
                  inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary folder beside `out`, marked as an aire output of `kind`; on success it
    replaces `out`, on any error it is removed.

    An `out` that exists at the swap must be empty, or replaceable (:func:`check_replaceable`) with
    `overwrite`; it is renamed aside before the new folder is renamed in and only then deleted, so no
    moment leaves `out` missing with the old content gone.
    """
    out = Path(out)
    inputs = list(inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_marker(tmp, kind)
        yield tmp
        old = None
        if out.exists() or out.is_symlink():
            if not out.is_dir() or out.is_symlink():
                raise InputError(f"output path exists and is not a folder: {out}")
            if any(out.iterdir()) and not overwrite:
                raise InputError(f"output folder {out} appeared while aire was writing; pass --overwrite to replace it")
            check_replaceable(out, inputs)
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:  # put the previous folder back where it was
                os.replace(old / out.name, out)
                old.rmdir()
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_out_file(out: str | Path, overwrite: bool, inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse an output file path that is a folder, that is one of `inputs`, or that exists unless
    `overwrite`."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out} is a folder; give a file name")
    resolved = out.resolve()
    for source in inputs:
        if source is not None and Path(source).resolve() == resolved:
            raise InputError(f"refusing to write {out}: it is the input {source}; choose another --out")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); on success it is renamed onto `path`, on
    any error it is removed, so `path` is never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
