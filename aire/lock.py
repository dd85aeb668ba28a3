"""One writer per output: an advisory lock on each output folder or file, held for the writer's life.

A writer of the output ``DIR/NAME`` holds ``flock(2)`` on the lock file ``DIR/.NAME.lock``, which
holds JSON naming the holder (pid, host, command, start time). A second writer is refused at once
with :class:`OutputBusyError`, one line naming the holder. The kernel drops an flock lock when its
holder exits however it exits (SIGKILL and out-of-memory kills included), so a lock file whose lock
can be taken is stale: its writer is dead, and what it left half done may be cleaned up (the caller's
``on_acquire``; see :func:`aire.atomic.one_writer`).

The lock is re-entrant within a process: a run holds its folder's lock for its whole life and the
checkpoint and final save inside it take it again freely. Every output has its own lock, an output
inside a locked folder too (a fit-many job in its collection: another process may write that path
directly); only outputs inside a private temporary folder being written (:func:`scope`) need none.
A waiting second writer that opened a lock file its holder has just removed checks, after locking,
that the file is still the one at the path, so two writers never both hold "the" lock.

Without ``fcntl`` (Windows) no lock is taken. Locks work on local file systems and on NFS where the
kernel maps flock to NFS locks (Linux >= 2.6.12).
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import socket
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from aire.errors import InputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"

_guard = threading.RLock()
#: output path -> (file descriptor, lock file) of the locks this process holds
_held: dict[Path, tuple[int, Path]] = {}
#: folders this process writes privately (temporary siblings): outputs inside need no lock
_scopes: list[Path] = []


class OutputBusyError(InputError):
    """Another live process is writing the same output."""


def output_key(out: str | Path) -> Path:
    """The absolute path that names an output for locking: its parent resolved, its own name kept
    (so a symbolic link is locked as itself, not as its target)."""
    path = Path(os.path.abspath(out))
    return path.parent.resolve() / path.name if path.name else path


def lock_file(out: str | Path) -> Path:
    """``DIR/.NAME.lock`` for the output ``DIR/NAME``."""
    key = output_key(out)
    return key.parent / f".{key.name}{LOCK_SUFFIX}"


def covered(out: str | Path) -> bool:
    """Whether this process already holds `out`'s lock, or writes `out` inside a private scope."""
    key = output_key(out)
    with _guard:
        return key in _held or any(k == key or k in key.parents for k in _scopes)


@contextmanager
def scope(folder: str | Path) -> Iterator[None]:
    """Mark `folder` (a private temporary folder) as written by this process only while inside."""
    key = output_key(folder)
    with _guard:
        _scopes.append(key)
    try:
        yield
    finally:
        with _guard:
            _scopes.remove(key)


def holder(out: str | Path) -> dict | None:
    """The holder record of `out`'s lock file ({'pid', 'host', 'command', 'started'}), or None."""
    try:
        return _parse(lock_file(out).read_bytes())
    except OSError:
        return None


@contextmanager
def exclusive(out: str | Path, *, on_acquire: Callable[[Path], None] | None = None,
              command: str | None = None) -> Iterator[None]:
    """Hold the one-writer lock of `out` while inside.

    Creates the missing parent folders of `out` (removed again on exit when still empty). Raises
    :class:`OutputBusyError` when another process holds the lock, and lets an OSError of creating
    the lock file through (:func:`aire.atomic.one_writer` turns it into one line). `on_acquire(key)`
    runs once the lock is taken afresh (not when re-entered), before the body.
    """
    key = output_key(out)
    if fcntl is None or not key.name:
        yield
        return
    if covered(key):  # re-entered, or inside a private temporary folder: the outer holder releases
        yield
        return
    created = _make_parents(key.parent)
    try:
        fd, path, locked = _acquire(key, command)
    except BaseException:
        _remove_empty(created)
        raise
    with _guard:
        _held[key] = (fd, path)
    try:
        if on_acquire is not None and locked:
            on_acquire(key)
        yield
    finally:
        with _guard:
            del _held[key]
        _release(fd, path)
        _remove_empty(created)


@contextmanager
def probe(out: str | Path) -> Iterator[bool]:
    """Whether no live process writes `out`: True while this takes and holds its lock for the body
    (so no writer can start meanwhile), False when another holder has it, or when it cannot be known
    (no fcntl, an unwritable folder, this process is the writer)."""
    key = output_key(out)
    with _guard:
        mine = key in _held
    if fcntl is None or not key.name or mine:
        yield False
        return
    try:
        fd, path, locked = _acquire(key, None)
    except (OSError, OutputBusyError):
        yield False
        return
    if not locked:
        _release(fd, path)
        yield False
        return
    try:
        yield True
    finally:
        _release(fd, path)


def _release(fd: int, path: Path) -> None:
    """Remove the lock file while still holding it (a waiter that opened it sees it is gone), then unlock."""
    try:
        path.unlink()
    except OSError:
        pass
    os.close(fd)


#: flock errors of a file system without locks (some FUSE and network mounts)
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})


def _acquire(key: Path, command: str | None) -> tuple[int, Path, bool]:
    """(descriptor, lock file, whether it is really locked): False on a file system without locks,
    where the writer goes on with a warning (and nothing of others is cleaned up)."""
    path = key.parent / f".{key.name}{LOCK_SUFFIX}"
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = _parse(_read(fd))
            os.close(fd)
            raise OutputBusyError(f"{key} is being written by another aire process ({_describe(record)}); "
                                  "wait for it to finish or choose another --out") from None
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                os.close(fd)
                raise
            warnings.warn(f"the file system of {key.parent} has no locks: a second writer of {key.name} "
                          "would not be refused", stacklevel=4)
            return fd, path, False
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            try:
                _write_record(fd, command)
            except BaseException:  # e.g. a full disk: leave no lock file behind
                _release(fd, path)
                raise
            return fd, path, True
        os.close(fd)  # its holder removed it as we opened it: lock the new one
    raise OutputBusyError(f"{key} is being written by other aire processes that keep replacing its lock; try again")


def _write_record(fd: int, command: str | None) -> None:
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command or _command(),
              "started": time.time()}
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _command() -> str:
    """This process's command line as the user typed it (`aire fit ...`), shortened to 200 characters."""
    argv = list(sys.argv) or ["python"]
    prog = Path(argv[0]).name
    if prog in ("aire", "__main__.py"):
        prog = "aire"
    text = " ".join([prog, *(shlex.quote(a) for a in argv[1:])])
    return text if len(text) <= 200 else text[:197] + "..."


def _read(fd: int) -> bytes:
    try:
        return os.pread(fd, 4096, 0)
    except OSError:
        return b""


def _parse(data: bytes) -> dict | None:
    try:
        record = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _describe(record: dict | None) -> str:
    if not record:
        return "it has not written its details yet"
    started = record.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {record.get('pid', '?')} on {record.get('host', '?')}, started {when}: {record.get('command', '?')}"


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p `folder`; returns the folders it created, outermost first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing.append(candidate)
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def _remove_empty(created: list[Path]) -> None:
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return
