"""Run a collection: skip finished jobs, run the rest on an executor, keep the summary current.

A job is finished iff DIR/<job-id>/metrics.json exists (`save_run` renames the whole folder into
place, so it is never half there). A failed job leaves DIR/<job-id>.error.json and does not stop
the others; rerunning the same command retries it and skips every finished job.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from aire.atomic import MARKER, is_collection, marker_kind, one_writer, recover, write_errors, write_marker
from aire.errors import InputError
from aire.many.executors import Executor, imap_unordered
from aire.many.job import run_job
from aire.many.spec import Job
from aire.many.summary import job_row, write_atomic, write_summary

ERROR_SUFFIX = ".error.json"


def is_finished(out: Path, job: Job) -> bool:
    return (out / job.id / "metrics.json").is_file()


def check_collection_folder(out: str | Path) -> None:
    """InputError unless `out` is absent, empty or a collection (aire.atomic.is_collection): fit-many
    never mixes its files into a folder of yours, an input folder or another aire output."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_collection(out):
        raise InputError(f"--out {out} holds files fit-many did not write (no collection {MARKER} marker); "
                         "choose a new or empty folder")


def run_collection(jobs: Sequence[Job], out: str | Path, executor: Executor, *, progress: bool = True,
                   plot_every: float = 5.0, ran_before: Sequence[str] = (), started: float | None = None,
                   label: tuple[str, int] | None = None) -> dict[str, Any]:
    """Fit every unfinished job of `jobs` into `out/<job id>/` on `executor`; returns the summary
    (also written to out/summary.{json,md,csv,png} after every job). Jobs named in `ran_before` were
    fitted by this same run before (batched, aire.many.batched_runner): listed as ran, not skipped, and the
    run's seconds count from `started` (time.time() when those began). `label` is the summary's (executor,
    jobs at once) when they are not `executor`'s name and slots (batched: ``("batched", 64)``).

    `out`'s one-writer lock (aire.lock) is held throughout, so a second collection on the same folder
    is refused in one line naming this one instead of removing its jobs' folders in flight; what a
    killed run left (temporary job folders, summary temps) is removed when its writer is dead."""
    out = Path(out).resolve()
    check_collection_folder(out)
    with one_writer(out):
        check_collection_folder(out)
        with write_errors(out):
            out.mkdir(parents=True, exist_ok=True)
            if marker_kind(out) is None:
                write_marker(out, "collection")
        recover(out)  # leftovers of a killed run whose writers are dead: temp job folders, summary temps
        return _run(jobs, out, executor, progress, plot_every, ran_before, started, label)


def _run(jobs: Sequence[Job], out: Path, executor: Executor, progress: bool, plot_every: float,
         ran_before: Sequence[str] = (), started: float | None = None,
         label: tuple[str, int] | None = None) -> dict[str, Any]:
    _write_json(out / "jobs.json", {"jobs": [j.to_dict() for j in jobs]})
    skipped = [j for j in jobs if is_finished(out, j) and j.id not in set(ran_before)]
    todo = [j for j in jobs if not is_finished(out, j)]
    name, slots = label or (executor.name, executor.slots)
    state: dict[str, Any] = {
        "executor": name, "slots": slots, "started": started or time.time(),
        "skipped": [j.id for j in skipped], "ran": [j for j in ran_before], "running": 0, "interrupted": False}
    last_plot = [0.0]
    rows = {j.id: job_row(out, j, None) for j in jobs}  # a row changes only when its job finishes

    def refresh(final: bool = False) -> dict[str, Any]:
        plot = final or time.monotonic() - last_plot[0] >= plot_every
        if plot:
            last_plot[0] = time.monotonic()
        return write_summary(out, list(rows.values()), state, plot=plot)

    write_summary(out, list(rows.values()), state, plot=False)
    bar = _bar(len(jobs), len(jobs) - len(todo), progress)
    counts = {"done": len(jobs) - len(todo), "failed": 0}
    tasks = [{"job": j.to_dict(), "out": str(out), "threads": getattr(executor, "threads", None)} for j in todo]

    def on_running(n: int) -> None:
        state["running"] = n
        if bar is not None:
            bar.set_postfix(done=counts["done"], failed=counts["failed"], running=n, refresh=True)

    results = imap_unordered(executor, run_job, tasks, gpus=_gpus, on_running=on_running)
    try:
        for task, record, exc in results:
            job = Job.from_dict(task["job"])
            if exc is not None:  # the worker itself died (killed, out of memory), not the fit
                record = {"id": job.id, "status": "failed", "error": f"worker failed: {type(exc).__name__}: {exc}",
                          "error_type": type(exc).__name__}
            if record["status"] == "done" and not is_finished(out, job):
                record.update(status="failed", error="the fit returned but wrote no metrics.json")
            rows[job.id] = job_row(out, job, record)
            state["ran"].append(job.id)
            error_file = out / f"{job.id}{ERROR_SUFFIX}"
            if record["status"] == "failed":
                counts["failed"] += 1
                _write_json(error_file, {**job.to_dict(), **record})
            else:
                counts["done"] += 1
                error_file.unlink(missing_ok=True)
            state["running"] = max(0, state["running"] - 1)
            if bar is not None:
                bar.set_postfix(done=counts["done"], failed=counts["failed"], running=state["running"], refresh=False)
                bar.update(1)
            refresh()
    except KeyboardInterrupt:
        state["interrupted"] = True
        raise
    finally:
        results.close()  # cancels whatever is still in flight
        for job in todo:  # finished on disk while we were interrupted, before its result reached us
            if job.id not in state["ran"] and is_finished(out, job):
                rows[job.id] = job_row(out, job, None)
                state["ran"].append(job.id)
        state["running"] = 0
        if bar is not None:
            bar.close()
        summary = refresh(final=True)
    return summary


def _gpus(task: dict[str, Any]) -> float:
    """One GPU for a job that fits on CUDA, none otherwise."""
    return 1.0 if str(task["job"]["options"].get("device", "cpu")).startswith("cuda") else 0.0


def _bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="fit-many", unit="job", dynamic_ncols=True)


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str))
