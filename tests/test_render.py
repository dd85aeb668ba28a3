"""`aire render`: images at any resolution or window, NeRF views, SDF meshes and slices, one-line refusals."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import aire
from aire.cli import main
from aire.render import image_coords, render_image
from aire.signals.image import ImageSignal


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_the_full_window_is_the_image_signals_pixel_grid():
    from aire.signals.image import pixel_grid

    assert torch.equal(image_coords(5, 7), pixel_grid(5, 7))
    coords = image_coords(3, 2, (-0.5, 0.0, 0.5, 1.0)).reshape(3, 2, 2)
    assert torch.allclose(coords[:, 0, 0], torch.tensor([0.0, 0.5, 1.0]))  # rows: y from y0 to y1
    assert torch.allclose(coords[0, :, 1], torch.tensor([-0.5, 0.5]))  # columns: x from x0 to x1


def test_a_window_equals_a_crop_of_a_finer_render():
    """A 65x65 render of [-0.5, 0.5]^2 has the spacing of a 129x129 render of [-1, 1]^2: its pixels are that
    render's rows and columns 32..96."""
    signal = ImageSignal(image=np.random.default_rng(0).uniform(size=(8, 8, 3)))
    net = aire.build_network(signal, [16, 16], omega0=20.0)
    full = render_image(net, 129, 129)
    window = render_image(net, 65, 65, (-0.5, -0.5, 0.5, 0.5))
    assert np.allclose(window, full[32:97, 32:97], atol=1e-5)
    off_centre = render_image(net, 33, 65, (0.0, -1.0, 1.0, -0.5))  # x in [0, 1], y in [-1, -0.5]
    assert np.allclose(off_centre, full[0:33, 64:129], atol=1e-5)


def test_a_render_at_the_fitted_resolution_is_the_reconstruction(image_fit, tmp_path, capsys):
    run, image = image_fit
    out = tmp_path / "same.png"
    code, stdout, err = _run(capsys, "render", run, "--out", out, "--quiet")
    assert code == 0, err
    assert "32x32 pixels" in stdout
    rendered = iio.imread(out)
    assert np.array_equal(rendered, iio.imread(run / "reconstruction.png"))
    net, signal = aire.load(run), ImageSignal(image)
    assert np.array_equal(rendered, (signal.preview(net) * 255 + 0.5).astype(np.uint8))


def test_scale_and_size_set_the_output_size_and_a_window_zooms(image_fit, tmp_path, capsys):
    run, _ = image_fit
    assert _run(capsys, "render", run, "--out", tmp_path / "x4.png", "--scale", "4", "--quiet")[0] == 0
    assert iio.imread(tmp_path / "x4.png").shape == (128, 128, 3)
    assert _run(capsys, "render", run, "--out", tmp_path / "wide.png", "--size", "40", "20", "--quiet")[0] == 0
    assert iio.imread(tmp_path / "wide.png").shape == (20, 40, 3)  # --size is W H
    code, stdout, _ = _run(capsys, "render", run, "--out", tmp_path / "zoom.png", "--window", "-0.5", "-0.5", "0.5",
                           "0.5", "--size", "17", "17", "--quiet")
    assert code == 0 and "window x [-0.5, 0.5] y [-0.5, 0.5]" in stdout
    fine = render_image(aire.load(run), 33, 33)
    assert np.array_equal(iio.imread(tmp_path / "zoom.png"), (fine[8:25, 8:25] * 255 + 0.5).astype(np.uint8))


@pytest.mark.parametrize("extra, message", [
    (["--turntable", "4"], "--turntable applies to nerf runs; "),
    (["--at", "0", "0", "0"], "--at applies to sdf runs"),
    (["--window", "0.5", "0", "0", "1"], "--window needs x0 < x1 and y0 < y1"),
    (["--scale", "2", "--size", "4", "4"], "give --size or --scale, not both"),
    (["--scale", "0"], "--scale must be positive"),
    (["--size", "0", "10"], "each side must be in [1, 16384]"),
])
def test_bad_options_are_one_line_and_write_nothing(image_fit, tmp_path, capsys, extra, message):
    run, _ = image_fit
    out = tmp_path / "out.png"
    code, _, err = _run(capsys, "render", run, "--out", out, *extra)
    assert code == 2 and err.startswith("aire: error: ") and message in err and "\n" not in err
    assert not out.exists()


