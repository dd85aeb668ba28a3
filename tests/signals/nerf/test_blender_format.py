"""The Blender dialect: intrinsics and poses round-trip, compositing, downscaling, fl_x in split files, bad scenes."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image

from aire.errors import InputError
from aire.scenes.make_scene import CAMERA_ANGLE_X, CAMERA_RADIUS
from aire.signals.nerf.blender_format import read_rgba, write_scene
from aire.signals.nerf.cameras import Intrinsics, focal_from_angle, look_at, sphere_positions
from aire.signals.nerf.scene_format import read_split


def test_generated_scene_round_trips_intrinsics_and_poses(tiny_scene):
    for k, (split, n) in enumerate((("train", 8), ("val", 2), ("test", 3))):
        s = read_split(tiny_scene, split)
        assert s.images.shape == (n, 24, 24, 3)
        f = focal_from_angle(CAMERA_ANGLE_X, 24)
        for cam in s.intrinsics:
            assert math.isclose(cam.fx, f, rel_tol=1e-12) and cam.fy == cam.fx and (cam.cx, cam.cy) == (12.0, 12.0)
        expected = np.stack([look_at(p) for p in sphere_positions(n, CAMERA_RADIUS, seed=k)])
        assert np.allclose(s.poses, expected, atol=1e-12)


def test_write_then_read_is_exact_and_composites_on_white(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(2, 5, 7, 4), dtype=np.uint8)
    poses = np.stack([look_at(p) for p in sphere_positions(2, 3.0)])
    write_scene(tmp_path / "s", {"train": (rgba, poses), "test": (rgba[:1], poses[:1])}, focal=6.0)
    s = read_split(tmp_path / "s", "train")
    a = rgba[..., 3:] / 255.0
    assert np.allclose(s.images, rgba[..., :3] / 255.0 * a + (1 - a), atol=1e-12)
    assert np.allclose(s.poses, poses) and math.isclose(s.intrinsics[0].fx, 6.0, rel_tol=1e-12)
    assert s.intrinsics[0] == Intrinsics(s.intrinsics[0].fx, s.intrinsics[0].fx, 3.5, 2.5, 7, 5)


def test_downscaling_scales_the_focal_and_averages_pixels(tiny_scene):
    full, half = read_split(tiny_scene, "test"), read_split(tiny_scene, "test", size=12)
    assert half.images.shape == (3, 12, 12, 3)
    for k, h in zip(full.intrinsics, half.intrinsics):
        assert math.isclose(h.fx, k.fx / 2, rel_tol=1e-12) and math.isclose(h.fy, k.fy / 2, rel_tol=1e-12)
        assert (h.cx, h.cy, h.width, h.height) == (6.0, 6.0, 12, 12)
    # an antialiased 2x reduction keeps the mean colour (up to float32 rounding)
    assert abs(half.images.mean() - full.images.mean()) < 1e-3


def test_file_paths_with_extensions_and_grey_or_rgb_frames_are_read(tmp_path):
    iio.imwrite(tmp_path / "a.png", np.full((4, 4, 3), 128, np.uint8))
    meta = {"camera_angle_x": 0.7, "frames": [{"file_path": "a.png", "transform_matrix": np.eye(4).tolist()}]}
    (tmp_path / "transforms_train.json").write_text(json.dumps(meta))
    s = read_split(tmp_path, "train")
    assert np.allclose(s.images, 128 / 255)


def test_split_files_giving_fl_x_instead_of_camera_angle_x_are_read(tmp_path):
    """Blender split files may carry the single-file dialect's camera keys, top level or per frame."""
    for k in range(2):
        iio.imwrite(tmp_path / f"r_{k}.png", np.zeros((6, 8, 3), np.uint8))
    frames = [{"file_path": "./r_0", "transform_matrix": np.eye(4).tolist()},
              {"file_path": "./r_1", "transform_matrix": np.eye(4).tolist(), "fl_x": 9.0, "cx": 3.0}]
    (tmp_path / "transforms_train.json").write_text(json.dumps({"fl_x": 7.0, "fl_y": 7.5, "frames": frames}))
    s = read_split(tmp_path, "train")
    assert s.intrinsics == [Intrinsics(7.0, 7.5, 4.0, 3.0, 8, 6), Intrinsics(9.0, 7.5, 3.0, 3.0, 8, 6)]
    assert s.files == ["./r_0", "./r_1"]  # file order, as written


