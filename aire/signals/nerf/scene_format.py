"""Read a NeRF scene in whichever dialect it is written: Blender split files or one transforms.json.

`path` is a scene folder or a transforms file:
* a folder holding ``transforms_train.json``: the Blender/NeRF-synthetic dialect (blender_format.py);
* a folder holding ``transforms.json``: the single-file dialect of instant-ngp, nerfstudio and
  colmap2nerf (nerfstudio_format.py), with its documented hold-out of test views;
* a folder holding both is refused (name the file to read); a folder holding neither is refused,
  naming what was looked for;
* a file ``transforms_{train,val,test}.json`` reads its folder as a Blender scene; any other ``.json``
  file is read as the single-file dialect (nerfstudio accepts any name).
Every frame is decoded by blender_format.read_rgba (composited on white); camera keys follow frames.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import numpy as np

from aire.errors import InputError
from aire.signals.nerf import blender_format
from aire.signals.nerf.blender_format import blender_frames, downscale, split_file
from aire.signals.nerf.cameras import Intrinsics
from aire.signals.nerf.frames import FrameSpec
from aire.signals.nerf.nerfstudio_format import FILE_NAME, nerfstudio_frames

DIALECTS = ("blender", "nerfstudio")


@attrs.frozen
class SceneSource:
    """Where a scene's transforms live: dialect, scene folder, and the single file (nerfstudio dialect)."""

    dialect: str
    root: Path
    single: Path | None = None

    def json_for(self, split: str) -> Path:
        """The transforms file that describes `split`."""
        return self.single if self.single is not None else split_file(self.root, split)


def find_scene(path: str | Path) -> SceneSource:
    """The dialect and files of the scene at `path` (folder or transforms file; module docstring)."""
    path = Path(path)
    if path.is_file():
        if re.fullmatch(r"transforms_(train|val|test)\.json", path.name):
            return SceneSource("blender", path.parent)
        if path.suffix.lower() != ".json":
            raise InputError(f"{path} is not a scene folder or a transforms .json file")
        return SceneSource("nerfstudio", path.parent, path)
    if not path.is_dir():
        raise InputError(f"scene folder not found: {path}")
    blender, single = split_file(path, "train").exists(), (path / FILE_NAME).exists()
    if blender and single:
        raise InputError(f"{path} holds both transforms_train.json (Blender) and {FILE_NAME} (instant-ngp, "
                         f"nerfstudio): give the file to read, e.g. {path / FILE_NAME}")
    if blender:
        return SceneSource("blender", path)
    if single:
        return SceneSource("nerfstudio", path, path / FILE_NAME)
    raise InputError(f"no NeRF scene in {path}: looked for transforms_train.json (Blender/NeRF-synthetic) and "
                     f"{FILE_NAME} (instant-ngp, nerfstudio, colmap2nerf)")


@attrs.define
class Split:
    """One split of a scene: images (N, H, W, 3) in [0, 1] on white, poses (N, 4, 4) camera-to-world
    (OpenGL convention), one Intrinsics per frame (each for H x W), the frames' file_path as written."""

    images: np.ndarray
    poses: np.ndarray
    intrinsics: list[Intrinsics]
    files: list[str]

    @property
    def height(self) -> int:
        return int(self.images.shape[1])

    @property
    def width(self) -> int:
        return int(self.images.shape[2])


def load_frames(frames: list[FrameSpec], size: int | None = None) -> Split:
    """Decode frames (read_rgba), check their sizes against each other and the declared w/h, and with
    `size` downscale each so the longer side has at most `size` pixels, intrinsics scaled alike."""
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 2):
        raise InputError(f"size must be an integer of at least 2 pixels, got {size!r}")
    images, intrinsics, first = [], [], None
    for frame in frames:
        img = blender_format.read_rgba(frame.image)  # the one decoder of every frame, in every dialect
        h, w = img.shape[:2]
        if first is None:
            first = (frame, w, h)
        elif (w, h) != first[1:]:
            raise InputError(f"frames differ in size: {first[0].where} is {first[1]}x{first[2]}, {frame.where} is "
                             f"{w}x{h}; aire needs one image size per split")
        k = frame.intrinsics(w, h)
        if size is not None:
            img = downscale(img[None], size)[0]
            if img.shape[:2] != (h, w):
                k = k.resized(img.shape[1], img.shape[0])
        images.append(img)
        intrinsics.append(k)
    return Split(images=np.stack(images), poses=np.stack([f.pose for f in frames]), intrinsics=intrinsics,
                 files=[f.file_path for f in frames])


def split_frames(path: str | Path, split: str) -> list[FrameSpec]:
    """The checked frames of one split of the scene at `path`, before decoding."""
    source = find_scene(path)
    if source.dialect == "blender":
        return blender_frames(source.root, split)
    return nerfstudio_frames(source.single, split)


def read_split(path: str | Path, split: str, size: int | None = None) -> Split:
    """Read one split ('train', 'val' or 'test') of the scene at `path` in either dialect; with `size`,
    downscale so the longer side is at most `size` pixels. InputError, one line, for anything invalid."""
    return load_frames(split_frames(path, split), size)
