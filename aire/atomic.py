"""Output folders: what aire may replace, and writing them all at once.

Writing: into a temporary sibling, swapped into place at the end, so an error or an interrupt never
leaves a half-written folder where a finished one is expected.

One writer: every writer holds the output's lock (:mod:`aire.lock`, ``.NAME.lock`` beside it) for its
whole life; on taking it afresh it finishes a swap a killed writer left half done and removes the
temporary siblings (``.NAME.XXXXXXXX.tmp``, ``.NAME.XXXXXXXX.old``, atomic_file's
``.STEM.XXXXXXXX.tmp.SUFFIX``) its dead writer left, and inside an aire folder those of every entry
whose own writer is dead (:func:`recover`).

Environment failures (a full disk, a read-only or foreign folder, a path component that is a file, a
name too long) while writing end as one :class:`~aire.errors.InputError` ``cannot write PATH: REASON``
(:func:`write_errors`), with the temporary siblings removed.

Replacing (``--overwrite``) is allowed only for a folder aire wrote, holding nothing aire did not write,
or an empty one. The marker file ``.aire`` says aire wrote the folder and lists what it wrote (its
manifest: every file and folder, sealed when the folder is swapped into place, and each file or folder
aire adds later through atomic_file / atomic_folder appended to it); anything else found inside (notes,
figures of yours) makes the replace a refusal naming it. A marker of an older aire without a manifest,
or a run or checkpoint folder of an older aire without any marker, counts only while every name in it is
one a run folder of aire holds. Never replaced, whatever it holds: a folder that is, or contains, an
input of the run, the working folder or one of its parents, the home folder or a filesystem root. Every
refusal is an :class:`~aire.errors.InputError` raised before anything is deleted.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from aire import lock
from aire.errors import InputError

#: the file that marks a folder as written by aire (JSON: {"written_by": "aire", "kind": ...})
MARKER = ".aire"
#: every name an aire run folder of an older version (without the marker) may hold
LEGACY_RUN_FILES = frozenset({
    "metrics.json", "model.safetensors", "model.json", "history.json", "training.png", "reconstruction.png",
    "signal.json", "mesh.ply", "distance.png", "test_views.png", "turntable.gif", "colour_head.safetensors",
    "nerf_field.json", "checkpoint.pt", "input.png", "spectrum.png", "report.html", "comparison.png",
})
#: every name a run folder of an aire whose marker had no manifest may hold
MARKED_RUN_FILES = LEGACY_RUN_FILES | {"config.json", "history.jsonl", "tensorboard", "frames",
                                       "model.fp16.safetensors", "model.bf16.safetensors", "model.int8.safetensors"}
#: top-level names of a fit-many collection of an older aire (beside its job folders, each an aire folder)
LEGACY_COLLECTION_FILES = frozenset({"jobs.json", "summary.json", "summary.md", "summary.csv", "summary.png",
                                     "failed.json"})


#: errors that are the environment's whatever file they name: full, over quota, read-only, too large
FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS, errno.EFBIG)
                        if e is not None)
#: errors that are the environment's when they name the output's own paths: not ours, not a folder, too long
PATH_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP})
#: tempfile's random part of a name
_RANDOM = r"[a-z0-9_]{8}"
#: aire's own scratch beside an output: one-writer lock files (.NAME.lock) and the temporary siblings
#: of a writer (.NAME.R.tmp, .NAME.R.old, .STEM.R.tmp.SUFFIX) that recover() removes once it is dead
_AIRE_SCRATCH = re.compile(rf"\..+\.lock|\..+\.{_RANDOM}\.(?:tmp|old)|\..+\.{_RANDOM}\.tmp\.[^.]+")


def _reason(exc: OSError, path: Path) -> str:
    """The cause of a write failure in words; for ENOTDIR, which part of `path` is a file."""
    if exc.errno == errno.ENOTDIR:
        for part in (path, *path.parents):
            if part.exists() and not part.is_dir():
                return f"{part} is a file, not a folder"
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _names(exc: OSError, places: Iterable[Path]) -> bool:
    """Whether `exc` is about one of `places`, a path inside one, or a folder above one."""
    if exc.filename is None:
        return True
    name = Path(os.path.abspath(os.fsdecode(exc.filename)))
    for place in places:
        place = Path(os.path.abspath(place))
        if name == place or place in name.parents or name in place.parents:
            return True
    return False


def _disk_full(folder: Path) -> bool:
    """Whether the file system of `folder` has no block (or no inode) left for this user."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    blocks, inodes = (st.f_bfree, st.f_ffree) if root else (st.f_bavail, st.f_favail)
    return blocks == 0 or (st.f_files > 0 and inodes == 0)


