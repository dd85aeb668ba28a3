"""Dialect detection, decoding every frame through read_rgba, sizes, and downscaling with intrinsics."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest

from aire.errors import InputError
from aire.signals.nerf import blender_format
from aire.signals.nerf.cameras import Intrinsics
from aire.signals.nerf.scene_format import find_scene, read_split

EYE = np.eye(4).tolist()


def scene(folder, name="transforms.json", frames=(("a.png", (6, 8)), ("b.png", (6, 8))), **top):
    folder.mkdir(exist_ok=True)
    for file, size in frames:
        iio.imwrite(folder / file, np.full((*size, 3), 200, np.uint8))
    focal = {} if "camera_angle_x" in top else {"fl_x": 5.0}
    meta = {**focal, **top, "frames": [{"file_path": f, "transform_matrix": EYE} for f, _ in frames]}
    (folder / name).write_text(json.dumps(meta))
    return folder


def test_the_dialect_comes_from_the_files_present_or_the_file_given(tmp_path):
    blender = scene(tmp_path / "b", "transforms_train.json")
    single = scene(tmp_path / "n")
    assert find_scene(blender).dialect == "blender" and find_scene(single).dialect == "nerfstudio"
    assert find_scene(blender / "transforms_train.json").root == blender
    custom = single / "transforms_colmap.json"
    custom.write_text((single / "transforms.json").read_text())
    assert find_scene(custom).single == custom and find_scene(custom).dialect == "nerfstudio"
    assert len(read_split(custom, "train").files) == 1  # read from the file named, hold-out applied


def test_folders_with_neither_or_both_dialects_and_other_files_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no NeRF scene in .*empty: looked for transforms_train.json "
                                         r"\(Blender/NeRF-synthetic\) and transforms.json"):
        read_split(tmp_path / "empty", "train")
    both = scene(scene(tmp_path / "both", "transforms_train.json"))
    with pytest.raises(InputError, match="holds both transforms_train.json .* give the file to read"):
        read_split(both, "train")
    assert read_split(both / "transforms.json", "train").files == ["b.png"]  # naming the file settles it
    assert read_split(both / "transforms_train.json", "train").files == ["a.png", "b.png"]
    with pytest.raises(InputError, match="is not a scene folder or a transforms .json file"):
        read_split(both / "a.png", "train")
    with pytest.raises(InputError, match="scene folder not found"):
        read_split(tmp_path / "nope", "train")
    blender = scene(tmp_path / "b", "transforms_train.json")
    with pytest.raises(InputError, match="is a Blender-format scene but transforms_test.json is missing"):
        read_split(blender, "test")


@pytest.mark.parametrize("name", ["transforms.json", "transforms_train.json"])
def test_every_frame_of_either_dialect_is_decoded_by_read_rgba(tmp_path, monkeypatch, name):
    calls = []
    original = blender_format.read_rgba

    def spy(path):
        calls.append(path.name)
        return original(path)

    monkeypatch.setattr(blender_format, "read_rgba", spy)
    folder = scene(tmp_path / "s", name, frames=(("a.png", (6, 8)), ("b.png", (6, 8)), ("c.png", (6, 8))))
    split = read_split(folder, "train")
    assert calls == split.files == (["b.png", "c.png"] if name == "transforms.json" else ["a.png", "b.png", "c.png"])
    assert np.allclose(split.images, 200 / 255)


def test_frames_of_different_sizes_and_sizes_other_than_declared_are_refused(tmp_path):
    folder = scene(tmp_path / "s", "transforms_train.json", frames=(("a.png", (6, 8)), ("b.png", (6, 9))))
    with pytest.raises(InputError, match=r"frames differ in size: .*\(a.png\) is 8x6, .*\(b.png\) is 9x6") as err:
        read_split(folder, "train")
    assert "\n" not in str(err.value)
    folder = scene(tmp_path / "t", w=16, h=12)
    with pytest.raises(InputError, match=r"frame 1 \(b.png\): the image is 8x6 pixels but the json declares "
                                         r"w = 16, h = 12"):
        read_split(folder, "train")


def test_downscaling_scales_anisotropic_off_centre_intrinsics_per_axis(tmp_path):
    folder = scene(tmp_path / "s", fl_x=10.0, fl_y=12.0, cx=3.0, cy=2.5, w=8, h=6)
    full, small = read_split(folder, "train"), read_split(folder, "train", size=4)
    assert full.intrinsics == [Intrinsics(10.0, 12.0, 3.0, 2.5, 8, 6)]
    assert small.images.shape == (1, 3, 4, 3) and small.intrinsics == [Intrinsics(5.0, 6.0, 1.5, 1.25, 4, 3)]
    assert np.allclose(small.images, 200 / 255, atol=1e-6)
    with pytest.raises(InputError, match="size must be an integer of at least 2"):
        read_split(folder, "train", size=1)


def test_a_centred_blender_camera_keeps_the_image_centre_after_downscaling(tmp_path):
    folder = scene(tmp_path / "s", "transforms_train.json", frames=(("a.png", (30, 40)),), camera_angle_x=0.7)
    k = read_split(folder, "train", size=20).intrinsics[0]  # 40x30 -> 20x15: every length halves
    assert (k.width, k.height, k.cx, k.cy) == (20, 15, 10.0, 7.5)
    assert math.isclose(k.fx, 10.0 / math.tan(0.35)) and math.isclose(k.fy, k.fx)