def _scene_with(tmp_path, **frame_overrides):
    iio.imwrite(tmp_path / "r_0.png", np.zeros((4, 4, 4), np.uint8))
    frame = {"file_path": "./r_0", "transform_matrix": np.eye(4).tolist(), **frame_overrides}
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": [frame]}))
    return tmp_path


@pytest.mark.parametrize("override, message", [
    ({"transform_matrix": np.eye(4)[:3].tolist()}, "must be 4x4"),
    ({"transform_matrix": [[float("nan")] * 4] * 4}, "NaN"),
    ({"transform_matrix": (2 * np.eye(4)).tolist()}, "last row"),
    ({"transform_matrix": np.diag([2.0, 1, 1, 1]).tolist()}, "orthonormal"),
    ({"transform_matrix": "eye"}, "4x4"),
    ({"file_path": "./missing"}, "missing"),
])
def test_bad_frames_are_one_line_input_errors(tmp_path, override, message):
    with pytest.raises(InputError, match=message):
        read_split(_scene_with(tmp_path, **override), "train")


def test_bad_scene_folders_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_split(tmp_path / "nope", "train")
    with pytest.raises(InputError, match="looked for transforms_train.json .* and transforms.json"):
        read_split(tmp_path, "train")
    (tmp_path / "transforms_train.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_split(tmp_path, "train")
    iio.imwrite(tmp_path / "ok.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "transforms_train.json").write_text(json.dumps(
        {"camera_angle_x": -1, "frames": [{"file_path": "ok.png", "transform_matrix": np.eye(4).tolist()}]}))
    with pytest.raises(InputError, match="camera_angle_x must be a field of view"):
        read_split(tmp_path, "train")
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.5, "frames": []}))
    with pytest.raises(InputError, match="non-empty"):
        read_split(tmp_path, "train")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    (tmp_path / "transforms_train.json").write_text(json.dumps(
        {"camera_angle_x": 0.5, "frames": [{"file_path": "bad.png", "transform_matrix": np.eye(4).tolist()}]}))
    with pytest.raises(InputError, match="cannot read frame"):
        read_split(tmp_path, "train")


def test_a_size_above_the_image_size_keeps_it(tiny_scene):
    full, same = read_split(tiny_scene, "test"), read_split(tiny_scene, "test", size=64)
    assert np.array_equal(full.images, same.images) and full.intrinsics == same.intrinsics


# NeRF frames go through aire.images: palette transparency, grey and 16-bit frames read as a viewer shows them

def test_palette_frame_with_a_transparent_half_is_white_there(tmp_path):
    im = Image.new("P", (8, 4))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0 if x < 4 else 1 for y in range(4) for x in range(8)])
    im.save(tmp_path / "r_0.png", transparency=0)  # index 0 (red) is fully transparent
    frame = read_rgba(tmp_path / "r_0.png")
    assert frame.shape == (4, 8, 3)
    assert np.allclose(frame[:, :4], 1.0) and np.allclose(frame[:, 4:], [0, 0, 1])


def test_grey_and_sixteen_bit_frames(tmp_path):
    Image.fromarray(np.full((3, 3), 51, np.uint8)).save(tmp_path / "grey.png")
    assert np.allclose(read_rgba(tmp_path / "grey.png"), 0.2) and read_rgba(tmp_path / "grey.png").shape == (3, 3, 3)
    rgba = np.zeros((3, 3, 4), np.uint16)
    rgba[..., 0], rgba[..., 3] = 1000, 65535
    tifffile.imwrite(tmp_path / "deep.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    assert read_rgba(tmp_path / "deep.tif")[1, 1, 0] == 1000 / 65535


def test_frame_values_outside_the_unit_range_are_refused(tmp_path):
    np.save(tmp_path / "hot.npy", np.full((3, 3, 3), 2.0))
    with pytest.raises(InputError, match=r"cannot read frame .*hot.npy: values in \[2, 2\] leave \[0, 1\]"):
        read_rgba(tmp_path / "hot.npy")


def test_frame_orientation_tags_are_ignored_because_poses_refer_to_stored_pixels(tmp_path):
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[0, 0] = 255  # a white corner in the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    Image.fromarray(pixels).save(tmp_path / "r_0.png", exif=exif)
    frame = read_rgba(tmp_path / "r_0.png")
    assert frame.shape == (4, 6, 3) and np.allclose(frame[0, 0], 1.0) and np.allclose(frame[3, 5], 0.0)
