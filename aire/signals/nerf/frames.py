"""What the transforms-JSON dialects share: one frame's image path, pose and camera, parsed and checked.

Blender/NeRF-synthetic split files and the single ``transforms.json`` of instant-ngp, nerfstudio and
colmap2nerf both hold ``{"frames": [{"file_path": ..., "transform_matrix": 4x4 c2w}, ...], ...}``, with
OpenGL-convention camera-to-world matrices (cameras.py; nerfstudio's and instant-ngp's docs say the same).
Camera keys sit at the top level (every frame) or in a frame (that frame only; a frame's key overrides
the top level's):

* focal length along x: ``fl_x`` (pixels), else ``camera_angle_x`` (horizontal field of view, radians),
  else ``x_fov`` (degrees; instant-ngp); along y: ``fl_y``, ``camera_angle_y``, ``y_fov`` likewise. An
  axis given neither takes the other axis' focal length (square pixels), as instant-ngp does. When a
  level gives several keys for one axis they must agree (0.1 %); a frame that gives any key for an axis
  replaces all the top level's keys for that axis.
* ``cx``, ``cy``: principal point in pixels (default: the image centre); ``w``, ``h``: the image size
  the intrinsics refer to, which must equal the decoded frame's size.

Refused in one line naming the key: a ``camera_model`` that is not a pinhole (SIMPLE_PINHOLE, PINHOLE,
or SIMPLE_RADIAL, RADIAL, OPENCV with every distortion coefficient zero), a nonzero ``k1, k2, k3, k4,
p1, p2``, ``is_fisheye`` true, instant-ngp's other lens keys (``ftheta_p0``, ``latlong``,
``equirectangular``) and nerfstudio's ``mask_path`` (masked pixels would be fitted as if they were seen).
instant-ngp's ``scale``, ``offset`` and ``aabb_scale`` map the scene into its own unit cube and are not
applied: poses are used as written.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from aire.errors import InputError
from aire.signals.nerf.cameras import Intrinsics, focal_from_angle

#: the keys, per axis, that give a focal length, in order of precedence
FOCAL_KEYS = {"x": ("fl_x", "camera_angle_x", "x_fov"), "y": ("fl_y", "camera_angle_y", "y_fov")}
#: camera models that are a pinhole once their distortion coefficients are zero (COLMAP's names, as nerfstudio uses)
PINHOLE_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
#: keys of lenses other than a pinhole (instant-ngp) and per-pixel masks (nerfstudio) that aire cannot honour
REFUSED_KEYS = {"ftheta_p0": "an f-theta fisheye lens", "latlong": "a lat-long panorama",
                "equirectangular": "an equirectangular panorama",
                "mask_path": "a mask (masked pixels would be fitted as if seen)"}
#: extensions tried, in this order, for a file_path that names no existing file (Blender omits ".png")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff", ".bmp", ".webp", ".PNG", ".JPG", ".JPEG")
#: relative tolerance between two keys that give the same focal length
AGREEMENT = 1e-3


def load_json(path: Path) -> dict[str, Any]:
    """A transforms file as a dict with a non-empty 'frames' list; InputError otherwise."""
    try:
        meta = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise InputError(f"{path}: 'frames' must be a non-empty list")
    return meta


def image_path(root: Path, file_path: str) -> Path | None:
    """The image a frame's file_path names, as an absolute path: relative to the json's folder `root`
    (absolute paths kept, Windows separators accepted); a path naming no file gets the first of IMAGE_SUFFIXES appended that
    exists. None when nothing exists."""
    given = Path(str(file_path).replace("\\", "/"))
    # lexical normalisation ("./", ".."), not resolve(): symlinked images keep the names the json gives
    path = Path(os.path.abspath(given if given.is_absolute() else root / given))
    if path.is_file():
        return path
    for suffix in IMAGE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def check_matrix(value: Any, where: str) -> np.ndarray:
    """A 4x4 rigid camera-to-world matrix (float64); InputError otherwise."""
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: transform_matrix is not a 4x4 array of numbers") from None
    if m.shape != (4, 4):
        raise InputError(f"{where}: transform_matrix must be 4x4, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InputError(f"{where}: transform_matrix contains NaN or infinite values")
    if not np.allclose(m[3], [0, 0, 0, 1], atol=1e-6):
        raise InputError(f"{where}: transform_matrix's last row must be [0, 0, 0, 1], got {m[3].tolist()}")
    rot = m[:3, :3]
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-3):
        raise InputError(f"{where}: transform_matrix's rotation part is not orthonormal (scaled or sheared cameras "
                         "are not supported)")
    return m


def _number(value: Any, key: str, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def _size(value: Any, key: str, where: str) -> int:
    number = _number(value, key, where)
    if number != int(number) or number < 1:
        raise InputError(f"{where}: {key} must be a whole number of pixels >= 1, got {value!r}")
    return int(number)


def check_lens(top: dict[str, Any], frame: dict[str, Any], where: str) -> None:
    """Refuse, naming the key, any camera that is not an undistorted pinhole (see the module docstring)."""
    keys = {**top, **frame}
    model = keys.get("camera_model")
    if model is not None and model not in PINHOLE_MODELS:
        raise InputError(f"{where}: camera_model {model!r} is not a pinhole camera; aire reads only "
                         f"{', '.join(PINHOLE_MODELS)} without distortion")
    for key in DISTORTION_KEYS:
        if key in keys and _number(keys[key], key, where) != 0.0:
            raise InputError(f"{where}: distortion coefficient {key} = {keys[key]!r} is not zero; aire reads only "
                             "undistorted pinhole images (undistort them first, e.g. with COLMAP's image_undistorter)")
    if keys.get("is_fisheye"):
        raise InputError(f"{where}: is_fisheye is set; aire reads only pinhole cameras")
    for key, what in REFUSED_KEYS.items():
        if key in keys:
            raise InputError(f"{where}: {key} describes {what}, which aire does not support")


def _focal_key(level: dict[str, Any], key: str, size: int | None, where: str) -> float:
    """The focal length (pixels) one key gives for an image `size` pixels across the key's axis; with
    size None only the value's range is checked (and NaN returned for angles)."""
    value = _number(level[key], key, where)
    if key.startswith("fl_"):
        if value <= 0:
            raise InputError(f"{where}: {key} must be a positive focal length in pixels, got {value!r}")
        return value
    limit, unit = (math.pi, "radians") if key.startswith("camera_angle") else (180.0, "degrees")
    if not 0 < value < limit:
        raise InputError(f"{where}: {key} must be a field of view in (0, {limit:g}) {unit}, got {value!r}")
    if size is None:
        return math.nan
    return focal_from_angle(value if unit == "radians" else math.radians(value), size)


