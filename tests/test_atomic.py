"""Output folders: --overwrite replaces only what aire wrote, never an input, the working folder, a
parent of it, the home folder or a root; the swap is all-or-nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from aire.atomic import (MARKER, atomic_folder, check_out_dir, check_out_file, check_replaceable, is_aire_folder,
                         one_writer, recover, write_marker)
from aire.cli import main
from aire.errors import InputError
from aire.signals.image import synthetic_image

FAST = ["--hidden", "8", "8", "--steps", "10", "--eval-every", "5", "--quiet", "--schedule", "none"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of the user's: an input image and its neighbours."""
    data = tmp_path / "data"
    data.mkdir()
    image = data / "in.png"
    iio.imwrite(image, (synthetic_image(16) * 255).astype(np.uint8))
    (data / "notes.txt").write_text("mine")
    (data / "other.png").write_bytes(image.read_bytes())
    return data, image


def _fit(capsys, *argv) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["fit", "image", *map(str, argv), *FAST])
    return code, capsys.readouterr().err.strip().splitlines()


def test_overwrite_of_the_input_folder_deletes_nothing(tmp_path, capsys):
    data, image = _user_folder(tmp_path)
    before = _tree(data)
    code, err = _fit(capsys, image, "--out", data, "--overwrite")
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error:") and "input" in err[0], err
    assert _tree(data) == before


def test_overwrite_of_the_working_folder_and_its_parents_is_refused(tmp_path, capsys, monkeypatch):
    data, image = _user_folder(tmp_path)
    monkeypatch.chdir(data)
    before = _tree(tmp_path)
    for out in (".", "..", str(tmp_path), os.path.expanduser("~"), "/"):
        code, err = _fit(capsys, image, "--out", out, "--overwrite")
        assert code == 2 and len(err) == 1 and err[0].startswith("aire: error:"), (out, err)
    assert _tree(tmp_path) == before


def test_empty_working_folder_is_refused_even_without_overwrite(tmp_path, capsys, monkeypatch):
    _, image = _user_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code, err = _fit(capsys, image, "--out", ".")
    assert code == 2 and "working folder" in err[0]
    assert empty.is_dir() and not any(empty.iterdir())


def test_a_run_folder_holding_the_input_is_not_replaced(tmp_path, capsys):
    _, image = _user_folder(tmp_path)
    run = tmp_path / "run"
    assert _fit(capsys, image, "--out", run)[0] == 0
    # the user fits the reconstruction of the first run into the same folder
    code, err = _fit(capsys, run / "reconstruction.png", "--out", run, "--overwrite")
    assert code == 2 and "input" in err[0]
    assert (run / "reconstruction.png").is_file() and (run / "metrics.json").is_file()


def test_aire_run_and_empty_folders_are_replaced(tmp_path, capsys):
    _, image = _user_folder(tmp_path)
    run = tmp_path / "run"
    assert _fit(capsys, image, "--out", run)[0] == 0
    assert is_aire_folder(run) and (run / MARKER).is_file()
    (run / "history.json").write_text("stale")
    assert _fit(capsys, image, "--out", run, "--overwrite")[0] == 0
    assert (run / "history.json").read_text() != "stale"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _fit(capsys, image, "--out", empty)[0] == 0 and (empty / "metrics.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary or set-aside folder is left"


def test_overwrite_never_deletes_files_of_the_user_inside_an_aire_run_folder(tmp_path, capsys):
    """Notes and figures put into a run folder (or a copy of one: the marker comes along) are the user's:
    the replace is refused naming them, and everything stays; what aire itself added later (a spectrum
    plot) is in the marker's manifest, so once they are moved away the run is replaced."""
    import shutil

    _, image = _user_folder(tmp_path)
    run = tmp_path / "run"
    assert _fit(capsys, image, "--out", run)[0] == 0
    assert main(["spectrum", str(run), "--resolution", "16"]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "my_notes.txt").write_text("notes")
    (copy / "paper_figs").mkdir()
    (copy / "paper_figs" / "fig1.pdf").write_text("fig")
    before = _tree(copy)
    code, err = _fit(capsys, image, "--out", copy, "--overwrite")
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error: refusing to replace"), err
    assert "my_notes.txt" in err[0] and "paper_figs" in err[0] and "aire did not write" in err[0], err
    assert _tree(copy) == before
    shutil.rmtree(copy / "paper_figs")
    (copy / "my_notes.txt").unlink()
    assert _fit(capsys, image, "--out", copy, "--overwrite")[0] == 0
    assert not (copy / "spectrum.png").exists() and (copy / "metrics.json").is_file()


def test_an_older_marker_without_a_manifest_counts_only_with_aire_names(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text('{"written_by": "aire", "version": "0.3", "kind": "run"}')
    for name in ("metrics.json", "model.json", "history.jsonl", "report.html"):
        (old / name).write_text("x")
    check_replaceable(old)
    (old / "thesis.tex").write_text("mine")
    with pytest.raises(InputError, match="thesis.tex, which aire did not write"):
        check_replaceable(old)


def test_legacy_run_folder_is_recognised(tmp_path):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("metrics.json", "model.json", "model.safetensors", "training.png"):
        (legacy / name).write_text("x")
    assert is_aire_folder(legacy)
    (legacy / "thesis.tex").write_text("mine")
    assert not is_aire_folder(legacy)
    checkpoint_only = tmp_path / "ckpt"
    checkpoint_only.mkdir()
    (checkpoint_only / "checkpoint.pt").write_bytes(b"x")
    assert is_aire_folder(checkpoint_only)
    (checkpoint_only / "metrics.json").write_text("{}")  # a lone metrics.json is not a run
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "metrics.json").write_text("{}")
    assert not is_aire_folder(lone)


def test_a_forged_or_foreign_marker_does_not_count(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "data.csv").write_text("1,2")
    (folder / MARKER).write_text("not json")
    assert not is_aire_folder(folder)
    (folder / MARKER).write_text('{"written_by": "someone else"}')
    assert not is_aire_folder(folder)


def test_symlinked_output_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "keep.txt").write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(InputError, match="symbolic link"):
        check_replaceable(link)
    assert (real / "keep.txt").read_text() == "mine"


