"""Fit many signals: a collection spec (inputs x a grid of settings) run on a local pool or Ray.

    from aire.many import load_jobs, make_executor, run_collection
    jobs = load_jobs(["collection.toml"])
    with make_executor("local") as executor:
        summary = run_collection(jobs, "runs/collection", executor)
    results = fit_batched(image_signals, spec, seeds=[0, 1, 2])  # one batched network (aire.many.batched)
"""

from aire.many.batched import fit_batched
from aire.many.executors import Executor, LocalExecutor, RayExecutor, SerialExecutor, make_executor
from aire.many.runner import run_collection
from aire.many.spec import Job, load_jobs

__all__ = ["Executor", "Job", "fit_batched", "LocalExecutor", "RayExecutor", "SerialExecutor", "load_jobs", "make_executor",
           "run_collection"]
