"""Full, read-only and impossible paths: every writer (run folder, checkpoint, fit-many summary and
plot, SDF sample cache, export-mesh, spectrum, make-scene) ends in one line
`aire: error: cannot write PATH: REASON`, exit 2, with nothing partial and no temporary file left."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aire.cli import main
from aire.errors import InputError

from tests.faults import fill, inject_enospc, tmpfs

FAST = ["--hidden", "8", "8", "--steps", "20", "--eval-every", "10", "--quiet", "--schedule", "none"]
FULL = os.strerror(errno.ENOSPC)


def _run(capsys, *argv) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main([*map(str, argv)])
    return code, capsys.readouterr().err.strip().splitlines()


def _one_line(code: int, err: list[str], path: Path, reason: str = FULL) -> None:
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"aire: error: cannot write {path}") and reason in err[0], err


def _hidden(folder: Path) -> list[str]:
    """Every hidden entry below `folder` but aire's markers: temporary files, lock files."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name != ".aire")


@pytest.mark.parametrize("victim", ["model.safetensors", "model.json", "metrics.json", "history.json", "config.json",
                                    "reconstruction.png", "training.png", ".aire"])
def test_a_full_disk_while_writing_the_run_folder(image_path, tmp_path, capsys, monkeypatch, victim):
    out = tmp_path / "runs" / "out"
    failed = inject_enospc(monkeypatch, lambda p: p.name == victim or (p.name.startswith(f".{Path(victim).stem}.")
                                                                       and p.suffix == Path(victim).suffix))
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST)
    assert failed, f"{victim} was never written"
    _one_line(code, err, out)
    assert not (tmp_path / "runs").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["synthetic.png"]


def test_a_full_disk_at_the_first_checkpoint_leaves_no_folder(image_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    inject_enospc(monkeypatch, lambda p: p.name.startswith(".checkpoint."))
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, "--checkpoint-every", "5")
    _one_line(code, err, out / "checkpoint.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic.png"]


def test_a_full_disk_at_a_later_checkpoint_keeps_the_last_one_to_resume(image_path, tmp_path, capsys, monkeypatch):
    from aire.train.state import load_checkpoint

    out = tmp_path / "out"
    inject_enospc(monkeypatch, lambda p: p.name.startswith(".checkpoint."), after=2)
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, "--checkpoint-every", "5")
    _one_line(code, err, out / "checkpoint.pt")
    assert f"aire fit --resume {out}" in err[0]
    assert load_checkpoint(out)["step"] == 10 and _hidden(tmp_path) == []
    monkeypatch.undo()  # room again: the fit resumes and finishes
    assert _run(capsys, "fit", "--resume", out)[0] == 0
    assert json.loads((out / "metrics.json").read_text())["steps_completed"] == 20 and _hidden(tmp_path) == []


def test_fit_many_with_a_full_disk_at_its_summary_plot(tmp_path, capsys, monkeypatch):
    from tests.many.conftest import write_images

    images = write_images(tmp_path / "images", 1)
    out = tmp_path / "set"
    inject_enospc(monkeypatch, lambda p: p.name.startswith(".summary.") and p.suffix == ".png")
    code, err = _run(capsys, "fit-many", images[0], "--out", out, "--executor", "serial", *FAST)
    _one_line(code, err, out / "summary.png")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["done"] == 1 and not (out / "summary.png").exists()
    assert _hidden(out) == []