def test_atomic_folder_rechecks_at_the_swap(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputError, match="appeared"):
        with atomic_folder(out) as tmp:
            (tmp / "a.txt").write_text("new")
            out.mkdir()
            (out / "keep.txt").write_text("another writer's")
    assert (out / "keep.txt").read_text() == "another writer's"
    with pytest.raises(InputError, match="did not write"):
        with atomic_folder(out, overwrite=True) as tmp:
            (tmp / "a.txt").write_text("new")
    assert _tree(out) == {"keep.txt": b"another writer's"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_folder_replaces_an_aire_folder_whole(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "old.txt").write_text("old")
    with atomic_folder(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_check_out_dir_protects_inputs_inside_the_folder(tmp_path):
    run = tmp_path / "run"
    with atomic_folder(run) as tmp:
        (tmp / "metrics.json").write_text("{}")
    (run / "photo.png").write_text("x")  # aire's folder, but it now holds the input
    with pytest.raises(InputError, match="input"):
        check_out_dir(run, True, inputs=[run / "photo.png"])
    with pytest.raises(InputError, match="input"):
        check_out_dir(run, True, inputs=[run])


def test_check_out_file(tmp_path):
    mesh = tmp_path / "scan.ply"
    mesh.write_text("ply")
    with pytest.raises(InputError, match="is the input"):
        check_out_file(mesh, True, inputs=[mesh])
    with pytest.raises(InputError, match="--overwrite"):
        check_out_file(mesh, False)
    with pytest.raises(InputError, match="folder"):
        check_out_file(tmp_path, True)
    check_out_file(mesh, True)
    check_out_file(tmp_path / "new.ply", False)


def test_spectrum_does_not_replace_a_file_of_the_user(tmp_path, capsys):
    _, image = _user_folder(tmp_path)
    run = tmp_path / "run"
    assert _fit(capsys, image, "--out", run)[0] == 0
    code = main(["spectrum", str(run), "--out", str(image), "--resolution", "16"])
    assert code == 2 and (image.parent / "other.png").read_bytes() == image.read_bytes()
    code = main(["spectrum", str(run), "--out", str(image), "--resolution", "16", "--overwrite"])
    assert code == 2, "the run's own input is never replaced"
    assert main(["spectrum", str(run), "--resolution", "16"]) == 0
    before = (run / "spectrum.png").read_bytes()
    capsys.readouterr()
    assert main(["spectrum", str(run), "--resolution", "32"]) == 2, "the default plot follows the rule of --out"
    assert "--overwrite" in capsys.readouterr().err and (run / "spectrum.png").read_bytes() == before
    assert main(["spectrum", str(run), "--resolution", "32", "--overwrite"]) == 0
    assert (run / "spectrum.png").read_bytes() != before


def test_make_scene_never_replaces_the_folder_of_its_mesh(tmp_path, capsys, sphere_mesh):
    folder = Path(sphere_mesh).parent
    before = _tree(folder)
    code = main(["make-scene", str(sphere_mesh), "--out", str(folder), "--overwrite", "--views", "1", "--size", "4",
                 "--val-views", "0", "--test-views", "1"])
    assert code == 2 and _tree(folder) == before


SWAP = """
import os, shutil, signal, sys
from pathlib import Path
from aire.atomic import atomic_folder

out, kill_at, value = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
calls = [0]

def counted(fn):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return call

os.mkdir, os.replace, shutil.rmtree = counted(os.mkdir), counted(os.replace), counted(shutil.rmtree)
with atomic_folder(out, overwrite=True) as tmp:
    for name in ("a", "b", "c"):
        (tmp / name).write_text(value)
print(calls[0])
"""


def _swap(out: Path, kill_at: int, value: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SWAP, str(out), str(kill_at), value], capture_output=True, text=True)


def test_a_writer_killed_at_every_step_of_the_swap_leaves_old_or_new_after_recovery(tmp_path):
    """SIGKILL at each mkdir, rename and delete of a replacing atomic_folder (a real process each
    time); the next writer finds exactly the old or exactly the new folder, never none or a mix, and
    no temporary sibling or lock file."""
    out = tmp_path / "out"
    assert _swap(out, 0, "old").returncode == 0
    steps = int(_swap(out, 0, "old").stdout)  # an uninterrupted replacing writer: how many steps there are
    assert steps >= 4 and _tree(out) == {MARKER: _tree(out)[MARKER], "a": b"old", "b": b"old", "c": b"old"}
    seen = set()
    for kill_at in range(1, steps + 1):
        assert _swap(out, kill_at, "new").returncode == -signal.SIGKILL
        with one_writer(out):  # the next writer: recovery under the lock
            pass
        tree = _tree(out)
        values = {tree[name] for name in ("a", "b", "c")}
        assert len(values) == 1 and set(tree) == {MARKER, "a", "b", "c"}, (kill_at, tree)
        seen |= values
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], kill_at
        assert _swap(out, 0, "old").returncode == 0  # back to the old folder for the next kill
    assert seen == {b"old", b"new"}, "some kills fell before the swap and some after it"


