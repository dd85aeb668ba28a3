"""Keep freed memory in the process (glibc malloc), so large per-step tensors are not faulted in anew.

A batched fit allocates tensors of members x pixels x width floats (33 MB for 64 crops of 64 x 64 at
width 32) several times per step. glibc's malloc serves blocks above M_MMAP_THRESHOLD (dynamic, at
most 32 MB) with a fresh mmap and returns freed heap tops above M_TRIM_THRESHOLD to the system, so
every step touches new pages; each first touch is a page fault, and in a virtual machine that
reports free pages to its host (firecracker, as on this project's machines) a costly one. Measured
here (benchmarks/results/throughput-steps-cpu.md): an elementwise product of a 33 MB tensor took
8.2 ns per element with the defaults and 0.56 ns with both thresholds at 1 GiB; a batched step of
64 members went from 28-34 to 13-16 ms per member. Single fits (tensors of 0.5 MB) gained nothing.

The settings are mallopt(3)'s M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, process-wide and for the rest
of the process (glibc has no way back to its dynamic thresholds): freed memory stays reserved for
the next allocations instead of going back to the system. Elsewhere (macOS, Windows, musl) nothing
is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt(3) parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: the thresholds set: blocks up to 1 GiB come from the heap and freed memory up to 1 GiB stays
THRESHOLD = 1 << 30

_applied: bool | None = None


def retain_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to THRESHOLD, once per process; returns whether they are
    set (False where the C library is not glibc or refuses)."""
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):  # not glibc (musl has no mallopt)
                return False
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _applied = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))
    return _applied