def _full_message(exc: BaseException) -> bool:
    """A library's own wrapper of ENOSPC (safetensors' SafetensorError, torch's RuntimeError)."""
    text = str(exc)
    return "No space left on device" in text or "os error 28" in text


@contextmanager
def write_errors(path: str | Path, *, places: Iterable[str | Path] = ()) -> Iterator[None]:
    """Turn an environment failure of writing `path` into InputError ``cannot write PATH: REASON``.

    Converted: OSError with an errno of FULL_ERRNOS (any file), of PATH_ERRNOS when it names `path`,
    one of `places` (the writer's temporary paths) or a path inside or above them; and any other
    exception raised while the disk is full (a library that wraps ENOSPC in its own error type).
    Anything else passes unchanged.
    """
    path = Path(path)
    places = [path, *map(Path, places)]
    shown = _shown(path)
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        if exc.errno in FULL_ERRNOS or (exc.errno in PATH_ERRNOS and _names(exc, places)):
            raise InputError(f"cannot write {shown}: {_reason(exc, path)}") from exc
        if exc.errno is None and _full_message(exc):
            raise InputError(f"cannot write {shown}: {os.strerror(errno.ENOSPC)}") from exc
        raise
    except Exception as exc:
        if _full_message(exc) or _disk_full(_existing(path)):
            raise InputError(f"cannot write {shown}: {os.strerror(errno.ENOSPC)}") from exc
        raise


#: temporary folder -> the output it becomes, while atomic_folder writes it (messages name the output)
_becomes: dict[Path, Path] = {}


def _shown(path: Path) -> Path:
    """`path` as the user knows it: inside a temporary folder of atomic_folder, the output it becomes."""
    absolute = Path(os.path.abspath(path))
    for tmp, out in list(_becomes.items()):
        if absolute == tmp or tmp in absolute.parents:
            return out / absolute.relative_to(tmp)
    return path


def _existing(path: Path) -> Path:
    """The nearest existing folder at or above `path` (where its file system can be asked)."""
    for candidate in (path, *path.parents):
        try:
            if candidate.is_dir():
                return candidate
        except OSError:
            continue
    return Path(".")


def _check_parents(out: Path) -> None:
    """InputError when a component above `out` exists and is not a folder (before creating anything)."""
    for part in Path(os.path.abspath(out)).parents:
        if part.exists():
            if not part.is_dir():
                raise InputError(f"cannot write {out}: {part} is a file, not a folder")
            return


@contextmanager
def one_writer(out: str | Path, *, command: str | None = None) -> Iterator[None]:
    """Hold the one-writer lock of the output `out` (a folder or a file) while inside.

    Re-entrant; taken afresh, it first completes an interrupted swap and removes what dead writers
    left (:func:`recover`). Raises :class:`aire.lock.OutputBusyError` (an InputError naming the
    holder's pid, host, start time and command) when another process writes `out`, and InputError
    ``cannot write ...`` when the lock file cannot be created (read-only or full disk, a file in the path).
    """
    out = Path(out)
    stack = ExitStack()
    with write_errors(out, places=[lock.lock_file(out)]):
        _check_parents(out)
        stack.enter_context(lock.exclusive(out, on_acquire=recover, command=command))
    with stack:
        yield