def _focal(level: dict[str, Any], axis: str, size: int | None, where: str) -> float | None:
    """The focal length (pixels) one level (top or frame) gives along `axis`, or None; the level's keys for
    the axis must agree (checked when `size` is known)."""
    values = [(key, _focal_key(level, key, size, where)) for key in FOCAL_KEYS[axis] if key in level]
    if not values:
        return None
    key0, focal0 = values[0]
    for key, focal in values[1:]:
        if abs(focal - focal0) > AGREEMENT * focal0:
            raise InputError(f"{where}: {key0} and {key} disagree (focal {focal0:.6g} vs {focal:.6g} pixels for an "
                             f"image {size} pixels across); remove one")
    return focal0


def _focals(top: dict[str, Any], frame: dict[str, Any], width: int | None, height: int | None,
            where: str) -> tuple[float, float]:
    """(fx, fy) from the camera keys, frame's over top's per axis; NaN for angles when the size is None."""
    focal = {}
    for axis, size in (("x", width), ("y", height)):
        level = frame if any(k in frame for k in FOCAL_KEYS[axis]) else top
        focal[axis] = _focal(level, axis, size, where)
    if focal["x"] is None and focal["y"] is None:
        raise InputError(f"{where}: no focal length: give fl_x (and fl_y) or camera_angle_x, at the top level "
                         "or in every frame")
    fx = focal["x"] if focal["x"] is not None else focal["y"]
    fy = focal["y"] if focal["y"] is not None else focal["x"]
    return fx, fy


def resolve_intrinsics(top: dict[str, Any], frame: dict[str, Any], width: int, height: int,
                       where: str) -> Intrinsics:
    """The Intrinsics of a width x height frame from its camera keys (frame's over top's; module docstring)."""
    fx, fy = _focals(top, frame, width, height, where)
    keys = {**top, **frame}
    cx = _number(keys["cx"], "cx", where) if "cx" in keys else 0.5 * width
    cy = _number(keys["cy"], "cy", where) if "cy" in keys else 0.5 * height
    try:
        return Intrinsics(fx, fy, cx, cy, width, height)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


@attrs.frozen
class FrameSpec:
    """One frame of a transforms file, checked except for what needs its decoded image (its size)."""

    file_path: str          # as written in the json
    image: Path             # the resolved image file
    pose: np.ndarray = attrs.field(eq=False)  # (4, 4) camera-to-world, OpenGL convention
    top: dict = attrs.field(eq=False, repr=False)    # the file's top-level keys
    keys: dict = attrs.field(eq=False, repr=False)   # the frame's own keys
    where: str = attrs.field(eq=False)               # "file frame k (file_path)" for messages
    declared: tuple[int, int] | None = attrs.field(eq=False)  # (w, h) the json declares, if it does

    def intrinsics(self, width: int, height: int) -> Intrinsics:
        """The frame's Intrinsics, given its decoded size; InputError when the json declares another size."""
        if self.declared is not None and self.declared != (width, height):
            raise InputError(f"{self.where}: the image is {width}x{height} pixels but the json declares w = "
                             f"{self.declared[0]}, h = {self.declared[1]}")
        return resolve_intrinsics(self.top, self.keys, width, height, self.where)


def parse_frames(meta: dict[str, Any], root: Path, name: str) -> list[FrameSpec]:
    """Every frame of a loaded transforms file `name` in folder `root`, in file order: image present, pose
    rigid, lens a pinhole, and (when w and h are declared) intrinsics valid; InputError naming the frame."""
    top = {k: v for k, v in meta.items() if k != "frames"}
    specs = []
    for k, frame in enumerate(meta["frames"]):
        where = f"{name} frame {k}"
        if not isinstance(frame, dict) or "file_path" not in frame or "transform_matrix" not in frame:
            raise InputError(f"{where}: needs file_path and transform_matrix")
        where = f"{where} ({frame['file_path']})"
        path = image_path(root, str(frame["file_path"]))
        if path is None:
            raise InputError(f"{where}: image {root / str(frame['file_path'])} is missing")
        pose = check_matrix(frame["transform_matrix"], where)
        check_lens(top, frame, where)
        keys = {**top, **frame}
        declared = None
        if "w" in keys or "h" in keys:
            if "w" not in keys or "h" not in keys:
                raise InputError(f"{where}: give both w and h, or neither")
            declared = (_size(keys["w"], "w", where), _size(keys["h"], "h", where))
            resolve_intrinsics(top, frame, *declared, where)  # fail before decoding any image
        else:
            _focals(top, frame, None, None, where)  # ranges and presence now; the rest once the size is known
        specs.append(FrameSpec(str(frame["file_path"]), path, pose, top, frame, where, declared))
    return specs
