"""Run one job of a collection: exactly `aire fit` (the same aire.run.run_spec), quietly, in a worker."""

from __future__ import annotations

import contextlib
import io
import os
import time
import traceback
from pathlib import Path
from typing import Any

from aire.many.spec import Job


def pin_environment(threads: int) -> None:
    """OpenMP/MKL thread counts for a fresh worker, set before torch is imported there."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)


def set_threads(threads: int) -> None:
    """Pin this process to `threads` torch (and OpenMP) threads."""
    pin_environment(threads)
    import torch

    torch.set_num_threads(threads)


def run_job(task: dict[str, Any]) -> dict[str, Any]:
    """Fit `task['job']` into `task['out']/<job id>` with `task['threads']` threads.

    Returns {'id', 'status': 'done' | 'failed', 'seconds', 'log', and for failures 'error',
    'error_type', 'traceback'}; every exception of the fit is caught and reported, never raised,
    so one bad input cannot stop the others.
    """
    from aire.run import run_spec

    job = Job.from_dict(task["job"])
    threads = task.get("threads")
    if threads:
        set_threads(int(threads))
    out = Path(task["out"]) / job.id
    log = io.StringIO()
    start = time.perf_counter()
    record: dict[str, Any] = {"id": job.id, "status": "done", "host": os.uname().nodename, "pid": os.getpid()}
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            run_spec(job.spec(), out, overwrite=True)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a job's failure is data for the summary
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        record.update(status="failed", error=message, error_type=type(exc).__name__,
                      traceback=traceback.format_exc())
    record["seconds"] = time.perf_counter() - start
    record["log"] = log.getvalue()
    return record
