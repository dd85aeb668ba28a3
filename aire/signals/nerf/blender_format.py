"""The Blender/NeRF-synthetic dialect: split files, and `read_rgba`, the one reader of every NeRF frame.

A scene folder holds transforms_{train,val,test}.json, each
    {"camera_angle_x": fov_x_radians, "frames": [{"file_path": "./train/r_0", "transform_matrix": 4x4}, ...]}
with camera-to-world matrices in the OpenGL convention (see cameras.py) and RGBA PNGs (file_path with
".png" appended when it names no file). The camera may instead be given by fl_x, fl_y, cx, cy, w, h,
at the top level or per frame, as in the single-file dialect (frames.py has the rules for both).
Frames of both dialects are decoded by `read_rgba` and composited on a white background.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import imageio.v3 as iio
import numpy as np

from aire.atomic import atomic_folder, check_out_dir
from aire.errors import InputError
from aire.images import composite_on_white, decode_image
from aire.signals.nerf.cameras import angle_from_focal
from aire.signals.nerf.frames import FrameSpec, load_json, parse_frames

SPLITS = ("train", "val", "test")


def split_file(root: Path, split: str) -> Path:
    """The Blender split file of `split` in scene folder `root`."""
    return Path(root) / f"transforms_{split}.json"


def blender_frames(root: str | Path, split: str) -> list[FrameSpec]:
    """The frames of one split file, in file order; InputError when it is missing or invalid."""
    path = split_file(Path(root), split)
    if not path.exists():
        raise InputError(f"{root} is a Blender-format scene but {path.name} is missing")
    return parse_frames(load_json(path), Path(root), path.name)


def read_rgba(path: Path) -> np.ndarray:
    """An image file as float64 (H, W, 3) in [0, 1], alpha composited on white. Decoded by
    aire.images.decode_image (every colour mode and bit depth); values outside [0, 1] are refused,
    since one affine map per frame would make frames disagree. The pixels are taken as stored, with
    any EXIF orientation tag ignored: camera poses and intrinsics (COLMAP, nerfstudio, instant-ngp)
    are computed on the stored pixels, so turning them would break every ray."""
    decoded = decode_image(path, value_range="refuse", what="frame", orientation="ignore")
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


def read_split(root: str | Path, split: str, size: int | None = None):
    """One split of a scene in either dialect: aire.signals.nerf.scene_format.read_split (kept importable here)."""
    from aire.signals.nerf.scene_format import read_split as read

    return read(root, split, size)


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
