"""`aire fit-many --batched`: compatible jobs fitted as batches in this process, the rest as ordinary jobs.

Jobs are grouped by `aire.many.batched.batch_key` and image size, in batches of at most
`batch_members`; every batch member writes DIR/<job-id>/ exactly as its `aire fit` would. Jobs that
cannot be batched (another signal, settings a batch does not run, an input that does not load, a
batch of one, a batch that failed) go to the executor as ordinary jobs, and the summary covers all.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any, Sequence

from aire.many.executors import Executor
from aire.many.runner import is_finished, run_collection
from aire.many.spec import Job


def group_jobs(jobs: Sequence[Job], batch_members: int) -> tuple[list[list[tuple[Job, Any, Any]]], list[Job]]:
    """(batches of (job, spec, signal) that share a batch key and image size, jobs left to run alone)."""
    from aire.many.batched import batch_key
    from aire.plugins import create

    groups: dict[tuple[str, tuple[int, ...]], list[tuple[Job, Any, Any]]] = {}
    alone: list[Job] = []
    for job in jobs:
        try:
            spec = job.spec()
            key = batch_key(spec)
            signal = create("signal", spec.signal, spec.path, **spec.signal_settings) if key else None
        except Exception:  # noqa: BLE001 - the ordinary job reports the error in the summary
            key = None
        if key is None:
            alone.append(job)
            continue
        groups.setdefault((key, (signal.height, signal.width, signal.out_features)), []).append((job, spec, signal))
    batches = []
    for members in groups.values():
        for start in range(0, len(members), batch_members):
            chunk = members[start:start + batch_members]
            if len(chunk) > 1:
                batches.append(chunk)
            else:
                alone.extend(job for job, _, _ in chunk)
    return batches, alone


def run_batched_collection(jobs: Sequence[Job], out: str | Path, executor: Executor, *, batch_members: int = 64,
                           progress: bool = True) -> dict[str, Any]:
    """Like `aire.many.runner.run_collection`, fitting compatible unfinished jobs in batches first."""
    import aire
    from aire.many.batched import fit_batched
    from aire.run import check_spec

    if batch_members < 1:
        from aire.errors import InputError

        raise InputError(f"--batch-members must be at least 1, got {batch_members}")
    from aire.atomic import marker_kind, one_writer, write_errors, write_marker
    from aire.many.runner import check_collection_folder

    out = Path(out).resolve()
    check_collection_folder(out)
    with one_writer(out):  # the collection's lock from the first batch to the summary (run_collection re-enters it)
        with write_errors(out):
            out.mkdir(parents=True, exist_ok=True)
            if marker_kind(out) is None:
                write_marker(out, "collection")
        todo = [j for j in jobs if not is_finished(out, j)]
        batches, _ = group_jobs(todo, batch_members)
        ran: list[str] = []
        began = time.time()  # the summary's run seconds include the batches
        for batch in batches:
            start = time.perf_counter()
            try:
                for _, spec, _ in batch:
                    check_spec(spec)
                results = fit_batched([s for _, _, s in batch], batch[0][1], [spec.train.seed for _, spec, _ in batch])
                for (job, spec, signal), result in zip(batch, results):
                    config = spec.to_dict()
                    aire.save_run(result, signal, out / job.id, overwrite=True, settings=config, config=config)
                    ran.append(job.id)
            except KeyboardInterrupt:
                raise
            except Exception:  # noqa: BLE001 - its jobs run alone below, where their errors are reported
                traceback.print_exc()
            if progress:
                print(f"fit-many: batch of {len(batch)} fitted in {time.perf_counter() - start:.1f} s", flush=True)
        # the summary names how this run fitted: batched (as many at once as the largest batch), with the
        # executor named too when jobs are left to run alone on it
        rest = [j for j in jobs if not is_finished(out, j)]
        largest = max((len(b) for b in batches), default=0)
        label = (("batched" if not rest else f"batched+{executor.name}"), max(largest, executor.slots if rest else 0)) \
            if batches else None
        return run_collection(jobs, out, executor, progress=progress, ran_before=ran, started=began, label=label)