def test_recovery_finishes_or_undoes_a_swap_left_half_done(tmp_path):
    out = tmp_path / "out"
    # killed after parking the old folder, before renaming the complete new one in: finished
    (tmp_path / ".out.abcdefgh.old" / "out").mkdir(parents=True)
    (tmp_path / ".out.abcdefgh.old" / "out" / "v").write_text("old")
    (tmp_path / ".out.abcdefgh.tmp").mkdir()
    (tmp_path / ".out.abcdefgh.tmp" / "v").write_text("new")
    (tmp_path / ".out.zzzzzzzz.tmp").mkdir()  # an unfinished writer's folder: removed
    (tmp_path / ".out.yyyyyyyy.tmp.png").write_text("")  # atomic_file's temp of out.png, not of out: kept
    (tmp_path / ".out.notes").write_text("not ours")  # not aire's pattern: kept
    recover(tmp_path / "out")
    assert (out / "v").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.notes", ".out.yyyyyyyy.tmp.png", "out"]
    # the old folder parked, the new one gone: the old one goes back
    os.replace(out, tmp_path / "keep")
    (tmp_path / ".out.bcdefghi.old").mkdir()
    os.replace(tmp_path / "keep", tmp_path / ".out.bcdefghi.old" / "out")
    recover(tmp_path / "out")
    assert (out / "v").read_text() == "new" and not (tmp_path / ".out.bcdefghi.old").exists()


def test_recovery_inside_an_aire_folder_spares_live_writers(tmp_path):
    """A collection's stale temporary job folders and summary temps go; those of a job whose writer
    is alive (it holds the job's lock) stay."""
    from tests.faults import held_by_another_process

    collection = tmp_path / "set"
    collection.mkdir()
    write_marker(collection, "collection")
    for name in (".dead.abcdefgh.tmp", ".live.abcdefgh.tmp"):
        (collection / name).mkdir()
    (collection / ".summary.abcdefgh.tmp.json").write_text("{")
    (collection / ".dead.lock").write_text("")  # a killed job's stale lock file
    with held_by_another_process(collection / "live"):
        recover(collection)
        assert sorted(p.name for p in collection.iterdir()) == [MARKER, ".live.abcdefgh.tmp", ".live.lock"]


def test_outputs_get_the_modes_the_umask_gives_not_private_temporary_ones(tmp_path, capsys):
    """Files and folders written through temporary names read like plain open()/mkdir() ones (0644/0755
    under umask 022, 0640/0750 under 027), so collaborators see the plots, meshes and checkpoints too."""
    import stat

    _, image = _user_folder(tmp_path)
    for mask in (0o022, 0o027):
        old = os.umask(mask)
        try:
            run = tmp_path / f"run{mask:o}"
            assert _fit(capsys, image, "--out", run, "--checkpoint-every", "10")[0] == 0
        finally:
            os.umask(old)
        assert stat.S_IMODE(run.stat().st_mode) == 0o777 & ~mask
        for name in ("training.png", "model.safetensors", "metrics.json", "report.html"):
            assert stat.S_IMODE((run / name).stat().st_mode) == 0o666 & ~mask, name


def test_overwrite_never_replaces_the_folder_holding_the_network_a_fit_starts_from(tmp_path, capsys):
    """`--start model=RUN/model.safetensors --out RUN --overwrite` would delete the model it starts from
    (and config.json would then name a file holding other weights): refused like any input."""
    _, image = _user_folder(tmp_path)
    run = tmp_path / "run"
    assert _fit(capsys, image, "--out", run)[0] == 0
    before = _tree(run)
    code, err = _fit(capsys, image, "--out", run, "--overwrite", "--start", f"model={run / 'model.safetensors'}")
    assert code == 2 and len(err) == 1 and "it contains the input" in err[0] and "model.safetensors" in err[0], err
    assert _tree(run) == before
