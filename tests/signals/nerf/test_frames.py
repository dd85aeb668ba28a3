"""NeRF frames go through aire.images: palette transparency, grey and 16-bit frames read as a viewer shows them."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from aire.errors import InputError
from aire.signals.nerf.blender_format import read_rgba


def test_palette_frame_with_a_transparent_half_is_white_there(tmp_path):
    im = Image.new("P", (8, 4))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0 if x < 4 else 1 for y in range(4) for x in range(8)])
    im.save(tmp_path / "r_0.png", transparency=0)  # index 0 (red) is fully transparent
    frame = read_rgba(tmp_path / "r_0.png")
    assert frame.shape == (4, 8, 3)
    assert np.allclose(frame[:, :4], 1.0) and np.allclose(frame[:, 4:], [0, 0, 1])


def test_grey_and_sixteen_bit_frames(tmp_path):
    Image.fromarray(np.full((3, 3), 51, np.uint8)).save(tmp_path / "grey.png")
    assert np.allclose(read_rgba(tmp_path / "grey.png"), 0.2) and read_rgba(tmp_path / "grey.png").shape == (3, 3, 3)
    rgba = np.zeros((3, 3, 4), np.uint16)
    rgba[..., 0], rgba[..., 3] = 1000, 65535
    tifffile.imwrite(tmp_path / "deep.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    assert read_rgba(tmp_path / "deep.tif")[1, 1, 0] == 1000 / 65535


def test_frame_values_outside_the_unit_range_are_refused(tmp_path):
    np.save(tmp_path / "hot.npy", np.full((3, 3, 3), 2.0))
    with pytest.raises(InputError, match=r"cannot read frame .*hot.npy: values in \[2, 2\] leave \[0, 1\]"):
        read_rgba(tmp_path / "hot.npy")
