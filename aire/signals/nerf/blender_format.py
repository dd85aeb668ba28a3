"""Read and write the NeRF-synthetic (Blender) scene format.

A scene folder holds transforms_{train,val,test}.json, each
    {"camera_angle_x": fov_x_radians, "frames": [{"file_path": "./train/r_0", "transform_matrix": 4x4}, ...]}
with camera-to-world matrices in the OpenGL convention (see cameras.py), and RGBA PNGs (file_path
with ".png" appended when it has no suffix). Images are composited on a white background.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import attrs
import imageio.v3 as iio
import numpy as np

from aire.atomic import atomic_folder, check_out_dir
from aire.errors import InputError
from aire.images import composite_on_white, decode_image
from aire.signals.nerf.cameras import angle_from_focal, focal_from_angle

SPLITS = ("train", "val", "test")


@attrs.define
class Split:
    """One split of a scene: images (N, H, W, 3) in [0, 1] on white, poses (N, 4, 4) c2w, focal in pixels."""

    images: np.ndarray
    poses: np.ndarray
    focal: float
    files: list[str]

    @property
    def height(self) -> int:
        return int(self.images.shape[1])

    @property
    def width(self) -> int:
        return int(self.images.shape[2])


def _frame_path(root: Path, file_path: str) -> Path:
    path = (root / file_path).resolve() if not os.path.isabs(file_path) else Path(file_path)
    return path if path.suffix else path.with_suffix(".png")


def _check_matrix(value: Any, where: str) -> np.ndarray:
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


def read_rgba(path: Path) -> np.ndarray:
    """An image file as float64 (H, W, 3) in [0, 1], alpha composited on white. Decoded by
    aire.images.decode_image (every colour mode and bit depth, orientation applied); values outside
    [0, 1] are refused, since one affine map per frame would make frames disagree."""
    decoded = decode_image(path, value_range="refuse", what="frame")
    img, _ = composite_on_white(decoded)
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def downscale(images: np.ndarray, size: int) -> np.ndarray:
    """Antialiased resize of (N, H, W, 3) so the longer side has `size` pixels; never enlarges."""
    import torch
    from torch.nn import functional as F

    n, h, w, _ = images.shape
    scale = size / max(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size >= max(h, w) or new == (h, w):
        return images
    t = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2)
    out = F.interpolate(t, size=new, mode="bilinear", antialias=True, align_corners=False)
    return out.permute(0, 2, 3, 1).clamp(0, 1).numpy().astype(np.float64)


def read_split(root: str | Path, split: str, size: int | None = None) -> Split:
    """Read one split; with `size`, downscale so the longer side is at most `size` pixels (focal scaled alike)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"scene folder not found: {root}")
    meta_path = root / f"transforms_{split}.json"
    if not meta_path.exists():
        raise InputError(f"{root} is not a NeRF-synthetic scene: {meta_path.name} is missing")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{meta_path}: expected a JSON object")
    angle = meta.get("camera_angle_x")
    if not isinstance(angle, (int, float)) or isinstance(angle, bool) or not 0 < angle < math.pi:
        raise InputError(f"{meta_path}: camera_angle_x must be a number in (0, pi), got {angle!r}")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise InputError(f"{meta_path}: 'frames' must be a non-empty list")
    images, poses, files = [], [], []
    for k, frame in enumerate(frames):
        where = f"{meta_path.name} frame {k}"
        if not isinstance(frame, dict) or "file_path" not in frame or "transform_matrix" not in frame:
            raise InputError(f"{where}: needs file_path and transform_matrix")
        path = _frame_path(root, str(frame["file_path"]))
        if not path.exists():
            raise InputError(f"{where}: image {path} is missing")
        poses.append(_check_matrix(frame["transform_matrix"], where))
        images.append(read_rgba(path))
        files.append(str(frame["file_path"]))
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise InputError(f"{meta_path}: frames differ in size ({sorted(shapes)})")
    stack = np.stack(images)
    focal = focal_from_angle(float(angle), stack.shape[2])
    if size is not None:
        if size < 2:
            raise InputError(f"size must be at least 2 pixels, got {size}")
        width = stack.shape[2]
        stack = downscale(stack, size)
        focal *= stack.shape[2] / width
    return Split(images=stack, poses=np.stack(poses), focal=focal, files=files)


def write_scene(out: str | Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], focal: float,
                extra: dict[str, Any] | None = None, overwrite: bool = False,
                inputs: Sequence[str | Path] = ()) -> Path:
    """Write splits {name: (rgba uint8 (N, H, W, 4), poses (N, 4, 4))} as a scene folder, atomically.

    Every split shares one focal length (pixels) and image width; `extra` keys go into each json.
    An existing `out` is replaced only with `overwrite` and only if aire may replace it (never one
    holding a path of `inputs`; see aire.atomic)."""
    out = Path(out)
    check_out_dir(out, overwrite, inputs)
    with atomic_folder(out, kind="scene", overwrite=overwrite, inputs=inputs) as tmp:
        for name, (rgba, poses) in splits.items():
            (tmp / name).mkdir()
            angle = angle_from_focal(focal, rgba.shape[2])
            frames = []
            for k, (img, pose) in enumerate(zip(rgba, poses)):
                iio.imwrite(tmp / name / f"r_{k}.png", img)
                frames.append({"file_path": f"./{name}/r_{k}", "transform_matrix": np.asarray(pose).tolist()})
            meta = {"camera_angle_x": angle, **(extra or {}), "frames": frames}
            (tmp / f"transforms_{name}.json").write_text(json.dumps(meta, indent=2))
    return out
