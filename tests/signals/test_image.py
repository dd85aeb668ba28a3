"""Image signal: the coordinate/value contract, formats imageio reads, and clear errors for bad files."""

from __future__ import annotations

import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from aire.errors import InputError
from aire.signals.image import ImageSignal, pixel_grid, read_image, resize, synthetic_image
from aire.testing import check_signal


def test_pixel_coordinates_follow_the_contract():
    h, w = 4, 7
    grid = pixel_grid(h, w).reshape(h, w, 2)
    for i in range(h):
        for j in range(w):
            expected = (-1 + 2 * i / (h - 1), -1 + 2 * j / (w - 1))
            assert torch.allclose(grid[i, j], torch.tensor(expected), atol=1e-6)


def test_values_are_fitted_as_2v_minus_1(tmp_path):
    img = np.zeros((3, 5, 3), dtype=np.uint8)
    img[1, 2] = [255, 0, 51]
    path = tmp_path / "x.png"
    iio.imwrite(path, img)
    sig = ImageSignal(path)
    values = sig.values.reshape(3, 5, 3)
    assert torch.allclose(values[1, 2], torch.tensor([1.0, -1.0, 2 * 51 / 255 - 1]))
    assert torch.equal(values[0, 0], torch.tensor([-1.0, -1.0, -1.0]))
    assert sig.in_features == 2 and sig.out_features == 3


def test_sixteen_bit_grey_and_rgba(tmp_path):
    grey16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    iio.imwrite(tmp_path / "g.png", grey16)
    img = read_image(tmp_path / "g.png")
    assert img.shape == (3, 4, 1) and math.isclose(img[2, 3, 0], 55000 / 65535)
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = [[0, 255, 255, 255]] * 4  # first column transparent -> white
    iio.imwrite(tmp_path / "a.png", rgba)
    with pytest.warns(UserWarning, match="alpha"):
        flat = read_image(tmp_path / "a.png")
    assert flat.shape == (4, 4, 3)
    assert np.allclose(flat[0, 0], [1, 1, 1]) and np.allclose(flat[0, 1], [1, 0, 0])


def test_psnr_on_the_unit_scale():
    signal = ImageSignal(image=np.zeros((10, 10, 3)))  # fitted as -1 everywhere
    offset = _Constant(-1.0 + 0.2)  # 0.2 on the [-1, 1] scale is an error of 0.1 on [0, 1]
    assert math.isclose(signal.evaluate(offset)["psnr"], 20.0, rel_tol=1e-5)
    assert signal.evaluate(_Constant(-1.0))["psnr"] == math.inf
    assert signal.evaluate(_Constant(-5.0))["psnr"] == math.inf, "a prediction below the range is clamped"


class _Constant(torch.nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 3), self.value)


def test_minibatch_and_full_batch():
    sig = ImageSignal(image=synthetic_image(8))
    x, y = sig.sample(None)
    assert x.shape == (64, 2) and y.shape == (64, 3)
    xb, yb = sig.sample(10, torch.Generator().manual_seed(0))
    assert xb.shape == (10, 2) and yb.shape == (10, 3)
    rows = ((xb[:, 0] + 1) / 2 * 7).round().long() * 8 + ((xb[:, 1] + 1) / 2 * 7).round().long()
    assert torch.equal(sig.values[rows], yb)  # a mini-batch pairs each coordinate with its own pixel


def test_resize_keeps_aspect_and_range():
    out = resize(synthetic_image(32), 16)
    assert out.shape == (16, 16, 3) and out.min() >= 0 and out.max() <= 1


def test_image_signal_honours_the_signal_contract():
    check_signal(ImageSignal(image=synthetic_image(12)))


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"this is not an image at all", "cannot read image"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "cannot read image"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_image(path)


def test_empty_and_nan_images(tmp_path):
    iio.imwrite(tmp_path / "one.png", np.zeros((1, 1, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="empty or too small"):
        read_image(tmp_path / "one.png")
    nan = np.full((4, 4), np.nan, dtype=np.float32)
    iio.imwrite(tmp_path / "nan.tiff", nan)
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "nan.tiff")
