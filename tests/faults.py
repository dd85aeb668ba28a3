"""Tools to make the environment fail on purpose: a full disk (ENOSPC injected into Python's file
writes, or a small tmpfs), a read-only tmpfs, a process that holds an output's lock."""

from __future__ import annotations

import builtins
import errno
import io
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


class _FullFile:
    """A file opened for writing on a disk with no space left: every write raises ENOSPC."""

    def __init__(self, real, name: str) -> None:
        self._real, self._name = real, name

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._name)

    writelines = write

    def __getattr__(self, attr):
        return getattr(self._real, attr)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._real.close()

    def __iter__(self):
        return iter(self._real)


def _name_of(file) -> str:
    if isinstance(file, int):  # os.fdopen(fd): the path the descriptor is open on
        try:
            return os.readlink(f"/proc/self/fd/{file}")
        except OSError:
            return ""
    return os.fspath(file) if isinstance(file, (str, bytes, os.PathLike)) else ""


def inject_enospc(monkeypatch, match: Callable[[Path], bool], after: int = 0) -> list[Path]:
    """Make every write to a file opened for writing whose path satisfies `match` fail with ENOSPC,
    once `after` such files have been written normally. Covers what opens files through Python's
    open (pathlib, matplotlib, numpy, trimesh, Pillow, zipfile, os.fdopen). Returns the list of the
    paths that failed (appended as they do)."""
    real_open = io.open
    failed: list[Path] = []
    allowed = [after]

    def fake_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        name = _name_of(file)
        if name and any(c in mode for c in "wax+") and match(Path(os.fsdecode(name))):
            if allowed[0] > 0:
                allowed[0] -= 1
                return handle
            failed.append(Path(os.fsdecode(name)))
            return _FullFile(handle, os.fsdecode(name))
        return handle

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    return failed


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and sys.platform.startswith("linux")


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at `where` with mount `options` (e.g. 'size=64k' or 'ro'); skips the test when
    this process cannot mount (not root, no CAP_SYS_ADMIN)."""
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root on Linux")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path, leave_kb: int) -> None:
    """Fill the file system of `folder` until about `leave_kb` KiB are free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    size = max(0, free - leave_kb * 1024)
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * size)


HOLD = """
import sys, time
from aire.lock import exclusive
with exclusive(sys.argv[1], command="holder-of-the-test " + sys.argv[1]):
    print("holding", flush=True)
    time.sleep(600)
"""


@contextmanager
def held_by_another_process(out: Path) -> Iterator[subprocess.Popen]:
    """A live process (importing only aire.lock) that holds `out`'s lock while inside; killed with
    SIGKILL on exit, as a crashed writer would be."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(30)


def gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state in ("Z", "X")


def wait_until(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a generous deadline, not a speed claim)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def sleep_marked(task: tuple[str, float]) -> None:
    """A job for pool workers: write this worker's pid into the folder task[0], then sleep task[1] s."""
    folder, seconds = task
    (Path(folder) / str(os.getpid())).write_text("")
    time.sleep(seconds)


TRY = """
import sys
from aire.lock import OutputBusyError, exclusive
try:
    with exclusive(sys.argv[1]):
        print("took it")
except OutputBusyError as exc:
    print(exc)
"""


def try_from_another_process(out: Path) -> str:
    """What another process gets when it tries to lock `out`: 'took it', or the refusal's message."""
    return subprocess.run([sys.executable, "-c", TRY, str(out)], capture_output=True, text=True, env=ENV).stdout.strip()


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found
