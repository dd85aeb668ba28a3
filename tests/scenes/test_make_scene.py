"""Scene maker: a real mesh rendered into either dialect, silhouettes where the geometry says, every pixel's ray
the same in both dialects."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from aire.cli import main
from aire.errors import InputError
from aire.scenes.make_scene import CAMERA_ANGLE_X, CAMERA_RADIUS, make_scene, normalise, load_mesh
from aire.signals.nerf.cameras import Intrinsics, camera_rays, focal_from_angle
from aire.signals.nerf.scene_format import read_split


def test_writes_the_blender_format_other_tools_read(tiny_scene):
    for split, n in (("train", 8), ("val", 2), ("test", 3)):
        meta = json.loads((tiny_scene / f"transforms_{split}.json").read_text())
        assert abs(meta["camera_angle_x"] - CAMERA_ANGLE_X) < 1e-12
        assert len(meta["frames"]) == n
        for frame in meta["frames"]:
            assert frame["file_path"].startswith(f"./{split}/") and not frame["file_path"].endswith(".png")
            img = iio.imread(tiny_scene / (frame["file_path"] + ".png"))
            assert img.shape == (24, 24, 4) and img.dtype == np.uint8
            m = np.asarray(frame["transform_matrix"])
            assert m.shape == (4, 4) and np.isclose(np.linalg.norm(m[:3, 3]), CAMERA_RADIUS)


def test_alpha_covers_exactly_the_pixels_whose_rays_hit_the_sphere(tiny_scene):
    """The normalised icosphere is nearly a unit sphere: a pixel is opaque where its ray passes well
    inside, transparent where it passes well outside (the band between is faceting and antialiasing)."""
    meta = json.loads((tiny_scene / "transforms_train.json").read_text())
    focal = focal_from_angle(meta["camera_angle_x"], 24)
    for frame in meta["frames"]:
        alpha = iio.imread(tiny_scene / (frame["file_path"] + ".png"))[:, :, 3].reshape(-1) / 255.0
        origins, dirs = camera_rays(Intrinsics.pinhole(focal, 24, 24), torch.as_tensor(frame["transform_matrix"]))
        closest = (origins - (origins * dirs).sum(-1, keepdim=True) * dirs).norm(dim=-1).numpy()
        assert (alpha[closest < 0.9] == 1.0).all()
        assert (alpha[closest > 1.1] == 0.0).all()
        assert ((alpha > 0) & (alpha < 1)).any()  # antialiased edges


def test_the_scene_has_texture(tiny_scene):
    split = read_split(tiny_scene, "train")
    opaque = split.images.reshape(-1, 3)[split.images.reshape(-1, 3).max(axis=1) < 0.999]
    assert opaque.shape[0] > 100 and opaque.std(axis=0).min() > 0.05


def test_normalise_fits_the_bounding_box_in_the_unit_cube(sphere_mesh):
    mesh = load_mesh(sphere_mesh)
    mesh.apply_translation([3.0, -1.0, 0.5])
    lo, hi = normalise(mesh).bounds
    assert np.allclose((lo + hi) / 2, 0.0, atol=1e-9) and np.isclose((hi - lo).max(), 2.0)


def test_bad_meshes_and_settings_are_one_line_input_errors(tmp_path, sphere_mesh):
    with pytest.raises(InputError, match="not found"):
        make_scene(tmp_path / "nope.ply", tmp_path / "out")
    empty = tmp_path / "empty.off"
    empty.write_text("OFF\n0 0 0\n")
    with pytest.raises(InputError, match="no faces"):
        make_scene(empty, tmp_path / "out")
    with pytest.raises(InputError, match="views"):
        make_scene(sphere_mesh, tmp_path / "out", views=0)
    assert not (tmp_path / "out").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("keep")
    with pytest.raises(InputError, match="already exists"):
        make_scene(sphere_mesh, tmp_path / "taken", views=1, size=4, val_views=0, test_views=1)
    assert (tmp_path / "taken" / "x").read_text() == "keep"


def test_both_formats_give_every_pixel_the_same_ray_and_the_same_splits(tiny_scene, tiny_scene_nerfstudio):
    """make-scene's Blender and nerfstudio dialects of one scene: the same views in each split (matched by
    image name), the same pixels, and for every pixel of every view the same ray (float32 rounding)."""
    meta = json.loads((tiny_scene_nerfstudio / "transforms.json").read_text())
    assert "transforms_train.json" not in {p.name for p in tiny_scene_nerfstudio.iterdir()}
    assert {k: meta[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")} == {
        "fl_x": focal_from_angle(CAMERA_ANGLE_X, 24), "fl_y": focal_from_angle(CAMERA_ANGLE_X, 24),
        "cx": 12.0, "cy": 12.0, "w": 24, "h": 24}
    for split, n in (("train", 8), ("val", 2), ("test", 3)):
        blender, single = read_split(tiny_scene, split), read_split(tiny_scene_nerfstudio, split)
        names = [f.removeprefix("./") + ".png" for f in blender.files]
        assert sorted(names) == sorted(single.files) == sorted(meta[f"{split}_filenames"]) and len(names) == n
        for k, name in enumerate(names):
            j = single.files.index(name)
            assert np.array_equal(blender.images[k], single.images[j])
            o1, d1 = camera_rays(blender.intrinsics[k], torch.as_tensor(blender.poses[k]))
            o2, d2 = camera_rays(single.intrinsics[j], torch.as_tensor(single.poses[j]))
            assert o1.shape == (24 * 24, 3)
            assert torch.allclose(o1, o2, rtol=0, atol=1e-6) and torch.allclose(d1, d2, rtol=0, atol=1e-6)


def test_cli_make_scene_writes_the_format_asked_for(tmp_path, sphere_mesh, capsys):
    code = main(["make-scene", str(sphere_mesh), "--out", str(tmp_path / "s"), "--views", "3", "--size", "6",
                 "--val-views", "0", "--test-views", "1", "--format", "nerfstudio"])
    captured = capsys.readouterr()
    assert code == 0 and "nerfstudio format" in captured.out
    # a status line per split as its views are ray cast (stderr; the scene's own line is stdout's)
    assert [line for line in captured.err.splitlines() if line.endswith(" ...")] == [
        "aire: train views: ray casting 3 views of 6x6 ...", "aire: test views: ray casting 1 view of 6x6 ..."]
    meta = json.loads((tmp_path / "s" / "transforms.json").read_text())
    assert meta["train_filenames"] == ["train/r_0.png", "train/r_1.png", "train/r_2.png"]
    assert meta["test_filenames"] == ["test/r_0.png"] and "val_filenames" not in meta
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [".aire", "test", "train", "transforms.json"]
    with pytest.raises(InputError, match="format must be one of blender, nerfstudio"):
        make_scene(sphere_mesh, tmp_path / "t", views=1, size=4, format="colmap")
    assert not (tmp_path / "t").exists()


def test_cli_make_scene_writes_val_views_only_when_asked(tmp_path, sphere_mesh, capsys):
    assert main(["make-scene", str(sphere_mesh), "--out", str(tmp_path / "s"), "--views", "2", "--size", "6",
                 "--test-views", "1", "--supersample", "1"]) == 0
    assert "(blender format; 2 train, 1 test views of 6x6)" in capsys.readouterr().out
    assert not (tmp_path / "s" / "transforms_val.json").exists() and not (tmp_path / "s" / "val").exists()
    assert len(json.loads((tmp_path / "s" / "transforms_test.json").read_text())["frames"]) == 1


def test_cli_make_scene_quiet_prints_no_status_lines(tmp_path, sphere_mesh, capsys):
    assert main(["make-scene", str(sphere_mesh), "--out", str(tmp_path / "s"), "--views", "1", "--size", "4",
                 "--test-views", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "(blender format; 1 train, 1 test views of 4x4)" in captured.out