def _temp_pattern(name: str) -> re.Pattern:
    """Temporary siblings of the output `name`: atomic_folder's .NAME.R.tmp and .NAME.R.old,
    atomic_file's .STEM.R.tmp.SUFFIX (R: tempfile's 8 random characters)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    return re.compile(rf"\.(?:{re.escape(name)}\.{_RANDOM}\.(?:tmp|old)|{re.escape(stem)}\.{_RANDOM}\.tmp{re.escape(suffix)})")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _recover_siblings(key: Path) -> None:
    """Under `key`'s lock: finish its interrupted swap, remove its temporary siblings."""
    pattern = _temp_pattern(key.name)
    try:
        entries = [p for p in key.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return
    for old in sorted(p for p in entries if p.name.endswith(".old")):
        parked = old / key.name
        if (parked.exists() or parked.is_symlink()) and not (key.exists() or key.is_symlink()):
            new = old.with_name(old.name[:-len(".old")] + ".tmp")
            # the new folder was complete when the old one was parked: finish the swap; without it, undo it
            os.replace(new if new.is_dir() else parked, key)
        _remove(old)
    for entry in entries:
        if not entry.name.endswith(".old"):
            _remove(entry)


def recover(key: str | Path) -> None:
    """What a writer of `key` does on taking its lock afresh (no other writer is alive): finish a swap
    a killed writer left half done (the old folder parked in ``.NAME.R.old/NAME`` and the new one
    ``.NAME.R.tmp`` complete: it is renamed in; the new one already in: the old is removed; no new
    one: the old goes back), remove the temporary siblings it left, and, when `key` is an aire
    folder, do the same for every entry inside whose own writer is dead (its lock is free; its stale
    lock file goes too).
    """
    key = Path(key)
    _recover_siblings(key)
    if not key.is_dir() or key.is_symlink() or not is_aire_folder(key):
        return
    temp = re.compile(rf"\.(.+)\.{_RANDOM}\.(?:tmp|old)|\.(.+)\.{_RANDOM}\.tmp(\.[^.]+)|\.(.+){re.escape(lock.LOCK_SUFFIX)}")
    owners = set()
    for entry in key.iterdir():
        match = temp.fullmatch(entry.name)
        if match:
            one, stem, suffix, locked = match.groups()
            owners.add(one or locked or stem + suffix)
    for name in sorted(owners):
        with lock.probe(key / name) as free:
            if free:
                _recover_siblings(lock.output_key(key / name))


def process_umask() -> int:
    """The process's umask (Linux: read from /proc without changing it; elsewhere set and restored at
    once), so files written through temporary names get the mode a plain open() would give them."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_marker(folder: str | Path, kind: str) -> Path:
    """Mark `folder` as an aire output of `kind` ('run', 'scene', 'collection', 'checkpoint', 'live') with
    an empty manifest: what aire writes into it later is appended by :func:`register` (or recorded all
    at once by :func:`seal`)."""
    from aire import __version__

    path = Path(folder) / MARKER
    header = {"written_by": "aire", "version": __version__, "kind": kind, "manifest": True}
    path.write_text(json.dumps(header) + "\n")
    return path


def _read_marker(folder: Path) -> tuple[dict, set[str] | None] | None:
    """(header, manifest) of `folder`'s marker: manifest None for an older aire's marker without one;
    None when there is no valid marker. The header is the first line (JSON), each further line one
    relative path (JSON string) aire wrote."""
    try:
        lines = (folder / MARKER).read_text().splitlines()
        header = json.loads(lines[0]) if lines else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("written_by") != "aire":
        return None
    if not header.get("manifest"):
        return header, None
    entries = set()
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill: the entry is missing, so its file counts as foreign (safe side)
        if isinstance(entry, str):
            entries.add(entry)
    return header, entries


def _listing(folder: Path, prefix: str = "") -> list[str]:
    """Every file and folder under `folder` as relative POSIX paths (not the marker); a sub-folder with
    its own valid marker is listed by its name alone (its own manifest answers for what it holds)."""
    found = []
    for item in sorted(folder.iterdir()):
        if (item.name == MARKER and not prefix) or _AIRE_SCRATCH.fullmatch(item.name):
            continue
        name = prefix + item.name
        found.append(name)
        if item.is_dir() and not item.is_symlink() and _read_marker(item) is None:
            found += _listing(item, name + "/")
    return found


def seal(folder: str | Path) -> None:
    """Record everything now in `folder` as written by aire (its marker's manifest), e.g. when a
    finished output is about to be swapped into place."""
    folder = Path(folder)
    marker = folder / MARKER
    first = marker.read_text().splitlines()[0]
    marker.write_text(first + "\n" + "".join(json.dumps(name) + "\n" for name in _listing(folder)))


def register(path: str | Path) -> None:
    """Append `path` (a file or folder aire just wrote inside a folder it marked) and, for a folder
    without its own marker, everything under it, to the parent's manifest; nothing when the parent is no
    aire folder with a manifest. Appends of a few bytes, so writers of one collection never lose each
    other's entries."""
    path = Path(path)
    parent = path.parent
    read = _read_marker(parent)
    if read is None or read[1] is None:
        return
    names = [path.name]
    if path.is_dir() and not path.is_symlink() and _read_marker(path) is None:
        names += _listing(path, path.name + "/")
    names = [name for name in names if name not in read[1]]
    if not names:
        return
    with open(parent / MARKER, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(name) + "\n" for name in names))


def foreign_entries(folder: str | Path) -> list[str]:
    """What `folder` (an aire folder) holds that aire did not write: entries missing from its manifest,
    and those of each marked sub-folder (prefixed). An older marker without a manifest is judged by the
    names aire's runs (or collections) hold. Empty when everything is aire's."""
    folder = Path(folder)
    read = _read_marker(folder)
    if read is None:
        return [] if is_aire_folder(folder) else [p.name for p in sorted(folder.iterdir())]
    header, manifest = read
    kind = header.get("kind")
    foreign = []
    for name in _listing(folder):
        top = name.split("/")[0]
        if manifest is not None:
            known = name in manifest
        elif kind in ("run", "checkpoint"):
            known = top in MARKED_RUN_FILES
        elif kind == "collection":
            known = top in LEGACY_COLLECTION_FILES or _read_marker(folder / top) is not None
        else:
            known = True  # an older scene's marker: its layout is aire's own (frames, transforms)
        if not known:
            foreign.append(name)
        elif name == top and (folder / name).is_dir() and _read_marker(folder / name) is not None:
            foreign += [f"{name}/{inner}" for inner in foreign_entries(folder / name)]
    return foreign



def marker_kind(folder: str | Path) -> str | None:
    """The kind in `folder`'s marker ('run', 'scene', 'collection', 'checkpoint'), None without a valid one."""
    read = _read_marker(Path(folder))
    return None if read is None else str(read[0].get("kind", ""))


def is_collection(folder: str | Path) -> bool:
    """Whether `folder` is a fit-many collection: its marker says so, or (an older aire's, unmarked)
    it holds jobs.json and summary.json."""
    folder = Path(folder)
    kind = marker_kind(folder)
    if kind is not None:
        return kind == "collection"
    return (folder / "jobs.json").is_file() and (folder / "summary.json").is_file()


def is_aire_folder(folder: str | Path) -> bool:
    """Whether `folder` was written by aire: it has the marker, or is a legacy run folder."""
    folder = Path(folder)
    if _read_marker(folder) is not None:
        return True
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
    foreign = foreign_entries(path) if path.is_dir() else []
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise InputError(f"refusing to replace {out}: it holds {shown}, which aire did not write; "
                         "move them away or choose another --out")


def check_out_dir(out: str | Path, overwrite: bool, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse an output path that is a file, an existing non-empty folder unless `overwrite`, and (even
    with `overwrite`) any folder aire may not replace (see :func:`check_replaceable`)."""
    out = Path(out)
    with write_errors(out):
        _check_out_dir(out, overwrite, list(inputs))


def _check_out_dir(out: Path, overwrite: bool, inputs: list[str | Path]) -> None:
    _check_parents(out)
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
    """Yield a temporary folder ``.NAME.R.tmp`` beside `out`, marked as an aire output of `kind`; on
    success it replaces `out`, on any error it is removed. `out`'s lock is held throughout.

    An `out` that exists at the swap must be empty, or replaceable (:func:`check_replaceable`) with
    `overwrite`. The swap is crash-safe: the old folder is parked in ``.NAME.R.old/NAME``, the new
    one renamed in, then the parked one deleted; a kill at any point leaves either the old or the new
    folder in place or a state the next writer completes (:func:`recover`). Write failures of the
    environment end as InputError ``cannot write OUT: REASON`` (:func:`write_errors`).
    """
    out = Path(out)
    inputs = list(inputs)
    with one_writer(out):
        with write_errors(out, places=[out.parent]):
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
            os.chmod(tmp, 0o777 & ~process_umask())  # mkdtemp's 0700 would hide the run from collaborators
        _becomes[Path(os.path.abspath(tmp))] = out
        try:
            with write_errors(out, places=[tmp]), lock.scope(tmp):
                write_marker(tmp, kind)
                yield tmp
            with write_errors(out, places=[tmp, out]):
                _swap(tmp, out, overwrite, inputs)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            _becomes.pop(Path(os.path.abspath(tmp)), None)


def _swap(tmp: Path, out: Path, overwrite: bool, inputs: list[str | Path]) -> None:
    """Put the finished folder `tmp` at `out` (see :func:`atomic_folder`)."""
    seal(tmp)
    old = None
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise InputError(f"output path exists and is not a folder: {out}")
        if any(out.iterdir()) and not overwrite:
            raise InputError(f"output folder {out} appeared while aire was writing; pass --overwrite to replace it")
        check_replaceable(out, inputs)
        old = tmp.with_name(tmp.name[:-len(".tmp")] + ".old")  # named after tmp: recover() pairs them
        old.mkdir()
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
    register(out)


def check_out_file(out: str | Path, overwrite: bool, inputs: Iterable[str | Path | None] = (),
                   records: str | Path | None = None) -> None:
    """Refuse an output file path that is a folder, that is one of `inputs`, that is a file aire wrote
    into the folder `records` (a run's own pictures, meshes and records: its manifest, `aire_files`), or
    that exists unless `overwrite`."""
    out = Path(out)
    with write_errors(out):
        _check_parents(out)
        _check_out_file(out, overwrite, inputs)
        if records is not None and out.resolve() in {p.resolve() for p in aire_files(records)}:
            raise InputError(f"refusing to write {out}: aire wrote it as part of the run {records}; "
                             "choose another --out")


def aire_files(folder: str | Path) -> list[Path]:
    """The files directly in `folder` that aire wrote (its marker's manifest; every file of a legacy
    run folder without one), [] for a folder aire did not write."""
    folder = Path(folder)
    read = _read_marker(folder)
    if read is None or read[1] is None:
        return [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() and is_aire_folder(folder) else []
    return [folder / name for name in sorted(read[1]) if "/" not in name and (folder / name).is_file()]


def _check_out_file(out: Path, overwrite: bool, inputs: Iterable[str | Path | None]) -> None:
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
    """Yield a temporary path ``.STEM.R.tmp.SUFFIX`` beside `path`; on success it is renamed onto
    `path`, on any error it is removed, so `path` is never half-written. `path`'s lock is held
    throughout (unless it lies inside an atomic_folder being written), and write failures of the
    environment end as InputError ``cannot write PATH: REASON`` (:func:`write_errors`)."""
    path = Path(path)
    with one_writer(path):
        with write_errors(path, places=[path.parent]):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
            os.close(fd)
            os.chmod(name, 0o666 & ~process_umask())  # as open() would make it, not mkstemp's 0600
        tmp = Path(name)
        try:
            with write_errors(path, places=[tmp]):
                yield tmp
                os.replace(tmp, path)
                register(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

