"""`aire fit-many`: the command-line face of aire.many (spec -> jobs -> executor -> summary)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from aire.errors import InputError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `fit-many` on the `aire` sub-command parser."""
    p = sub.add_parser("fit-many", help="fit a collection of inputs x a grid of settings, resumably, in parallel",
                       description="Each job is one `aire fit` writing DIR/<job-id>/; DIR/summary.{json,md,csv,png} "
                                   "follow as jobs finish. Rerunning the same command skips finished jobs.")
    p.add_argument("spec", nargs="+", help="input folder(s), glob(s) or files; or one TOML file with inputs and a grid")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="collection folder (created; reused on reruns)")
    p.add_argument("--signal", metavar="NAME", help="signal plugin for folder/glob inputs (default: the TOML's, else image)")
    p.add_argument("--executor", choices=("local", "ray", "serial"),
                   help="local: a process pool on this machine (default); ray: Ray, local or a cluster "
                        "(the default with --ray-address); serial: one by one in this process")
    p.add_argument("--workers", type=int, metavar="N", help="jobs at once (default: CPUs / threads per worker)")
    p.add_argument("--threads-per-worker", type=int, default=1, metavar="N", help="torch threads per job (default 1)")
    p.add_argument("--ray-address", metavar="HOST:PORT", help="join this Ray cluster (implies --executor ray)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--batched", action="store_true",
                   help="fit compatible image jobs (one size, settings equal but for the seed) as batched networks "
                        "in this process; the rest as ordinary jobs")
    p.add_argument("--batch-members", type=int, default=64, metavar="N",
                   help="images per batch with --batched (default 64)")
    from aire.many.spec import RESERVED
    from aire.options import add_fit_options

    add_fit_options(p, exclude=RESERVED)  # the `aire fit` options, applied to every job
    return p


def cmd_fit_many(args: argparse.Namespace) -> int:
    from aire.many.executors import make_executor
    from aire.many.runner import check_collection_folder, run_collection
    from aire.many.spec import load_jobs
    from aire.many.summary import MISSED
    from aire.options import given_options

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.batch_members < 1:
        raise InputError(f"--batch-members must be at least 1, got {args.batch_members}")
    if args.threads_per_worker < 1:
        raise InputError(f"--threads-per-worker must be at least 1, got {args.threads_per_worker}")
    check_collection_folder(args.out)
    options = given_options(args)
    settings = dict(options.pop("signal_settings", []))
    jobs = load_jobs(args.spec, signal=args.signal, defaults=options, settings=settings, out=args.out)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        executor_name = args.executor or ("ray" if args.ray_address else "local")
        with make_executor(executor_name, workers=args.workers, threads=args.threads_per_worker,
                           address=args.ray_address) as executor:
            if args.batched:
                from aire.many.batched_runner import run_batched_collection

                summary = run_batched_collection(jobs, args.out, executor, batch_members=args.batch_members,
                                                 progress=not args.quiet)
            else:
                summary = run_collection(jobs, args.out, executor, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"aire: interrupted; finished jobs are kept in {args.out}, rerun the same command to do the rest",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    c, run = summary["counts"], summary["run"]
    missed = f"{c['missed_target']} missed the quality target, " if c.get("missed_target") else ""
    print(f"{c['done']} done, {missed}{c['failed']} failed of {c['total']} jobs ({len(run['ran'])} ran, "
          f"{len(run['skipped'])} skipped as finished) in {run['seconds']:.1f} s")
    for row in summary["jobs"]:
        if row["status"] in ("failed", MISSED):
            print(f"  {row['status']}: {row['id']}: {row.get('error')}", file=sys.stderr)
    print(f"summary: {args.out / 'summary.md'}  (also summary.json, summary.csv, summary.png)")
    # a failed job is the graver outcome; a missed quality target exits 2, as `aire fit` does
    return 1 if c["failed"] else 2 if c.get("missed_target") else 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
