"""Collections end to end: per-job results identical to `aire fit` alone on every executor, a failing
input recorded without stopping the others, and a rerun that runs only the unfinished jobs."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aire.cli import main
from aire.many import SerialExecutor, load_jobs, run_collection

from tests.many.conftest import FIT_ARGV

VOLATILE = {"seconds", "seconds_fit", "seconds_total"}  # wall-clock times: all that may differ between two runs


def fitted_alone(image: Path, alone: Path) -> Path:
    """The same fit run alone, as a user would: `aire fit image IMAGE --out OUT ...` (one torch thread,
    as conftest sets); run once per session and reused."""
    out = alone / image.stem
    if not (out / "metrics.json").exists():
        assert main(["fit", "image", str(image.resolve()), "--out", str(out), *FIT_ARGV, "--quiet"]) == 0
    return out


def assert_same_fit(job_dir: Path, alone_dir: Path) -> None:
    """Bit-identical: every metric but wall-clock time, and every model tensor."""
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (job_dir, alone_dir))
    assert {k: v for k, v in a.items() if k not in VOLATILE} == {k: v for k, v in b.items() if k not in VOLATILE}
    ta, tb = load_file(str(job_dir / "model.safetensors")), load_file(str(alone_dir / "model.safetensors"))
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key


def check_collection(out: Path, collection) -> dict:
    """Both images done and identical to fitting each alone; the broken one failed with its error."""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"total": 3, "done": 2, "failed": 1, "pending": 0, "missed_target": 0, "running": 0}
    rows = {Path(r["input"]).name: r for r in summary["jobs"]}
    failed = rows["broken.png"]
    assert failed["status"] == "failed" and "cannot read image" in failed["error"]
    error = json.loads((out / f"{failed['id']}.error.json").read_text())
    assert error["error_type"] == "InputError" and "Traceback" in error["traceback"]
    assert not (out / failed["id"]).exists()
    for image in collection["images"]:
        row = rows[image.name]
        assert row["status"] == "done" and row["quality_key"] == "psnr"
        assert row["params_final"] <= 0.5 * row["params_initial"]
        assert_same_fit(out / row["id"], fitted_alone(image, collection["alone"]))
    with open(out / "summary.csv") as f:
        assert sorted(r["status"] for r in csv.DictReader(f)) == ["done", "done", "failed"]
    assert "| failed |" in (out / "summary.md").read_text()
    assert (out / "summary.png").stat().st_size > 1000
    return summary


def test_serial_collection_matches_aire_fit_and_reruns_only_the_failed_job(collection, tmp_path, capsys):
    out = tmp_path / "runs"
    jobs = load_jobs([collection["spec"]])
    first = run_collection(jobs, out, SerialExecutor(), progress=True)
    bar = capsys.readouterr().err  # one bar for the collection: jobs done / failed / running, time left
    assert "3/3" in bar and "done=2, failed=1, running=0" in bar and "<00:00" in bar
    check_collection(out, collection)
    assert sorted(first["run"]["ran"]) == sorted(j.id for j in jobs) and first["run"]["skipped"] == []
    done = [r["id"] for r in first["jobs"] if r["status"] == "done"]
    mtimes = {i: (out / i / "metrics.json").stat().st_mtime_ns for i in done}
    again = run_collection(load_jobs([collection["spec"]]), out, SerialExecutor(), progress=False)
    assert sorted(again["run"]["skipped"]) == sorted(done)
    assert again["run"]["ran"] == [r["id"] for r in first["jobs"] if r["status"] == "failed"]
    assert {i: (out / i / "metrics.json").stat().st_mtime_ns for i in done} == mtimes


@contextlib.contextmanager
def held_back(path: Path):
    """`path` becomes a named pipe nobody writes to, so a fit of it waits at reading its input and cannot
    finish inside the block; the file is back (same bytes, same path, same job id) after it."""
    data = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    try:
        yield
    finally:
        path.unlink()
        path.write_bytes(data)


def _finished(out):
    """Job folders in place with their metrics.json: not a job's temporary ``.ID.R.tmp`` folder (pathlib's
    glob matches hidden names), which holds metrics.json just before it is renamed into place."""
    return {p.parent.name for p in out.glob("*/metrics.json") if not p.parent.name.startswith(".")}


def test_local_pool_killed_midway_reruns_only_unfinished_jobs_identically(collection, tmp_path):
    """Two workers; the collection process is killed once a job has finished while another is surely still
    running (its input held back: waiting for the kill used to race the last job finishing on a loaded
    machine, and then nothing was interrupted); the same command again runs only the rest, and every job
    equals its fit alone."""
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "aire", "fit-many", str(collection["spec"]), "--out", str(out), "--workers", "2",
               "--quiet"]
    first, last = collection["images"]
    with held_back(last):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not _finished(out) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)  # to the collection process only, as a scheduler or `kill` would
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "rerun the same command" in err
    finished = _finished(out)
    assert [name.split("_")[0] for name in finished] == [first.stem]  # the held-back job was interrupted
    time.sleep(0.5)  # a worker left running would write another job now
    assert _finished(out) == finished
    mtimes = {i: (out / i / "metrics.json").stat().st_mtime_ns for i in finished}
    interrupted = json.loads((out / "summary.json").read_text())
    assert interrupted["run"]["interrupted"] and interrupted["counts"]["done"] == len(finished)

    assert main(command[3:]) == 1  # the same command again; exit 1 because one job failed
    summary = check_collection(out, collection)
    every = {r["id"] for r in summary["jobs"]}
    assert summary["run"]["executor"] == "local" and summary["run"]["slots"] == 2
    assert set(summary["run"]["skipped"]) == finished
    assert set(summary["run"]["ran"]) == every - finished
    assert {i: (out / i / "metrics.json").stat().st_mtime_ns for i in finished} == mtimes
    assert not list(out.glob(".*.tmp"))  # leftovers of the killed fits are cleaned up


@pytest.fixture
def ray_module():
    ray = pytest.importorskip("ray")
    yield ray
    if ray.is_initialized():
        ray.shutdown()


def test_local_ray_of_two_workers_matches_aire_fit(collection, tmp_path, ray_module):
    out = tmp_path / "runs"
    code = main(["fit-many", str(collection["spec"]), "--out", str(out), "--executor", "ray", "--workers", "2",
                 "--quiet"])
    assert code == 1
    summary = check_collection(out, collection)
    assert summary["run"]["executor"] == "ray" and summary["run"]["slots"] == 2
    assert not ray_module.is_initialized()  # the local instance we started is shut down


@pytest.mark.slow  # two pool workers importing torch and a rerun: ~1 minute on the shared 2-core machine
def test_local_pool_sigkilled_midway_leaves_no_worker_and_reruns_cleanly(collection, tmp_path):
    """SIGKILL of the collection process (no handler runs): its workers end with it, the next run
    removes what they left half-written, skips the finished jobs and equals each fit alone."""
    from tests.faults import children, gone, wait_until

    out = tmp_path / "runs"
    command = [sys.executable, "-m", "aire", "fit-many", str(collection["spec"]), "--out", str(out), "--workers", "2",
               "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # both workers up (children of the collection process), and a job being fitted (its lock file)
    assert wait_until(lambda: (len(children(process.pid)) >= 2 and any(out.glob(".img*.lock")))
                      or process.poll() is not None, 300)
    workers = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert workers and wait_until(lambda: all(gone(pid) for pid in workers), 30), "workers outlived their parent"
    finished = _finished(out)
    assert main(command[3:]) == 1  # the same command again; exit 1 because one job failed
    summary = check_collection(out, collection)
    assert set(summary["run"]["skipped"]) == finished
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".aire"]
