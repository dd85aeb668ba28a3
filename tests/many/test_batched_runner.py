"""`aire fit-many --batched`: compatible jobs fitted as one batch, each member's run folder as its
`aire fit` writes it (within float rounding, see tests/many/test_batched.py), the rest as ordinary jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aire.cli import main
from aire.many.batched_runner import group_jobs
from aire.many.spec import load_jobs
from tests.many.conftest import write_images
from tests.many.test_runner import fitted_alone


@pytest.mark.filterwarnings("ignore:TWD left")
def test_batched_collection_writes_every_run_folder_and_the_broken_job_fails_alone(collection, tmp_path):
    out = tmp_path / "runs"
    argv = ["fit-many", str(collection["spec"]), "--out", str(out), "--batched", "--executor", "serial", "--quiet"]
    assert main(argv) == 1  # the broken input failed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"total": 3, "done": 2, "failed": 1, "pending": 0, "missed_target": 0, "running": 0}
    assert len(summary["run"]["ran"]) == 3 and summary["run"]["skipped"] == []
    rows = {Path(r["input"]).name: r for r in summary["jobs"]}
    # the run's seconds include the batch (they read 0.0 when they counted only the jobs run alone afterwards)
    batched = [r["seconds"] for r in rows.values() if r["status"] == "done"]
    assert summary["run"]["seconds"] >= max(batched) > 0
    for image in collection["images"]:
        folder = out / rows[image.name]["id"]
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["batched"]["members"] == 2
        assert {"model.safetensors", "reconstruction.png", "training.png", "history.json", "config.json"} <= \
               {p.name for p in folder.iterdir()}
        single = json.loads((fitted_alone(image, collection["alone"]) / "metrics.json").read_text())
        assert metrics["architecture_final"] == single["architecture_final"]
        assert abs(metrics["psnr"] - single["psnr"]) < 1e-4
    assert rows["broken.png"]["status"] == "failed" and "cannot read image" in rows["broken.png"]["error"]
    # a batch of two, then the broken job alone on the serial executor (the label read "serial, 1 at once")
    assert (summary["run"]["executor"], summary["run"]["slots"]) == ("batched+serial", 2)
    assert main(argv) == 1
    rerun = json.loads((out / "summary.json").read_text())["run"]
    assert len(rerun["skipped"]) == 2 and len(rerun["ran"]) == 1  # only the failed job ran again
    assert (rerun["executor"], rerun["slots"]) == ("serial", 1)  # no batch this time: the executor alone ran


def test_a_collection_fitted_in_one_batch_is_labelled_batched_in_the_summary(tmp_path):
    """Every job fitted in one batch in this process: the summary says batched, 3 at once (it said
    the unused executor's name, local)."""
    write_images(tmp_path / "images", 3, size=12)
    out = tmp_path / "runs"
    assert main(["fit-many", str(tmp_path / "images"), "--out", str(out), "--batched", "--quiet", "--hidden", "4",
                 "4", "--steps", "4", "--eval-every", "2", "--schedule", "none"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["done"] == 3
    assert all(json.loads((out / r["id"] / "metrics.json").read_text())["batched"]["members"] == 3
               for r in summary["jobs"])
    assert (summary["run"]["executor"], summary["run"]["slots"]) == ("batched", 3)
    assert "this run (batched, 3 at once): 3 ran" in (out / "summary.md").read_text()


def test_jobs_are_grouped_by_settings_and_image_size_in_batches_of_at_most_n(tmp_path):
    write_images(tmp_path / "a", 3, size=12)
    write_images(tmp_path / "b", 1, size=10)
    jobs = load_jobs([tmp_path / "a", tmp_path / "b"], defaults={"steps": 10, "hidden": [4, 4]})
    batches, alone = group_jobs(jobs, batch_members=2)
    sizes = sorted(len(b) for b in batches)
    assert sizes == [2]  # 3 of 12 px -> a batch of 2 and one alone; the 10-px image alone
    assert len(alone) == 2
    bf16 = load_jobs([tmp_path / "a"], defaults={"steps": 10, "hidden": [4, 4], "precision": "bf16"})
    assert group_jobs(bf16, batch_members=8) == ([], list(bf16))  # settings a batch does not run: alone
    compiled = load_jobs([tmp_path / "a"], defaults={"steps": 10, "hidden": [4, 4], "compile": True})
    assert [len(b) for b in group_jobs(compiled, batch_members=8)[0]] == [3]  # compiled after the last cut


def test_batch_members_must_be_positive(collection, tmp_path, capsys):
    assert main(["fit-many", str(collection["spec"]), "--out", str(tmp_path / "r"), "--batched",
                 "--batch-members", "0"]) == 2
    assert "--batch-members" in capsys.readouterr().err
