"""Camera keys shared by both dialects: focal lengths, principal points, overrides, refusals, image paths."""

from __future__ import annotations

import math

import imageio.v3 as iio
import numpy as np
import pytest

from aire.errors import InputError
from aire.signals.nerf.cameras import Intrinsics, focal_from_angle
from aire.signals.nerf.frames import image_path, parse_frames, resolve_intrinsics

EYE = np.eye(4).tolist()


def frames_of(tmp_path, top, *frames, size=(6, 8)):
    """parse_frames of a transforms dict whose frames' images (h x w = size) exist as PNGs."""
    for k, frame in enumerate(frames):
        frame.setdefault("file_path", f"f{k}.png")
        frame.setdefault("transform_matrix", EYE)
        iio.imwrite(tmp_path / frame["file_path"], np.zeros((*size, 3), np.uint8))
    return parse_frames({**top, "frames": list(frames)}, tmp_path, "transforms.json")


def test_top_level_fl_cx_cy_give_an_anisotropic_off_centre_camera(tmp_path):
    (f,) = frames_of(tmp_path, {"fl_x": 10.0, "fl_y": 12.5, "cx": 3.0, "cy": 2.5, "w": 8, "h": 6}, {})
    assert f.declared == (8, 6)
    assert f.intrinsics(8, 6) == Intrinsics(10.0, 12.5, 3.0, 2.5, 8, 6)


def test_a_frames_keys_override_the_top_levels_and_the_others_keep_them(tmp_path):
    top = {"fl_x": 10.0, "fl_y": 12.0, "cx": 4.0, "cy": 3.0, "w": 8, "h": 6}
    a, b, c = frames_of(tmp_path, top, {}, {"fl_x": 20.0, "cy": 1.5}, {"camera_angle_x": 1.0})
    assert a.intrinsics(8, 6) == Intrinsics(10.0, 12.0, 4.0, 3.0, 8, 6)
    assert b.intrinsics(8, 6) == Intrinsics(20.0, 12.0, 4.0, 1.5, 8, 6)  # fl_y, cx from the top level
    # a frame's camera_angle_x replaces the top level's x focal (fl_x) for that frame only
    assert c.intrinsics(8, 6) == Intrinsics(focal_from_angle(1.0, 8), 12.0, 4.0, 3.0, 8, 6)


def test_camera_angles_alone_give_the_focals_and_the_image_centre(tmp_path):
    (f,) = frames_of(tmp_path, {"camera_angle_x": 0.9, "camera_angle_y": 0.6}, {})
    assert f.declared is None
    k = f.intrinsics(8, 6)
    assert math.isclose(k.fx, 4.0 / math.tan(0.45)) and math.isclose(k.fy, 3.0 / math.tan(0.3))
    assert (k.cx, k.cy) == (4.0, 3.0)


@pytest.mark.parametrize("top, fx", [
    ({"camera_angle_x": 0.9}, 4.0 / math.tan(0.45)),    # Blender: one angle, square pixels
    ({"fl_x": 7.0}, 7.0),                                 # Blender split files giving fl_x instead
    ({"fl_y": 7.0}, 7.0),                                 # only y: x takes it
    ({"x_fov": 90.0}, 4.0),                               # instant-ngp's degrees
])
def test_an_axis_without_a_focal_takes_the_other_axis_focal(tmp_path, top, fx):
    (f,) = frames_of(tmp_path, top, {})
    k = f.intrinsics(8, 6)
    assert math.isclose(k.fx, fx) and k.fy == k.fx


def test_consistent_fl_x_and_camera_angle_x_are_read_and_disagreeing_ones_refused(tmp_path):
    angle = 2 * math.atan(8 / (2 * 7.0))  # as colmap2nerf writes it beside fl_x
    (f,) = frames_of(tmp_path, {"fl_x": 7.0, "camera_angle_x": angle}, {})
    assert math.isclose(f.intrinsics(8, 6).fx, 7.0)
    (g,) = frames_of(tmp_path, {"fl_x": 7.0, "camera_angle_x": 1.2}, {})
    with pytest.raises(InputError, match="fl_x and camera_angle_x disagree"):
        g.intrinsics(8, 6)


