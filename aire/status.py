"""Status lines for the long phases around a fit (sampling, ground-truth distances, mesh extraction,
Chamfer, rendering test views): one line when a phase starts and one with its duration when it ends, on
stderr, so a command never sits silent for minutes.

Off by default (a library call prints nothing); ``aire fit`` switches them on with :func:`reporting` when
its progress bar is on (not with ``--quiet``). Phases under ``QUIET_BELOW`` seconds print no end line.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from typing import IO, Iterator

#: a phase that ends sooner than this many seconds prints only its start line
QUIET_BELOW = 2.0

_enabled: contextvars.ContextVar[IO[str] | None] = contextvars.ContextVar("aire_status", default=None)


@contextlib.contextmanager
def reporting(enabled: bool = True, file: IO[str] | None = None) -> Iterator[None]:
    """Within this context, :func:`phase` prints its status lines to `file` (stderr) when `enabled`."""
    token = _enabled.set((file or sys.stderr) if enabled else None)
    try:
        yield
    finally:
        _enabled.reset(token)


def say(line: str) -> None:
    """Print one status line (``aire: <line>``) when reporting is on."""
    out = _enabled.get()
    if out is not None:
        print(f"aire: {line}", file=out, flush=True)


@contextlib.contextmanager
def phase(what: str) -> Iterator[None]:
    """``aire: <what> ...`` at the start, ``aire: <what>: <s> s`` at the end (when it took QUIET_BELOW or more)."""
    out = _enabled.get()
    if out is None:
        yield
        return
    print(f"aire: {what} ...", file=out, flush=True)
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if seconds >= QUIET_BELOW:
        print(f"aire: {what}: {seconds:.1f} s", file=out, flush=True)