def test_fit_many_with_a_full_disk_in_its_jobs(tmp_path, capsys, monkeypatch):
    """Every job fails to write (recorded), then the error records cannot be written either: one line."""
    from tests.many.conftest import write_images

    images = write_images(tmp_path / "images", 1)
    out = tmp_path / "set"
    failed = inject_enospc(monkeypatch, lambda p: out in p.parents and (p.parent != out or ".error." in p.name))
    code, err = _run(capsys, "fit-many", images[0], "--out", out, "--executor", "serial", *FAST)
    # the job's first write (its live log, img0_<id>.live, or its temporary folder .img0_<id>.R.tmp), then its error record
    assert [p.parent.name.startswith((".img0_", "img0_")) for p in failed] == [True, False]
    job = json.loads((out / "jobs.json").read_text())["jobs"][0]["id"]
    _one_line(code, err, out / f"{job}.error.json")
    row = json.loads((out / "summary.json").read_text())["jobs"][0]
    assert row["status"] == "failed" and row["error"] == f"cannot write {out / job}: {FULL}"
    assert sorted(p.name for p in out.iterdir()) == [".aire", "jobs.json", *(f"summary.{x}" for x in ("csv", "json", "md", "png"))]


def test_the_sdf_cache_on_a_full_disk_warns_and_leaves_no_file(tmp_path, monkeypatch):
    import trimesh

    from aire.geometry.sampling import SampleSpec, cache_dir, sdf_samples

    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    spec = SampleSpec(count=500)
    inject_enospc(monkeypatch, lambda p: cache_dir() in p.parents)
    with pytest.warns(UserWarning, match=f"SDF samples not cached: cannot write .*: {FULL}"):
        samples = sdf_samples(mesh, spec)
    assert samples["points"].shape == (500, 3)
    assert not (cache_dir() / "sdf").exists() or _hidden(cache_dir() / "sdf") == []
    monkeypatch.undo()
    again = sdf_samples(mesh, spec)  # written this time, and equal
    np.testing.assert_array_equal(again["sdf"], samples["sdf"])
    assert len(list((cache_dir() / "sdf").glob("*.npz"))) >= 1 and _hidden(cache_dir() / "sdf") == []


@pytest.fixture(scope="module")
def fitted_image_run(tmp_path_factory):
    from aire.signals.image import synthetic_image
    import imageio.v3 as iio

    folder = tmp_path_factory.mktemp("fitted")
    iio.imwrite(folder / "in.png", (synthetic_image(16) * 255).astype(np.uint8))
    assert main(["fit", "image", str(folder / "in.png"), "--out", str(folder / "run"), *FAST]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def sdf_model(tmp_path_factory):
    """A 3 -> 1 sine network whose zero level set is a sphere of radius 0.5 (its output is |x|^2 - 0.25
    to first order: a tiny first layer, the sine's linear range)."""
    from aire.io import save_network
    from aire.testing import small_network

    folder = tmp_path_factory.mktemp("sdf")
    net = small_network(in_features=3, out_features=1, dtype=torch.float32)
    with torch.no_grad():
        for b in net.biases:
            b.zero_()
        net.biases[-1].fill_(-1e-3)
    save_network(net, folder)
    return folder


def test_spectrum_on_a_full_disk(fitted_image_run, tmp_path, capsys, monkeypatch):
    inject_enospc(monkeypatch, lambda p: p.parent == tmp_path)
    code, err = _run(capsys, "spectrum", fitted_image_run, "--resolution", "16", "--out", tmp_path / "s.png")
    _one_line(code, err, tmp_path / "s.png")
    assert list(tmp_path.iterdir()) == []


def test_export_mesh_on_a_full_disk(sdf_model, tmp_path, capsys, monkeypatch):
    inject_enospc(monkeypatch, lambda p: p.parent == tmp_path)
    code, err = _run(capsys, "export-mesh", sdf_model, "--resolution", "16", "--out", tmp_path / "m.ply",
                     "--normalised", "--quiet")
    if code == 2 and "does not cross" in err[0]:
        pytest.fail("the test model has no surface on the grid")
    _one_line(code, err, tmp_path / "m.ply")
    assert list(tmp_path.iterdir()) == []


def test_make_scene_on_a_full_disk(sphere_mesh, tmp_path, capsys, monkeypatch):
    out = tmp_path / "scene"
    inject_enospc(monkeypatch, lambda p: p.suffix == ".json" and tmp_path in p.parents)
    code, err = _run(capsys, "make-scene", sphere_mesh, "--out", out, "--views", "1", "--size", "4",
                     "--val-views", "0", "--test-views", "1", "--quiet")  # no ray-casting status lines
    _one_line(code, err, out)
    assert list(tmp_path.iterdir()) == []


def test_a_library_that_wraps_enospc_in_its_own_error_is_named_too(tmp_path):
    """safetensors and torch report a full disk as their own exception types; the helpers still say
    what it is and clean up."""
    from aire.atomic import atomic_folder

    with pytest.raises(InputError, match=f"cannot write {tmp_path / 'out'}: {FULL}"):
        with atomic_folder(tmp_path / "out") as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="a bug"):  # anything else passes unchanged
        with atomic_folder(tmp_path / "out"):
            raise ValueError("a bug")
    assert list(tmp_path.iterdir()) == []


