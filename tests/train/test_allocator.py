"""glibc malloc told to keep freed memory: both thresholds set once per process, nothing elsewhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest

from aire.train import allocator


class FakeMallopt:
    def __init__(self, answer: int):
        self.calls, self.answer = [], answer

    def __call__(self, param, value):
        self.calls.append((param, value))
        return self.answer


class FakeLibc:
    def __init__(self, answer: int = 1):
        self.mallopt = FakeMallopt(answer)
        self.calls = self.mallopt.calls


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.sys, "platform", "linux")


def test_sets_both_thresholds_once(monkeypatch, fresh):
    libc = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: libc)
    assert allocator.retain_freed_memory() is True
    assert libc.calls == [(-3, 1 << 30), (-1, 1 << 30)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    assert allocator.retain_freed_memory() is True and len(libc.calls) == 2  # once per process


def test_a_refusal_or_another_libc_is_reported(monkeypatch, fresh):
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: FakeLibc(answer=0))
    assert allocator.retain_freed_memory() is False
    monkeypatch.setattr(allocator, "_applied", None)

    def no_libc(name, *a, **k):
        raise OSError("not found")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert allocator.retain_freed_memory() is False


def test_does_nothing_off_linux(monkeypatch, fresh):
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: pytest.fail("no C library call off Linux"))
    assert allocator.retain_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_this_glibc_accepts_the_settings():
    if not ctypes.util.find_library("c"):
        pytest.skip("no C library found")
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert allocator.retain_freed_memory() is True
