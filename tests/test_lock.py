"""One writer per output: a second writer is refused naming the first, the lock goes with its holder
(SIGKILL included), re-entry and nested outputs need no second lock, and no lock file is left."""

from __future__ import annotations

import os
import signal

import pytest

from aire import lock
from aire.lock import OutputBusyError, exclusive, lock_file, probe

from tests.faults import held_by_another_process, try_from_another_process


def test_a_second_writer_is_refused_naming_the_holder_until_it_dies(tmp_path):
    out = tmp_path / "out"
    with held_by_another_process(out) as holder:
        with pytest.raises(OutputBusyError) as refused:
            with exclusive(out):
                pass
        message = str(refused.value)
        assert "\n" not in message and str(out) in message
        assert f"pid {holder.pid} on {os.uname().nodename}" in message
        assert f"holder-of-the-test {out}" in message and "started 2" in message  # the command and a date
        with probe(out) as free:
            assert not free
        holder.send_signal(signal.SIGKILL)  # the kernel drops the lock with its holder
        holder.wait(30)
        assert lock_file(out).exists(), "a killed holder leaves its lock file: stale, but it tells"
        with exclusive(out):
            assert lock.holder(out)["pid"] == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "the lock file goes with its last holder"


def test_reentry_needs_no_second_lock_but_an_output_inside_a_locked_folder_has_its_own(tmp_path):
    out = tmp_path / "set"
    with exclusive(out):
        first = lock_file(out).stat().st_ino
        with exclusive(out):
            with exclusive(out / "job"):  # another process may write set/job directly: it is locked too
                assert lock_file(out / "job").is_file() and lock.covered(out / "job")
                assert "is being written by another aire process" in try_from_another_process(out / "job")
        assert lock_file(out).stat().st_ino == first, "leaving the inner one keeps the outer lock"
        assert not lock_file(out / "job").exists()
        with lock.scope(out / "tmp"):  # a private temporary folder: what is inside needs no lock
            with exclusive(out / "tmp" / "training.png"):
                assert not (out / "tmp").exists()
    assert not lock_file(out).exists() and not lock.covered(out)


def test_missing_parents_are_made_and_removed_again_when_left_empty(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with exclusive(out):
        assert (tmp_path / "a" / "b").is_dir()
    assert not (tmp_path / "a").exists()
    with exclusive(out):
        out.mkdir()
    assert out.is_dir(), "parents holding the output stay"


def test_probe_takes_a_free_lock_and_removes_a_stale_lock_file(tmp_path):
    out = tmp_path / "job"
    lock_file(out).write_text('{"pid": 1}')  # left by a killed writer
    with probe(out) as free:
        assert free and lock.holder(out)["pid"] == os.getpid()
    assert not lock_file(out).exists()
    with exclusive(out):
        with probe(out) as free:
            assert not free, "this process writes it"


def test_a_file_system_without_locks_writes_with_a_warning_and_cleans_up_nothing(tmp_path, monkeypatch):
    import errno

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    seen = []
    with pytest.warns(UserWarning, match="has no locks"):
        with exclusive(tmp_path / "out", on_acquire=seen.append):
            assert lock_file(tmp_path / "out").is_file()
    assert seen == [], "without a lock nobody can tell a dead writer: nothing is cleaned up"
    assert list(tmp_path.iterdir()) == []
    with probe(tmp_path / "out") as free:
        assert not free
