"""Two writers of one output, as real processes: exactly one wins and the other exits 2 in one line;
a folder that appears during a fit is never replaced; a second collection on a folder in use is
refused instead of deleting the first one's jobs in flight."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aire.cli import main
from aire.train.state import CHECKPOINT_FILE, load_checkpoint

from tests.faults import ENV, wait_until

FIT = ["--hidden", "8", "8", "--steps", "200", "--eval-every", "50", "--quiet", "--schedule", "none"]


def _aire(*argv) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aire", *map(str, argv)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _two_fits(image_path: Path, out: Path, *extra: str, stagger: float = 0.0) -> list[tuple[int, list[str]]]:
    first = _aire("fit", "image", image_path, "--out", out, *FIT, *extra)
    time.sleep(stagger)
    second = _aire("fit", "image", image_path, "--out", out, *FIT, *extra)
    return [(p.wait(300), p.stderr.read().strip().splitlines()) for p in (first, second)]


def _check_one_wins(results, out: Path, steps: int = 200) -> None:
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    [(_, err)] = [r for r in results if r[0] == 2]
    assert len(err) == 1 and err[0].startswith("aire: error:"), err
    # the holder is named by pid, or, in the instant between its lock and its details, said to be starting
    assert ("is being written by another aire process (pid " in err[0]
            or "is being written by another aire process (it has not written its details yet)" in err[0]
            or "already exists" in err[0]), err
    assert json.loads((out / "metrics.json").read_text())["steps_completed"] == steps
    assert sorted(p.name for p in out.parent.iterdir() if p.name != "synthetic.png") == ["out"], "no temp, no lock"


def test_two_fits_with_checkpoints_started_together_one_wins(image_path, tmp_path):
    """The loser is refused before it writes anything, so the two never share a checkpoint.pt."""
    out = tmp_path / "out"
    _check_one_wins(_two_fits(image_path, out, "--checkpoint-every", "20", "--steps", "60"), out, steps=60)


@pytest.mark.slow  # ten pairs of fits, ~3 minutes on the shared 2-core machine
@pytest.mark.parametrize("checkpoints", [False, True])
def test_two_fits_at_random_offsets_one_wins(image_path, tmp_path, checkpoints):
    rng = random.Random(17)
    for attempt in range(5):
        out = tmp_path / f"try{attempt}" / "out"
        out.parent.mkdir()
        extra = ["--checkpoint-every", "20"] if checkpoints else []
        _check_one_wins(_two_fits(image_path, out, *extra, stagger=rng.uniform(0.0, 3.0)), out)


@pytest.mark.slow  # one subprocess fit, ~20 s on the shared 2-core machine
def test_a_folder_that_appears_during_the_fit_is_never_replaced(image_path, tmp_path):
    """Another program (not aire, so it takes no lock) creates the output folder while the fit runs."""
    out = tmp_path / "out"
    fit = _aire("fit", "image", image_path, "--out", out, *FIT, "--steps", "3000")
    assert wait_until(lambda: (tmp_path / ".out.lock").exists() or fit.poll() is not None, 120)
    out.mkdir()
    (out / "keep.txt").write_text("another program's")
    assert fit.wait(300) == 2
    err = fit.stderr.read().strip().splitlines()
    assert len(err) == 1 and ("appeared while aire was writing" in err[0] or "already exists" in err[0]), err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"] and (out / "keep.txt").read_text() == "another program's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "synthetic.png"]


def test_a_collection_in_use_is_refused_and_its_jobs_in_flight_untouched(tmp_path, capsys):
    """Another process holds the collection (as a running fit-many does) with a job's folder being
    written: fit-many on the same folder is refused in one line naming it, and touches nothing."""
    from aire.atomic import write_marker
    from tests.faults import held_by_another_process
    from tests.many.conftest import write_images

    images = write_images(tmp_path / "images", 1)
    out = tmp_path / "set"
    out.mkdir()
    write_marker(out, "collection")
    (out / ".img0_1234abcd.abcdefgh.tmp").mkdir()  # a job's folder in flight
    (out / ".img0_1234abcd.abcdefgh.tmp" / "model.json").write_text("{}")
    with held_by_another_process(out) as holder:
        capsys.readouterr()
        assert main(["fit-many", str(images[0]), "--out", str(out), "--executor", "serial", *FIT]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {holder.pid}" in err[0] and "holder-of-the-test" in err[0], err
    assert sorted(p.name for p in out.rglob("*")) == [".aire", ".img0_1234abcd.abcdefgh.tmp", "model.json"]


@pytest.mark.slow  # a real fit-many in a subprocess, ~15 s on the shared 2-core machine
def test_a_second_collection_on_a_folder_in_use_is_refused(tmp_path, capsys):
    """Refused in one line naming the first; nothing of the first's (job folders in flight) is touched."""
    from tests.many.conftest import write_images

    write_images(tmp_path / "images", 1)
    out = tmp_path / "set"
    argv = ["fit-many", str(tmp_path / "images"), "--out", str(out), "--executor", "serial", *FIT]
    first = _aire(*argv, "--steps", "100000")
    try:
        # its job is fitting once the job's live log exists (created after the job's lock): from then on
        # the folder's top level holds still until the job ends, so `before` is not taken mid-start
        assert wait_until(lambda: (any(out.glob(".img0_*.lock")) and any(out.glob("img0_*.live")))
                          or first.poll() is not None, 120), "the first collection never started its job"
        before = sorted(p.name for p in out.iterdir())
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {first.pid}" in err[0] and "aire fit-many" in err[0], err
        assert sorted(p.name for p in out.iterdir()) == before and first.poll() is None
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 130
    finally:
        if first.poll() is None:
            first.kill()


