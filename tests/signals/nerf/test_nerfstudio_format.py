"""The single transforms.json dialect: intrinsics at either level, the hold-out rule, split lists, the writer."""

from __future__ import annotations

import json
import random

import imageio.v3 as iio
import numpy as np
import pytest

from aire.errors import InputError
from aire.signals.nerf.cameras import Intrinsics, look_at, sphere_positions
from aire.signals.nerf.nerfstudio_format import holdout, nerfstudio_frames, write_scene
from aire.signals.nerf.scene_format import read_split


def pose(k: int) -> list:
    return look_at(sphere_positions(40, 3.0)[k]).tolist()


def write(folder, meta, names, size=(6, 8), ext=".png"):
    """A transforms.json in `folder` whose frame k is image names[k] (grey level 10 k) with pose k."""
    folder.mkdir(exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    frames = []
    for k, name in enumerate(names):
        iio.imwrite(folder / "images" / f"{name}{ext}", np.full((*size, 3), 10 * k, np.uint8))
        frames.append({"file_path": f"images/{name}{ext}", "transform_matrix": pose(k), **meta.pop(name, {})})
    (folder / "transforms.json").write_text(json.dumps({**meta, "frames": frames}))
    return folder


def test_holdout_positions_are_every_eighth_from_the_first():
    assert holdout(17) == ([k for k in range(17) if k not in (0, 8, 16)], [0, 8, 16])
    assert holdout(2) == ([1], [0]) and holdout(8)[1] == [0] and holdout(9)[1] == [0, 8]


def test_without_lists_every_eighth_frame_in_path_order_is_a_test_view(tmp_path):
    names = [f"frame_{k}" for k in range(1, 18)]  # unpadded: path order is frame_1, frame_10, ..., frame_17, frame_2..
    random.Random(0).shuffle(names)  # and the file lists them in another order still
    scene = write(tmp_path / "s", {"fl_x": 5.0}, names)
    in_order = sorted(f"images/{n}.png" for n in names)
    test, train = read_split(scene, "test"), read_split(scene, "train")
    assert test.files == [in_order[0], in_order[8], in_order[16]] == [
        "images/frame_1.png", "images/frame_17.png", "images/frame_9.png"]
    assert train.files == [f for k, f in enumerate(in_order) if k % 8] and len(train.files) == 14
    assert read_split(scene, "val").files == test.files
    # each view keeps its own image and pose
    k = names.index("frame_17")
    assert np.allclose(test.images[1], 10 * k / 255) and np.allclose(test.poses[1], pose(k))


def test_explicit_split_lists_choose_the_views(tmp_path):
    names = [f"f{k:02d}" for k in range(6)]
    meta = {"fl_x": 5.0, "train_filenames": ["images/f00.png", "images/f02.png", "./images/f03.png"],
            "val_filenames": ["images/f04"], "test_filenames": ["images/f01.png"]}
    scene = write(tmp_path / "s", meta, names)
    assert read_split(scene, "train").files == ["images/f00.png", "images/f02.png", "images/f03.png"]
    assert read_split(scene, "val").files == ["images/f04.png"]
    assert read_split(scene, "test").files == ["images/f01.png"]  # f05 is in no list: unused
    data = json.loads((scene / "transforms.json").read_text())
    del data["test_filenames"]
    (scene / "transforms.json").write_text(json.dumps(data))
    assert read_split(scene, "test").files == ["images/f04.png"]  # nerfstudio's eval views: val stands in


@pytest.mark.parametrize("lists, split, message", [
    ({"train_filenames": ["images/a.png", "images/b.png"], "test_filenames": ["images/b.png"]}, "train",
     "1 frame\\(s\\) are in both train_filenames and test_filenames"),
    ({"train_filenames": ["images/a.png"], "test_filenames": ["images/zz.png"]}, "test",
     "test_filenames names 'images/zz.png', which no frame"),
    ({"test_filenames": ["images/a.png"]}, "test", "gives split lists but no train_filenames"),
    ({"train_filenames": ["images/a.png"]}, "test", "neither val_filenames nor test_filenames"),
    ({"train_filenames": [], "test_filenames": ["images/b.png"]}, "train", "train_filenames must be a non-empty list"),
])
def test_bad_split_lists_are_refused_in_one_line(tmp_path, lists, split, message):
    scene = write(tmp_path / "s", {"fl_x": 5.0, **lists}, ["a", "b", "c"])
    with pytest.raises(InputError, match=message) as err:
        nerfstudio_frames(scene / "transforms.json", split)
    assert "\n" not in str(err.value)


def test_a_single_frame_without_lists_is_refused(tmp_path):
    scene = write(tmp_path / "s", {"fl_x": 5.0}, ["a"])
    with pytest.raises(InputError, match="has 1 frame; the hold-out needs at least 2"):
        read_split(scene, "train")


def test_top_level_intrinsics_as_nerfstudio_writes_them(tmp_path):
    meta = {"camera_model": "OPENCV", "fl_x": 9.0, "fl_y": 7.5, "cx": 3.25, "cy": 2.0, "w": 8, "h": 6,
            "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "aabb_scale": 16}
    scene = write(tmp_path / "s", meta, [f"frame_{k:05d}" for k in range(1, 10)], ext=".jpg")
    train = read_split(scene, "train")  # 9 frames: positions 0 and 8 are held out
    assert train.images.shape == (7, 6, 8, 3)
    assert train.intrinsics == [Intrinsics(9.0, 7.5, 3.25, 2.0, 8, 6)] * 7
    assert np.allclose(train.poses, [pose(k) for k in range(1, 8)])


def test_per_frame_intrinsics_as_instant_ngp_writes_them(tmp_path):
    meta = {"frame_1": {"fl_x": 6.0, "fl_y": 6.5, "cx": 4.0, "cy": 3.0, "w": 8, "h": 6},
            "frame_2": {"fl_x": 7.0, "fl_y": 7.5, "cx": 3.5, "cy": 2.5, "w": 8, "h": 6},
            "frame_3": {"camera_angle_x": 1.2, "camera_angle_y": 0.9}}
    scene = write(tmp_path / "s", meta, ["frame_1", "frame_2", "frame_3"])
    test, train = read_split(scene, "test"), read_split(scene, "train")
    assert test.intrinsics == [Intrinsics(6.0, 6.5, 4.0, 3.0, 8, 6)]
    angles = train.intrinsics[1]
    assert train.intrinsics[0] == Intrinsics(7.0, 7.5, 3.5, 2.5, 8, 6)
    assert np.isclose(angles.fx, 4.0 / np.tan(0.6)) and np.isclose(angles.fy, 3.0 / np.tan(0.45))


def test_written_scenes_hold_what_nerfstudio_reads(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, size=(3, 6, 8, 4), dtype=np.uint8)
    poses = np.stack([np.asarray(pose(k)) for k in range(3)])
    k = Intrinsics(9.0, 7.0, 3.5, 2.5, 8, 6)
    write_scene(tmp_path / "s", {"train": (rgba[:2], poses[:2]), "test": (rgba[2:], poses[2:])}, k,
                extra={"note": 1})
    meta = json.loads((tmp_path / "s" / "transforms.json").read_text())
    assert {key: meta[key] for key in ("camera_model", "fl_x", "fl_y", "cx", "cy", "w", "h", "note")} == {
        "camera_model": "PINHOLE", "fl_x": 9.0, "fl_y": 7.0, "cx": 3.5, "cy": 2.5, "w": 8, "h": 6, "note": 1}
    assert meta["train_filenames"] == ["train/r_0.png", "train/r_1.png"] and meta["test_filenames"] == ["test/r_0.png"]
    assert "val_filenames" not in meta
    assert [f["file_path"] for f in meta["frames"]] == ["train/r_0.png", "train/r_1.png", "test/r_0.png"]
    assert np.array_equal(iio.imread(tmp_path / "s" / "test" / "r_0.png"), rgba[2])
    s = read_split(tmp_path / "s", "train")
    assert s.intrinsics == [k, k] and np.allclose(s.poses, poses[:2])
    with pytest.raises(InputError, match="images are 8x6, the intrinsics 4x3"):
        write_scene(tmp_path / "t", {"train": (rgba, poses)}, Intrinsics(9.0, 7.0, 2.0, 1.5, 4, 3))
    assert not (tmp_path / "t").exists()
