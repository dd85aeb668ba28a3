"""Cameras to render a fitted field from: the scene's centre, the turntable, camera path files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aire.errors import InputError
from aire.signals.nerf.camera_path import read_camera_path, scene_centre, turntable_poses
from aire.signals.nerf.cameras import Intrinsics, look_at

CENTRE = np.array([0.3, -0.2, 0.5])


def _cameras(elevations_deg=(20.0, 35.0, 50.0), radius=4.0, azimuths_deg=(10.0, 130.0, 250.0)):
    poses = []
    for el, az in zip(np.radians(elevations_deg), np.radians(azimuths_deg)):
        offset = radius * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        poses.append(look_at(CENTRE + offset, CENTRE))
    return np.stack(poses)


def test_the_centre_is_where_the_cameras_look():
    assert np.allclose(scene_centre(_cameras()), CENTRE, atol=1e-9)


def test_parallel_cameras_have_no_centre():
    pose = look_at(np.array([0.0, -4.0, 0.0]))
    moved = pose.copy()
    moved[0, 3] += 1.0  # the same direction, one unit to the side
    with pytest.raises(InputError, match="parallel axes"):
        scene_centre(np.stack([pose, moved]))
    with pytest.raises(InputError, match="parallel axes"):
        scene_centre(pose[None])


def test_turntable_poses_lie_on_the_circle_and_look_at_the_centre():
    test = _cameras()
    poses = turntable_poses(test, 8)
    assert poses.shape == (8, 4, 4)
    rel = poses[:, :3, 3] - CENTRE
    assert np.allclose(np.linalg.norm(rel, axis=1), 4.0)  # the test cameras' mean distance
    elevation = np.degrees(np.arcsin(rel[:, 2] / 4.0))
    assert np.allclose(elevation, 35.0)  # their mean elevation: a horizontal circle
    azimuth = np.degrees(np.arctan2(rel[:, 1], rel[:, 0]))
    assert np.allclose(np.diff(np.unwrap(np.radians(azimuth))), 2 * math.pi / 8)  # evenly spaced
    assert azimuth[0] == pytest.approx(10.0)  # starting at the first test camera
    looking = -poses[:, :3, 2]
    assert np.allclose(looking, -rel / 4.0)  # each camera looks at the centre
    assert np.allclose(poses[:, 3], [0, 0, 0, 1])
    with pytest.raises(InputError, match="--turntable"):
        turntable_poses(test, 0)


def _nerfstudio_path(tmp_path, **top):
    c2w = look_at(np.array([0.0, -3.0, 1.0]))
    meta = {"render_width": 64, "render_height": 48, "camera_type": "perspective", "fps": 24, "seconds": 1,
            "camera_path": [{"camera_to_world": c2w.reshape(-1).tolist(), "fov": 60.0, "aspect": 4 / 3}] * 2, **top}
    path = tmp_path / "camera_path.json"
    path.write_text(json.dumps(meta))
    return path, c2w


def test_a_nerfstudio_camera_path_gives_its_poses_and_vertical_field_of_view(tmp_path):
    path, c2w = _nerfstudio_path(tmp_path)
    cameras = read_camera_path(path, None)
    assert len(cameras) == 2
    pose, k = cameras[0]
    assert np.allclose(pose, c2w)  # 16 numbers, row-major
    focal = 24.0 / math.tan(math.radians(30.0))  # (height / 2) / tan(fov / 2): fov is vertical, in degrees
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == pytest.approx((focal, focal, 32.0, 24.0, 64, 48))


def test_a_list_of_matrices_takes_the_given_camera(tmp_path):
    poses = _cameras()
    path = tmp_path / "poses.json"
    path.write_text(json.dumps(poses.tolist()))
    camera = Intrinsics.pinhole(30.0, 40, 30)
    cameras = read_camera_path(path, camera)
    assert len(cameras) == 3 and all(k == camera for _, k in cameras)
    assert np.allclose(np.stack([p for p, _ in cameras]), poses)
    with pytest.raises(InputError, match="needs a camera"):
        read_camera_path(path, None)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"frames": []}), "a JSON object without 'camera_path'"),
    (json.dumps([]), "an empty list"),
    (json.dumps(3), "a JSON int"),
    (json.dumps([[1, 2], [3, 4]]), "not all 4x4 matrices"),
    (json.dumps([np.eye(4).tolist(), "x"]), "not all 4x4 matrices"),
    (json.dumps([(2 * np.eye(4)).tolist()]), "last row must be"),
    (json.dumps({"camera_path": [], "render_width": 4, "render_height": 4}), "non-empty list"),
    (json.dumps({"camera_path": [{"fov": 50}], "render_width": 4, "render_height": 4}), "needs camera_to_world"),
    (json.dumps({"camera_path": [{"camera_to_world": [1, 2], "fov": 50}], "render_width": 4, "render_height": 4}),
     "16 numbers"),
    (json.dumps({"camera_path": [{"camera_to_world": np.eye(4).ravel().tolist(), "fov": 200}], "render_width": 4,
                 "render_height": 4}), "fov must be"),
    (json.dumps({"camera_path": [{"camera_to_world": np.eye(4).ravel().tolist(), "fov": 50}], "render_width": 4.5,
                 "render_height": 4}), "render_width"),
    (json.dumps({"camera_path": [{"camera_to_world": np.eye(4).ravel().tolist(), "fov": 50}], "render_width": 4,
                 "render_height": 4, "camera_type": "fisheye"}), "'fisheye' is not a pinhole"),
])
def test_anything_else_is_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "path.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_camera_path(path, Intrinsics.pinhole(10.0, 8, 8))
    assert "\n" not in str(info.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match="cannot read camera path"):
        read_camera_path(tmp_path / "none.json", None)