def test_outputs_are_never_replaced_without_overwrite_and_never_an_input(image_fit, tmp_path, capsys):
    run, image = image_fit
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"a user's file")
    code, _, err = _run(capsys, "render", run, "--out", mine, "--quiet")
    assert code == 2 and "already exists; pass --overwrite" in err and mine.read_bytes() == b"a user's file"
    assert _run(capsys, "render", run, "--out", mine, "--overwrite", "--quiet")[0] == 0
    assert iio.imread(mine).shape == (32, 32, 3)
    before = image.read_bytes()
    code, _, err = _run(capsys, "render", run, "--out", image, "--overwrite", "--quiet")
    assert code == 2 and "it is the input" in err and image.read_bytes() == before
    code, _, err = _run(capsys, "render", run, "--out", tmp_path / "x.gif", "--quiet")
    assert code == 2 and "an image render is one of .png" in err


def test_the_runs_own_pictures_and_meshes_are_never_replaced_even_with_overwrite(image_fit, sdf_fit, tmp_path, capsys):
    run, _ = image_fit
    for name in ("comparison.png", "training.png", "reconstruction.png"):
        before = (run / name).read_bytes()
        code, _, err = _run(capsys, "render", run, "--out", run / name, "--overwrite", "--quiet")
        assert code == 2 and "aire wrote it as part of the run" in err and (run / name).read_bytes() == before, name
    mesh = sdf_fit / "mesh.ply"
    before = mesh.read_bytes()
    code, _, err = _run(capsys, "export-mesh", sdf_fit, "--out", mesh, "--overwrite", "--resolution", "16")
    assert code == 2 and "aire wrote it as part of the run" in err and mesh.read_bytes() == before
    new = run / "zoom-new-name.png"  # a new name inside the run folder is fine
    assert _run(capsys, "render", run, "--out", new, "--quiet")[0] == 0 and new.is_file()
    new.unlink()


def test_nerf_test_views_are_the_models_views_of_the_test_cameras(nerf_fit, tiny_scene, tmp_path, capsys):
    from aire.signals.nerf.scene_format import read_split

    out = tmp_path / "views"
    code, stdout, err = _run(capsys, "render", nerf_fit, "--out", out, "--quiet")
    assert code == 0, err
    assert "3 test views, 24x24 pixels" in stdout
    frames = sorted(out.glob("frame_*.png"))
    assert [f.name for f in frames] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    model, split = aire.load(nerf_fit), read_split(tiny_scene, "test")
    expected = model.render_view(split.poses[1], split.intrinsics[1]).numpy()
    assert np.array_equal(iio.imread(frames[1]), (expected * 255 + 0.5).astype(np.uint8))
    # twice the size: the same cameras with intrinsics scaled
    assert _run(capsys, "render", nerf_fit, "--out", tmp_path / "big.gif", "--scale", "2", "--quiet")[0] == 0
    gif = iio.imread(tmp_path / "big.gif", index=None)
    assert gif.shape == (3, 48, 48, 3)


def test_nerf_turntable_and_camera_paths(nerf_fit, tmp_path, capsys):
    from aire.signals.nerf.cameras import Intrinsics, look_at

    code, stdout, err = _run(capsys, "render", nerf_fit, "--out", tmp_path / "turn.gif", "--turntable", "4",
                             "--size", "16", "16", "--quiet")
    assert code == 0, err
    assert iio.imread(tmp_path / "turn.gif", index=None).shape == (4, 16, 16, 3)
    pose = look_at(np.array([0.0, -3.0, 1.5]))
    plain = tmp_path / "poses.json"
    plain.write_text(json.dumps([pose.tolist()]))
    code, stdout, err = _run(capsys, "render", nerf_fit, "--out", tmp_path / "one.png", "--camera-path", plain, "--quiet")
    assert code == 0, err
    model = aire.load(nerf_fit)
    recorded = json.loads((nerf_fit / "metrics.json").read_text())["signal"]["intrinsics"]
    expected = model.render_view(pose, Intrinsics(**recorded)).numpy()  # the fitted scene's camera
    assert np.array_equal(iio.imread(tmp_path / "one.png"), (expected * 255 + 0.5).astype(np.uint8))
    code, _, err = _run(capsys, "render", nerf_fit, "--out", tmp_path / "two.png", "--turntable", "2", "--quiet")
    assert code == 2 and "do not fit in one .png" in err and "--turntable 1" in err
    code, _, err = _run(capsys, "render", nerf_fit, "--out", tmp_path / "single.png", "--turntable", "1", "--quiet")
    assert code == 0 and iio.imread(tmp_path / "single.png").shape == (recorded["height"], recorded["width"], 3)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"frames": []}))
    code, _, err = _run(capsys, "render", nerf_fit, "--out", tmp_path / "bad.gif", "--camera-path", bad, "--quiet")
    assert code == 2 and "camera_path.json or a JSON list of 4x4" in err and "\n" not in err


