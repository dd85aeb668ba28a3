"""Where the jobs of a collection run: one small interface, three executors.

* `serial`: one after another in this process (debugging, baselines);
* `local` (the default): a spawn-context process pool sized to the machine, T torch threads per worker;
  its workers die with the collection process, even when that is killed with SIGKILL;
* `ray`: a local Ray instance or an existing cluster (`address`); Ray is imported only here.

An executor submits a picklable call and says which submissions have finished; `imap_unordered`
keeps at most `slots` of them in flight, so 'running' in the progress bar is exact.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterator, Sequence

from aire.errors import InputError
from aire.many.job import pin_environment, set_threads

EXECUTORS = ("local", "ray", "serial")


def available_cpus() -> int:
    """CPUs this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def die_with_parent(parent: int, kernel: bool = True) -> None:
    """Make this worker process end as soon as `parent` (the collection process) is gone, however it
    went (SIGKILL included), so no fit runs on unseen: Linux's PR_SET_PDEATHSIG (SIGKILL to us when the
    parent dies; prctl(2)) when `kernel` (the parent started us from its main thread: the signal fires
    when the starting *thread* ends), else a thread that watches the parent pid once a second."""
    if kernel and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # it died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="aire-parent-watch", daemon=True).start()


def _start_worker(threads: int, parent: int, kernel: bool) -> None:
    """Pool initializer: thread counts pinned before torch loads, and death with the parent."""
    pin_environment(threads)
    die_with_parent(parent, kernel)


class Executor(abc.ABC):
    """Runs `fn(item)` calls somewhere; `slots` is how many can run at once."""

    name: str = ""
    slots: int = 1

    @abc.abstractmethod
    def submit(self, fn: Callable[[Any], Any], item: Any, *, gpus: float = 0) -> Any:
        """Start fn(item); return a handle. `gpus` is what the call needs of a GPU (Ray reserves it)."""

    @abc.abstractmethod
    def wait(self, handles: Sequence[Any]) -> list[Any]:
        """Block until at least one handle has finished; return the finished ones."""

    @abc.abstractmethod
    def result(self, handle: Any) -> Any:
        """The return value of a finished call (raises what the call or its worker raised)."""

    def cancel(self, handles: Sequence[Any]) -> None:
        """Stop calls still in flight (on interrupt); the default waits for nothing."""

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def imap_unordered(executor: Executor, fn: Callable[[Any], Any], items: Sequence[Any], *,
                   gpus: Callable[[Any], float] = lambda item: 0,
                   on_running: Callable[[int], None] = lambda n: None) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Yield (item, result, None) or (item, None, exception) as calls finish, keeping at most
    `executor.slots` in flight; on interrupt the calls in flight are cancelled."""
    pending = list(items)[::-1]
    in_flight: dict[Any, Any] = {}
    try:
        while pending or in_flight:
            while pending and len(in_flight) < executor.slots:
                item = pending.pop()
                in_flight[executor.submit(fn, item, gpus=gpus(item))] = item
            on_running(len(in_flight))
            for handle in executor.wait(list(in_flight)):
                item = in_flight.pop(handle)
                try:
                    yield item, executor.result(handle), None
                except (KeyboardInterrupt, GeneratorExit):
                    raise
                except BaseException as exc:  # noqa: BLE001 - a crashed worker fails its job only
                    yield item, None, exc
    finally:
        if in_flight:
            executor.cancel(list(in_flight))


class SerialExecutor(Executor):
    """Each call runs at submit time in this process: no parallelism, no start-up cost."""

    name = "serial"

    def __init__(self) -> None:
        self.slots = 1

    def submit(self, fn: Callable[[Any], Any], item: Any, *, gpus: float = 0) -> Any:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(item))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            future.set_exception(exc)
        return future

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        return list(handles)

    def result(self, handle: Any) -> Any:
        return handle.result()


class LocalExecutor(Executor):
    """A spawn-context process pool; each worker pins itself to `threads` torch threads."""

    name = "local"

    def __init__(self, workers: int | None = None, threads: int = 1) -> None:
        if threads < 1:
            raise InputError(f"--threads-per-worker must be at least 1, got {threads}")
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        self.threads = threads
        self.slots = workers or max(1, available_cpus() // threads)
        self._pool: cf.ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_start_worker,
                                                initargs=(self.threads, os.getpid(),
                                                          threading.current_thread() is threading.main_thread()))
        return self._pool

    def submit(self, fn: Callable[[Any], Any], item: Any, *, gpus: float = 0) -> Any:
        try:
            return self._ensure_pool().submit(fn, item)
        except cf.process.BrokenProcessPool:  # a worker died (killed, out of memory): start a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return self._ensure_pool().submit(fn, item)

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Any) -> Any:
        return handle.result()

    def cancel(self, handles: Sequence[Any]) -> None:
        self._terminate()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _terminate(self) -> None:
        """Stop the workers now (interrupt): pending calls are dropped, running fits are killed;
        their outputs are written atomically, so nothing half-written is left as finished."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public API before Python 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)


class RayExecutor(Executor):
    """Jobs as Ray tasks: a local Ray instance (`address=None`) or an existing cluster."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise InputError("--executor ray needs Ray: pip install 'aire-inr[ray]'") from None
        if threads < 1:
            raise InputError(f"--threads-per-worker must be at least 1, got {threads}")
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        self._ray = ray
        self.threads = threads
        self._started = not ray.is_initialized()
        if self._started:
            try:
                if address is None:
                    ray.init(num_cpus=(workers or max(1, available_cpus() // threads)) * threads,
                             include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=address, log_to_driver=False)
            except ConnectionError as exc:
                raise InputError(f"--ray-address {address}: cannot join a Ray cluster there: {exc}") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = workers or max(1, cpus // threads)
        self._remote = ray.remote(_ray_call)

    def submit(self, fn: Callable[[Any], Any], item: Any, *, gpus: float = 0) -> Any:
        return self._remote.options(num_cpus=self.threads, num_gpus=gpus).remote(fn, item, self.threads)

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        done, _ = self._ray.wait(list(handles), num_returns=1)
        return done

    def result(self, handle: Any) -> Any:
        return self._ray.get(handle)

    def cancel(self, handles: Sequence[Any]) -> None:
        for handle in handles:
            self._ray.cancel(handle, force=True)

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()


def _ray_call(fn: Callable[[Any], Any], item: Any, threads: int) -> Any:
    set_threads(threads)
    return fn(item)


def make_executor(name: str, *, workers: int | None = None, threads: int = 1, address: str | None = None) -> Executor:
    """An executor by name: 'local' (default), 'ray', 'serial'."""
    if address is not None and name != "ray":
        raise InputError("--ray-address needs --executor ray")
    if name == "local":
        return LocalExecutor(workers, threads)
    if name == "ray":
        return RayExecutor(address, workers, threads)
    if name == "serial":
        return SerialExecutor()
    raise InputError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