def _checkpoint_step(out: Path) -> int:
    try:
        return load_checkpoint(out)["step"]
    except Exception:  # none yet, or being replaced right now (the rename is atomic: retry)
        return -1


@pytest.mark.slow  # sixteen subprocess fits, ~4 minutes on the shared 2-core machine
def test_a_fit_killed_at_random_moments_resumes_or_restarts_cleanly(image_path, tmp_path):
    """SIGKILL at seeded random moments, every other one early (start-up, first steps) and the others
    just after a random checkpoint (fitting, checkpointing, the final save): the folder is then absent,
    a resumable checkpoint or the finished run, never half-written; the next start (a resume, or the
    same fit again) finishes it like an uninterrupted fit and leaves no temporary sibling or lock file."""
    rng = random.Random(2024)
    whole = tmp_path / "whole"
    assert _aire("fit", "image", image_path, "--out", whole, *FIT, "--checkpoint-every", "20").wait(300) == 0
    states = []
    for attempt in range(8):
        out = tmp_path / f"k{attempt}" / "out"
        out.parent.mkdir()
        fit = _aire("fit", "image", image_path, "--out", out, *FIT, "--checkpoint-every", "20")
        assert wait_until(lambda: (out.parent / ".out.lock").exists() or fit.poll() is not None, 120)
        if attempt % 2 == 0:
            time.sleep(rng.uniform(0.0, 2.0))
        else:
            step = rng.choice(range(20, 200, 20))
            wait_until(lambda: _checkpoint_step(out) >= step or fit.poll() is not None, 120)
            time.sleep(rng.uniform(0.0, 0.3))
        fit.send_signal(signal.SIGKILL)
        fit.wait(30)
        if (out / "metrics.json").is_file():
            states.append("finished")
        elif (out / CHECKPOINT_FILE).is_file():
            states.append("checkpoint")
            assert 20 <= load_checkpoint(out)["step"] < 200
        elif not out.exists():
            states.append("absent")
        else:
            raise AssertionError(f"half-written output: {sorted(p.name for p in out.iterdir())}")
        again = _aire("fit", "--resume", out) if (out / CHECKPOINT_FILE).is_file() else \
            _aire("fit", "image", image_path, "--out", out, *FIT, "--checkpoint-every", "20", "--overwrite")
        assert again.wait(300) == 0, again.stderr.read()
        a, b = (json.loads((d / "metrics.json").read_text()) for d in (whole, out))
        assert a["psnr"] == b["psnr"] and a["architecture_final"] == b["architecture_final"]
        assert sorted(p.name for p in out.parent.iterdir()) == ["out"], "no temporary sibling or lock file"
    assert {"absent", "checkpoint"} <= set(states), states