def test_a_path_component_that_is_a_file(image_path, sdf_model, fitted_image_run, sphere_mesh, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    reason = f"{blocker} is a file, not a folder"
    for argv, out in (
            (["fit", "image", image_path, *FAST], blocker / "out"),
            (["fit-many", image_path, "--executor", "serial", *FAST], blocker / "a" / "set"),
            (["make-scene", sphere_mesh, "--views", "1", "--size", "4", "--test-views", "1"], blocker / "scene"),
            (["export-mesh", sdf_model, "--resolution", "16", "--quiet"], blocker / "m.ply"),
            (["spectrum", fitted_image_run, "--resolution", "16"], blocker / "s.png")):
        code, err = _run(capsys, *argv, "--out", out)
        _one_line(code, err, out, reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "synthetic.png"] and blocker.read_text() == "mine"


def test_read_only_and_small_disks(image_path, sdf_model, fitted_image_run, sphere_mesh, tmp_path, capsys):
    """Real file systems (root mounts a tmpfs): read-only for every writer; full at several points of
    a fit with checkpoints, where each ends in one line with nothing partial and no temp file."""
    from aire.train.state import load_checkpoint

    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        for argv, out in (
                (["fit", "image", image_path, *FAST], ro / "out"),
                (["fit-many", image_path, "--executor", "serial", *FAST], ro / "set"),
                (["make-scene", sphere_mesh, "--views", "1", "--size", "4", "--test-views", "1"], ro / "scene"),
                (["export-mesh", sdf_model, "--resolution", "16", "--quiet"], ro / "m.ply"),
                (["spectrum", fitted_image_run, "--resolution", "16"], ro / "s.png")):
            code, err = _run(capsys, *argv, "--out", out)
            _one_line(code, err, out, os.strerror(errno.EROFS))
        assert list(ro.iterdir()) == []
    # a finished run holds report.html (about 100 KiB for this fit) beside the rest: room for all of it at 450
    with tmpfs(tmp_path / "small", "size=512k") as small:
        outcomes = set()
        for leave_kb in (0, 16, 64, 200, 450):
            fill(small, leave_kb)
            code, err = _run(capsys, "fit", "image", image_path, "--out", small / "out", *FAST, "--checkpoint-every", "5")
            if code == 0:
                outcomes.add("done")
                assert (small / "out" / "metrics.json").is_file()
            else:
                assert code == 2 and len(err) == 1 and err[0].startswith(f"aire: error: cannot write {small / 'out'}")
                assert FULL in err[0]
                if (small / "out").exists():  # only ever a resumable checkpoint
                    outcomes.add("checkpoint")
                    assert sorted(p.name for p in (small / "out").iterdir()) == [".aire", "checkpoint.pt"]
                    assert load_checkpoint(small / "out")["step"] in (5, 10, 15)
                    assert "--resume" in err[0]
                else:
                    outcomes.add("nothing")
            assert _hidden(small) == [], leave_kb
            for entry in small.iterdir():
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        assert outcomes == {"nothing", "checkpoint", "done"}, outcomes
