"""The single-file dialect: one ``transforms.json`` as instant-ngp, nerfstudio and colmap2nerf write it.

    {"fl_x": 1072.0, "fl_y": 1068.0, "cx": 1504.0, "cy": 1000.0, "w": 3008, "h": 2000,
     "frames": [{"file_path": "images/frame_00001.png", "transform_matrix": 4x4 c2w}, ...],
     "train_filenames": [...], "val_filenames": [...], "test_filenames": [...]}      (the lists optional)

Camera keys, top level or per frame, and what is refused: frames.py. Frames are ordered by their image
path (the file_path resolved against the json's folder, compared as strings), as nerfstudio orders them.

Which frames are test views (the hold-out), decided here once and for all:
* with nerfstudio's explicit lists (any of ``train_filenames``, ``val_filenames``, ``test_filenames``):
  train = ``train_filenames``; test = ``test_filenames``, else ``val_filenames``; val = ``val_filenames``,
  else ``test_filenames``. Entries name images like file_path does; an entry that names no frame, an
  empty or missing list, or a frame both in train and test is refused. Frames in no list are unused.
* without lists: every 8th frame in path order is held out, positions 0, 8, 16, ... (nerfstudio's
  ``eval_mode=interval`` with ``eval_interval=8``, mip-NeRF's LLFF hold-out); val and test are both
  these frames, the rest are train. At least 2 frames are needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import imageio.v3 as iio
import numpy as np

from aire.atomic import atomic_folder, check_out_dir
from aire.errors import InputError
from aire.signals.nerf.cameras import Intrinsics
from aire.signals.nerf.frames import FrameSpec, image_path, load_json, parse_frames

#: the conventional name of the single transforms file
FILE_NAME = "transforms.json"
#: every HOLDOUT_EVERY-th frame (in path order, starting with the first) is a test view when no lists are given
HOLDOUT_EVERY = 8
LIST_KEYS = {"train": "train_filenames", "val": "val_filenames", "test": "test_filenames"}
#: the list each split falls back on when its own is absent (nerfstudio evaluates on one held-out set)
FALLBACK = {"train": None, "val": "test_filenames", "test": "val_filenames"}


def holdout(n: int, every: int = HOLDOUT_EVERY) -> tuple[list[int], list[int]]:
    """(train, test) positions of n frames in path order: test = 0, every, 2 * every, ... < n."""
    test = list(range(0, n, every))
    return [k for k in range(n) if k % every], test


def _listed(meta: dict[str, Any], key: str, root: Path, name: str, frames: list[FrameSpec]) -> set[Path]:
    entries = meta[key]
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{name}: {key} must be a non-empty list of image paths")
    known = {f.image for f in frames}
    paths = set()
    for entry in entries:
        path = image_path(root, str(entry))
        if path is None or path not in known:
            raise InputError(f"{name}: {key} names {entry!r}, which no frame's file_path is")
        paths.add(path)
    return paths


def nerfstudio_frames(json_path: str | Path, split: str) -> list[FrameSpec]:
    """The frames of `split` ('train', 'val' or 'test') of a single transforms file, in path order, by the
    hold-out rule of the module docstring; InputError when the file or the split is invalid."""
    json_path = Path(json_path)
    if split not in LIST_KEYS:
        raise InputError(f"unknown split {split!r}: expected train, val or test")
    root, name = json_path.parent, json_path.name
    meta = load_json(json_path)
    frames = sorted(parse_frames(meta, root, name), key=lambda f: str(f.image))
    if any(key in meta for key in LIST_KEYS.values()):
        if LIST_KEYS["train"] not in meta:
            raise InputError(f"{name} gives split lists but no train_filenames")
        key = LIST_KEYS[split] if LIST_KEYS[split] in meta else FALLBACK[split]
        if key is None or key not in meta:
            raise InputError(f"{name} gives split lists but neither val_filenames nor test_filenames")
        train = _listed(meta, "train_filenames", root, name, frames)
        held = [k for k in ("test_filenames", "val_filenames") if k in meta]
        for other in held:
            both = sorted(str(p) for p in train & _listed(meta, other, root, name, frames))
            if both:
                raise InputError(f"{name}: {len(both)} frame(s) are in both train_filenames and {other} "
                                 f"(e.g. {both[0]}); held-out views must not be trained on")
        chosen = _listed(meta, key, root, name, frames)
        return [f for f in frames if f.image in chosen]
    if len(frames) < 2:
        raise InputError(f"{name} has {len(frames)} frame; the hold-out needs at least 2 (one train, one test)")
    train, test = holdout(len(frames))
    return [frames[k] for k in (train if split == "train" else test)]


def write_scene(out: str | Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], intrinsics: Intrinsics,
                extra: dict[str, Any] | None = None, overwrite: bool = False,
                inputs: Sequence[str | Path] = ()) -> Path:
    """Write splits {name: (rgba uint8 (N, H, W, 4), poses (N, 4, 4))} as one transforms.json with top-level
    fl_x, fl_y, cx, cy, w, h (camera_model PINHOLE), explicit {name}_filenames lists and images
    {name}/r_{k}.png, atomically. `intrinsics` must match every image's size; `extra` keys go in the json.
    An existing `out` is replaced only with `overwrite` and only if aire may (see aire.atomic)."""
    out = Path(out)
    for name, (rgba, _) in splits.items():
        if name not in LIST_KEYS:
            raise InputError(f"unknown split {name!r}: expected train, val or test")
        if rgba.shape[1:3] != (intrinsics.height, intrinsics.width):
            raise InputError(f"split {name}: images are {rgba.shape[2]}x{rgba.shape[1]}, the intrinsics "
                             f"{intrinsics.width}x{intrinsics.height}")
    check_out_dir(out, overwrite, inputs)
    k = intrinsics
    meta: dict[str, Any] = {"camera_model": "PINHOLE", "fl_x": k.fx, "fl_y": k.fy, "cx": k.cx, "cy": k.cy,
                            "w": k.width, "h": k.height, **(extra or {}), "frames": []}
    with atomic_folder(out, kind="scene", overwrite=overwrite, inputs=inputs) as tmp:
        for name, (rgba, poses) in splits.items():
            (tmp / name).mkdir()
            files = []
            for j, (img, pose) in enumerate(zip(rgba, poses)):
                iio.imwrite(tmp / name / f"r_{j}.png", img)
                files.append(f"{name}/r_{j}.png")
                meta["frames"].append({"file_path": files[-1], "transform_matrix": np.asarray(pose).tolist()})
            meta[LIST_KEYS[name]] = files
        (tmp / FILE_NAME).write_text(json.dumps(meta, indent=2))
    return out