def test_sdf_slices_and_mesh(sdf_fit, tmp_path, capsys):
    import trimesh

    code, stdout, err = _run(capsys, "render", sdf_fit, "--out", tmp_path / "slices.png", "--resolution", "32",
                             "--quiet")
    assert code == 0, err
    assert iio.imread(tmp_path / "slices.png").shape[1] >= 1000  # three labelled panels, readable
    code, stdout, err = _run(capsys, "render", sdf_fit, "--out", tmp_path / "m.ply", "--resolution", "24", "--quiet")
    assert code == 0, err
    assert _run(capsys, "export-mesh", sdf_fit, "--out", tmp_path / "e.ply", "--resolution", "24", "--quiet")[0] == 0
    rendered, exported = trimesh.load(tmp_path / "m.ply"), trimesh.load(tmp_path / "e.ply")
    assert np.array_equal(rendered.vertices, exported.vertices) and np.array_equal(rendered.faces, exported.faces)
    code, _, err = _run(capsys, "render", sdf_fit, "--out", tmp_path / "s.png", "--at", "0", "0", "2")
    assert code == 2 and "--at must lie in the normalised cube" in err
    code, _, err = _run(capsys, "render", sdf_fit, "--out", tmp_path / "x.png", "--size", "4", "4")
    assert code == 2 and "--size applies to image and nerf runs" in err


def test_a_nerf_run_whose_scene_moved_needs_scene(nerf_fit, tiny_scene, tmp_path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(nerf_fit, copy)
    for name in ("metrics.json", "config.json"):
        record = json.loads((copy / name).read_text())
        (record["signal"] if name == "metrics.json" else record)["path"] = str(tmp_path / "moved")
        (copy / name).write_text(json.dumps(record))
    code, _, err = _run(capsys, "render", copy, "--out", tmp_path / "v.gif", "--quiet")
    assert code == 2 and f"the scene {tmp_path / 'moved'} is gone; give --scene DIR" in err
    code, _, err = _run(capsys, "render", copy, "--out", tmp_path / "v.gif", "--scene", tiny_scene, "--quiet")
    assert code == 0, err
    assert iio.imread(tmp_path / "v.gif", index=None).shape == (3, 24, 24, 3)


def test_a_bare_model_file_renders_once_given_a_size(image_fit, tmp_path, capsys):
    import shutil

    run, _ = image_fit
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("model.safetensors", "model.json"):
        shutil.copyfile(run / name, bare / name)
    code, _, err = _run(capsys, "render", bare / "model.safetensors", "--out", tmp_path / "a.png", "--quiet")
    assert code == 2 and "records no fitted resolution; give --size W H" in err
    code, _, err = _run(capsys, "render", bare / "model.safetensors", "--out", tmp_path / "a.png", "--size", "32", "32",
                        "--quiet")
    assert code == 0, err
    assert np.array_equal(iio.imread(tmp_path / "a.png"), iio.imread(run / "reconstruction.png"))


def test_a_missing_run_or_a_folder_without_a_model_is_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, "render", tmp_path / "none", "--out", tmp_path / "a.png")
    assert code == 2 and err == f"aire: error: run not found: {tmp_path / 'none'}"
    code, _, err = _run(capsys, "render", tmp_path, "--out", tmp_path / "a.png")
    assert code == 2 and "no fitted model in" in err and "\n" not in err
    assert not (tmp_path / "a.png").exists()