@pytest.mark.parametrize("keys, message", [
    ({"camera_model": "OPENCV_FISHEYE", "fl_x": 5.0}, "camera_model 'OPENCV_FISHEYE' is not a pinhole"),
    ({"camera_model": "EQUIRECTANGULAR", "fl_x": 5.0}, "camera_model 'EQUIRECTANGULAR'"),
    ({"fl_x": 5.0, "k1": 0.01}, "distortion coefficient k1 = 0.01 is not zero"),
    ({"fl_x": 5.0, "k4": -0.2}, "k4"),
    ({"fl_x": 5.0, "p2": 1e-4}, "distortion coefficient p2"),
    ({"fl_x": 5.0, "is_fisheye": True}, "is_fisheye"),
    ({"fl_x": 5.0, "ftheta_p0": 1.0}, "ftheta_p0"),
    ({"fl_x": 5.0, "latlong": True}, "latlong"),
    ({"fl_x": 5.0, "mask_path": "masks/a.png"}, "mask_path"),
    ({"fl_x": 0.0}, "fl_x must be a positive focal length"),
    ({"fl_x": -3.0}, "fl_x must be a positive"),
    ({"fl_x": "5"}, "fl_x must be a finite number"),
    ({"camera_angle_x": 3.5}, "camera_angle_x must be a field of view in"),
    ({"fl_x": 5.0, "cx": 9.0, "w": 8, "h": 6}, "cx = 9.0 lies outside the image"),
    ({"fl_x": 5.0, "cy": -0.5, "w": 8, "h": 6}, "cy = -0.5 lies outside the image"),
    ({"fl_x": 5.0, "w": 8.5, "h": 6}, "w must be a whole number"),
    ({"fl_x": 5.0, "w": 8}, "give both w and h"),
    ({"cx": 4.0}, "no focal length"),
])
def test_cameras_other_than_an_undistorted_valid_pinhole_are_refused_in_one_line(tmp_path, keys, message):
    with pytest.raises(InputError, match=message) as err:
        frames_of(tmp_path, keys, {})  # at the top level
    assert "\n" not in str(err.value) and "transforms.json frame 0 (f0.png)" in str(err.value)
    with pytest.raises(InputError, match=message):
        frames_of(tmp_path, {}, {**keys})  # and in a frame


def test_cx_outside_the_image_is_refused_once_the_size_is_known(tmp_path):
    (f,) = frames_of(tmp_path, {"fl_x": 5.0, "cx": 8.5}, {})  # no w/h: checked against the decoded size
    with pytest.raises(InputError, match="cx = 8.5 lies outside the image"):
        f.intrinsics(8, 6)


def test_distortion_keys_that_are_zero_and_pinhole_models_are_read(tmp_path):
    for model in ("PINHOLE", "SIMPLE_PINHOLE", "OPENCV"):
        keys = {"camera_model": model, "fl_x": 5.0, "k1": 0.0, "k2": 0, "p1": 0.0, "p2": 0.0}
        (f,) = frames_of(tmp_path, keys, {})
        assert f.intrinsics(8, 6) == Intrinsics(5.0, 5.0, 4.0, 3.0, 8, 6)
    # a frame that zeroes the top level's coefficient is undistorted
    (f,) = frames_of(tmp_path, {"fl_x": 5.0, "k1": 0.1}, {"k1": 0.0})
    assert f.intrinsics(8, 6).fx == 5.0


def test_a_declared_size_other_than_the_image_is_refused(tmp_path):
    (f,) = frames_of(tmp_path, {"fl_x": 5.0, "w": 16, "h": 12}, {})
    with pytest.raises(InputError, match="the image is 8x6 pixels but the json declares w = 16, h = 12"):
        f.intrinsics(8, 6)


def test_image_paths_with_and_without_extensions_relative_to_the_json(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.png", "b.jpg", "sub/c.png", "d.0001.png", "e.jpg", "e.png"):
        (tmp_path / name).write_bytes(b"")
    assert image_path(tmp_path, "./a") == (tmp_path / "a.png")          # Blender: no extension
    assert image_path(tmp_path, "b") == (tmp_path / "b.jpg")            # the first that exists
    assert image_path(tmp_path, "e") == (tmp_path / "e.png")            # .png before .jpg
    assert image_path(tmp_path, "b.jpg") == (tmp_path / "b.jpg")
    assert image_path(tmp_path, "sub\\c.png") == (tmp_path / "sub" / "c.png")  # Windows separators
    assert image_path(tmp_path, "d.0001") == (tmp_path / "d.0001.png")  # a dot is not an extension
    assert image_path(tmp_path / "sub", str(tmp_path / "a.png")) == tmp_path / "a.png"  # absolute
    assert image_path(tmp_path / "sub", "../a") == tmp_path / "a.png"
    (tmp_path / "link.png").symlink_to(tmp_path / "sub" / "c.png")
    assert image_path(tmp_path, "link") == tmp_path / "link.png"  # the name given, not the link's target
    assert image_path(tmp_path, "missing") is None


def test_resolve_intrinsics_names_the_frame():
    with pytest.raises(InputError, match=r"^here: cx = -1.0 lies outside the image \[0, 8\]$"):
        resolve_intrinsics({"fl_x": 5.0, "cx": -1}, {}, 8, 6, "here")
