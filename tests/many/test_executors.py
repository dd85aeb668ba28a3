"""Executors: results come back as calls finish, a failing call or a dying worker fails only its item."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aire.errors import InputError
from aire.many.executors import LocalExecutor, SerialExecutor, imap_unordered, make_executor


def double_or_fail(x: int) -> int:
    if x == 2:
        raise ValueError("two is bad")
    return 2 * x


def double_or_die(x: int) -> int:
    if x == 1:
        os._exit(3)  # the worker process dies, as when killed for memory
    return 2 * x


def test_serial_yields_every_item_and_keeps_errors_per_item():
    running = []
    out = list(imap_unordered(SerialExecutor(), double_or_fail, [0, 1, 2, 3], on_running=running.append))
    assert [(item, result) for item, result, exc in out if exc is None] == [(0, 0), (1, 2), (3, 6)]
    [(item, _, exc)] = [o for o in out if o[2] is not None]
    assert item == 2 and isinstance(exc, ValueError)
    assert max(running) == 1


@pytest.mark.slow  # two worker start-ups with torch imports: ~14 s on the shared 2-core machine
def test_local_pool_survives_a_dying_worker():
    with LocalExecutor(workers=1) as executor:
        out = {item: (result, exc) for item, result, exc in imap_unordered(executor, double_or_die, [0, 1, 2])}
    assert out[0] == (0, None) and out[2] == (4, None)
    assert out[1][0] is None and "terminated abruptly" in str(out[1][1])


def test_local_pool_is_sized_to_the_machine_and_validated():
    assert LocalExecutor(threads=1).slots == max(1, len(os.sched_getaffinity(0)))
    assert LocalExecutor(workers=3, threads=2).slots == 3
    for bad in ({"workers": 0}, {"threads": 0}):
        with pytest.raises(InputError):
            LocalExecutor(**bad)
    with pytest.raises(InputError, match="--executor ray"):
        make_executor("local", address="127.0.0.1:6379")
    with pytest.raises(InputError, match="unknown executor"):
        make_executor("dask")


def test_ray_missing_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(InputError, match=r"pip install 'aire-inr\[ray\]'"):
        make_executor("ray")


def test_ray_is_imported_only_when_chosen():
    code = "import sys, aire.cli, aire.many; aire.cli.build_parser(); assert 'ray' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_cuda_jobs_ask_for_one_gpu():
    from aire.many.runner import _gpus

    assert _gpus({"job": {"options": {"device": "cuda"}}}) == 1.0
    assert _gpus({"job": {"options": {"device": "cuda:1"}}}) == 1.0
    assert _gpus({"job": {"options": {}}}) == 0.0


POOL = """
import sys
from aire.many.executors import LocalExecutor
from tests.faults import sleep_marked

executor = LocalExecutor(workers=2)
futures = [executor.submit(sleep_marked, (sys.argv[1], 600)) for _ in range(2)]
futures[0].result()
"""


def test_local_pool_workers_die_with_a_killed_collection_process(tmp_path):
    """SIGKILL of the process that owns the pool (no chance to clean up): its workers, busy with jobs,
    end too instead of fitting on unseen for minutes."""
    from tests.faults import ENV, gone, wait_until

    parent = subprocess.Popen([sys.executable, "-c", POOL, str(tmp_path)], env=ENV, cwd=Path(__file__).parents[2])
    try:
        assert wait_until(lambda: len(list(tmp_path.iterdir())) == 2, 120), "the workers never started their jobs"
        workers = [int(p.name) for p in tmp_path.iterdir()]
        assert not any(gone(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        assert wait_until(lambda: all(gone(pid) for pid in workers), 30), "workers outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()


WATCHED = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import os, sys, time; "
                          "from aire.many.executors import die_with_parent; "
                          "die_with_parent(os.getppid(), kernel=False); print(os.getpid(), flush=True); time.sleep(600)"],
                         stdout=subprocess.PIPE, text=True)
print(child.stdout.readline().strip(), flush=True)
child.wait()
"""


def test_without_the_kernel_signal_a_worker_watches_its_parent(tmp_path):
    """The fallback of other systems (and of pools started off the main thread): a thread that
    sees the parent pid change."""
    from tests.faults import ENV, gone, wait_until

    parent = subprocess.Popen([sys.executable, "-c", WATCHED], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert not gone(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        assert wait_until(lambda: gone(worker), 30), "the worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
