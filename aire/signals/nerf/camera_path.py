"""Cameras to render a fitted radiance field from: a turntable around the scene, or a camera path file.

Turntable: the scene's centre is the point nearest (least squares) to the test cameras' optical axes
(each camera looks down its -z axis; the usual "focus point" of object-centric captures); the cameras
circle the world +z axis (the Blender/NeRF-synthetic convention of cameras.look_at) through that
centre at the test cameras' mean distance from it and mean elevation above its horizontal plane,
starting at the first test camera's azimuth and looking at the centre.

Camera path files (JSON), refused in one line when they are anything else:

* nerfstudio's ``camera_path.json`` (the viewer's export, read as nerfstudio's
  ``cameras/camera_paths.py:get_path_from_json`` reads it): ``render_width``, ``render_height``,
  ``camera_type`` (absent or ``perspective``: fisheye and panoramas are refused) and ``camera_path``, a
  list of ``{"camera_to_world": 16 numbers (row-major 4x4), "fov": vertical field of view in degrees}``;
  focal length = (render_height / 2) / tan(fov / 2), principal point at the image centre.
* a plain list of 4x4 camera-to-world matrices, rendered with the camera the caller gives (the fitted
  scene's).

Poses are used as written, in the scene's own world frame (the frame of its transforms files), with
the OpenGL convention of cameras.py. A path that nerfstudio exported for a scene it trained lives in
nerfstudio's normalised frame (its dataparser_transforms.json), not necessarily the scene's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aire.errors import InputError
from aire.signals.nerf.cameras import Intrinsics, look_at
from aire.signals.nerf.frames import check_matrix

#: above this condition number the cameras' axes are too close to parallel to meet at a centre
MAX_CONDITION = 1e6


def scene_centre(poses: np.ndarray) -> np.ndarray:
    """The point (3,) nearest in the least-squares sense to the optical axes of cameras `poses`
    (N, 4, 4) c2w: the solution of sum_i (I - d_i d_i^T) (p - o_i) = 0 with o_i the positions and d_i
    the viewing directions (-z columns). InputError when the axes are (nearly) parallel."""
    poses = np.asarray(poses, dtype=np.float64)
    origins, dirs = poses[:, :3, 3], -poses[:, :3, 2]
    dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    projectors = np.eye(3)[None] - dirs[:, :, None] * dirs[:, None, :]
    a, b = projectors.sum(axis=0), np.einsum("nij,nj->i", projectors, origins)
    if len(poses) < 2 or np.linalg.cond(a) > MAX_CONDITION:
        raise InputError(f"cannot find the scene's centre: the {len(poses)} test camera(s) look along (nearly) "
                         "parallel axes; render a camera path file instead (--camera-path)")
    return np.linalg.solve(a, b)


def turntable_poses(test_poses: np.ndarray, frames: int) -> np.ndarray:
    """`frames` c2w matrices (frames, 4, 4) on the turntable of the module docstring around the test
    cameras `test_poses` (N, 4, 4)."""
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        raise InputError(f"--turntable needs a number of frames >= 1, got {frames!r}")
    centre = scene_centre(test_poses)
    rel = np.asarray(test_poses, dtype=np.float64)[:, :3, 3] - centre
    dist = np.linalg.norm(rel, axis=1)
    radius = float(dist.mean())
    elevation = float(np.arcsin(np.clip(rel[:, 2] / dist, -1.0, 1.0)).mean())
    start = math.atan2(rel[0, 1], rel[0, 0])
    poses = []
    for azimuth in start + np.linspace(0.0, 2 * math.pi, frames, endpoint=False):
        offset = radius * np.array([math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth),
                                    math.sin(elevation)])
        poses.append(look_at(centre + offset, centre))
    return np.stack(poses)


def _refuse(path: Path, why: str) -> InputError:
    return InputError(f"{path}: {why}; a camera path is nerfstudio's camera_path.json or a JSON list of 4x4 "
                      "camera-to-world matrices")


def _pixels(value: Any, key: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _refuse(path, f"{key} must be a whole number of pixels >= 1, got {value!r}")
    return value


def _nerfstudio(meta: dict[str, Any], path: Path) -> list[tuple[np.ndarray, Intrinsics]]:
    width = _pixels(meta.get("render_width"), "render_width", path)
    height = _pixels(meta.get("render_height"), "render_height", path)
    camera_type = meta.get("camera_type", "perspective")
    if str(camera_type).lower() != "perspective":
        raise InputError(f"{path}: camera_type {camera_type!r} is not a pinhole; aire renders perspective cameras only")
    cameras = meta.get("camera_path")
    if not isinstance(cameras, list) or not cameras:
        raise _refuse(path, "'camera_path' must be a non-empty list")
    out = []
    for i, camera in enumerate(cameras):
        where = f"{path}: camera_path[{i}]"
        if not isinstance(camera, dict) or "camera_to_world" not in camera or "fov" not in camera:
            raise InputError(f"{where} needs camera_to_world (16 numbers) and fov (degrees)")
        try:
            flat = np.asarray(camera["camera_to_world"], dtype=np.float64).reshape(4, 4)
        except (TypeError, ValueError):
            raise InputError(f"{where}: camera_to_world must be 16 numbers (a row-major 4x4 matrix)") from None
        c2w = check_matrix(flat, where)
        fov = camera["fov"]
        if not isinstance(fov, (int, float)) or isinstance(fov, bool) or not 0 < fov < 180:
            raise InputError(f"{where}: fov must be a vertical field of view in degrees in (0, 180), got {fov!r}")
        focal = 0.5 * height / math.tan(math.radians(fov) / 2)
        out.append((c2w, Intrinsics.pinhole(focal, width, height)))
    return out


def read_camera_path(path: str | Path, camera: Intrinsics | None) -> list[tuple[np.ndarray, Intrinsics]]:
    """(c2w (4, 4), intrinsics) per frame of the camera path file `path` (module docstring); a plain
    list of matrices takes `camera` (InputError when it is None). Anything else: one-line InputError."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read camera path {path}: {exc.strerror or type(exc).__name__}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"not valid JSON ({str(exc).splitlines()[0]})") from None
    if isinstance(meta, dict) and "camera_path" in meta:
        return _nerfstudio(meta, path)
    if isinstance(meta, list) and meta:
        shapes = [np.shape(m) if _numeric(m) else None for m in meta]
        if all(s == (4, 4) for s in shapes):
            if camera is None:
                raise InputError(f"{path}: a list of matrices needs a camera; the run records none (give --scene)")
            return [(check_matrix(m, f"{path}: matrix {i}"), camera) for i, m in enumerate(meta)]
        raise _refuse(path, "a list whose items are not all 4x4 matrices of numbers")
    what = {dict: "a JSON object without 'camera_path'", list: "an empty list"}.get(type(meta))
    raise _refuse(path, what or f"a JSON {type(meta).__name__}")


def _numeric(value: Sequence[Any]) -> bool:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return array.dtype.kind == "f"
