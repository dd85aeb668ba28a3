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


# ------------------------------------------------------------- files as their owner sees them (aire.images)
def _cmyk_jpeg(path, left=(0, 128, 255, 51), right=(255, 0, 0, 0)):
    """16x16 CMYK JPEG: left half RGB (0.8, 0.4, 0.0), right half RGB (0, 1, 1) by R = (1 - C)(1 - K)."""
    from PIL import Image

    ink = np.zeros((16, 16, 4), np.uint8)
    ink[:, :8], ink[:, 8:] = left, right
    Image.fromarray(ink, "CMYK").save(path, quality=95)
    return path


CMYK_RGB = np.concatenate([np.broadcast_to([0.8, 0.4, 0.0], (16, 8, 3)), np.broadcast_to([0.0, 1.0, 1.0], (16, 8, 3))],
                          axis=1)


def test_cmyk_jpeg_is_fitted_as_its_rgb_without_an_alpha_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sig = ImageSignal(_cmyk_jpeg(tmp_path / "cmyk.jpg"))
    assert sig.out_features == 3
    assert np.allclose(((sig.values.numpy() + 1) / 2).reshape(16, 16, 3), CMYK_RGB, atol=0.03)
    assert sig.describe()["decode"]["mode"] == "CMYK"


def test_alpha_is_composited_with_a_warning_only_when_some_pixel_is_not_opaque(tmp_path):
    import warnings

    from PIL import Image

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255
    iio.imwrite(tmp_path / "opaque.png", rgba)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.allclose(read_image(tmp_path / "opaque.png"), [1, 0, 0])
    pal = Image.new("P", (8, 2))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putdata([0] * 2 + [1] * 6 + [0] * 2 + [1] * 6)  # a quarter transparent red, the rest opaque blue
    pal.save(tmp_path / "pal.png", transparency=0)
    with pytest.warns(UserWarning, match=r"pal.png: 25 % of the pixels are transparent or translucent"):
        img = read_image(tmp_path / "pal.png")
    assert np.allclose(img[:, :2], 1.0) and np.allclose(img[:, 2:], [0, 0, 1])


def test_float_range_map_is_recorded_so_the_fit_maps_back(tmp_path):
    import tifffile

    values = np.linspace(0, 4, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    tifffile.imwrite(tmp_path / "hdr.tif", values, photometric="rgb")
    sig = ImageSignal(tmp_path / "hdr.tif")
    decode = sig.describe()["decode"]
    assert decode["value_range"] == "affine" and (decode["value_offset"], decode["value_scale"]) == (0.0, 4.0)
    fitted = (sig.values.numpy().astype(np.float64) + 1) / 2  # what a perfect fit reproduces, on [0, 1]
    back = decode["value_offset"] + decode["value_scale"] * fitted
    assert np.allclose(back.reshape(4, 5, 3), values, atol=1e-5)  # 4.0 comes back as 4.0, not clipped to 1


def test_orientation_setting(tmp_path):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 8  # shown turned 90 degrees counter-clockwise
    img = np.zeros((4, 6), np.uint8)
    img[0, 0] = 255
    Image.fromarray(img).save(tmp_path / "o.png", exif=exif.tobytes())
    applied, ignored = ImageSignal(tmp_path / "o.png"), ImageSignal(tmp_path / "o.png", orientation="ignore")
    assert (applied.height, applied.width) == (6, 4) and applied.image[5, 0, 0] == 1.0
    assert (ignored.height, ignored.width) == (4, 6) and ignored.image[0, 0, 0] == 1.0
    assert ignored.describe()["decode"]["orientation_applied"] is False
    with pytest.raises(InputError, match="orientation must be 'apply' or 'ignore'"):
        ImageSignal(tmp_path / "o.png", orientation="flip")


def test_cli_fits_the_rgb_of_a_cmyk_jpeg(tmp_path, capsys):
    import json

    from aire.cli import main

    path, out = _cmyk_jpeg(tmp_path / "cmyk.jpg"), tmp_path / "run"
    code = main(["fit", "image", str(path), "--out", str(out), "--hidden", "16", "16", "--steps", "100",
                 "--lr", "2e-3", "--lr-final", "2e-3", "--schedule", "none", "--eval-every", "100", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "alpha" not in capsys.readouterr().err  # no misleading "alpha composited" warning
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["signal"]["decode"]["mode"] == "CMYK"
    recon = iio.imread(out / "reconstruction.png").astype(np.float64) / 255
    fitted_psnr = -10 * np.log10(np.mean((recon - CMYK_RGB) ** 2))
    assert fitted_psnr > 25, fitted_psnr
    print(fitted_psnr)  # the RGB the viewer shows (pure white would be ~3 dB)


def test_cli_orientation_ignore_setting(tmp_path, capsys):
    import json

    from PIL import Image

    from aire.cli import main

    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "o.jpg", exif=exif.tobytes())
    code = main(["fit", "image", str(tmp_path / "o.jpg"), "--out", str(tmp_path / "run"), "--set", "orientation=ignore",
                 "--hidden", "8", "--steps", "2", "--eval-every", "2", "--quiet"])
    assert code == 0, capsys.readouterr().err
    signal = json.loads((tmp_path / "run" / "metrics.json").read_text())["signal"]
    assert (signal["height"], signal["width"]) == (4, 6) and signal["decode"]["orientation"] == 6


def test_lpips_setting_adds_lpips_to_the_final_metrics_and_is_refused_before_the_fit(tmp_path, monkeypatch, capsys):
    """`--set lpips=true`: metrics.json gets `lpips`, the value of aire.metrics.lpips on the reconstruction (a
    seeded random AlexNet stands in for the ImageNet weights, which are not on this machine). Without the
    weights, or on an image under 31 pixels, the fit is refused in one line and writes nothing."""
    import json

    import aire
    from aire.cli import main
    from aire.metrics import lpips as lpips_module
    from tests.metrics.test_lpips import write_alexnet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    lpips_module._model.cache_clear()
    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(40) * 255).round().astype(np.uint8))
    fit = ["fit", "image", str(image), "--hidden", "12", "12", "--steps", "20", "--eval-every", "10",
           "--schedule", "none", "--set", "lpips=true", "--quiet"]
    assert main([*fit, "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("aire: error: LPIPS needs AlexNet's ImageNet weights")
    assert "alexnet-owt-7be5be79.pth is missing" in err[0] and not (tmp_path / "refused").exists()
    write_alexnet(tmp_path / "torch")
    small = tmp_path / "small.png"
    iio.imwrite(small, (synthetic_image(30) * 255).round().astype(np.uint8))
    assert main([*fit[:2], str(small), *fit[3:], "--out", str(tmp_path / "small")]) == 2
    assert "lpips needs the fitted image to be at least 31x31 pixels, got 30x30" in capsys.readouterr().err
    assert main([*fit, "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    signal = ImageSignal(image, lpips=True)
    expected = lpips_module.lpips(torch.as_tensor(signal.preview(aire.load(tmp_path / "run"))),
                                  torch.as_tensor(signal.image))
    assert metrics["lpips"] == pytest.approx(expected, rel=1e-5) and metrics["lpips"] > 0
    assert "lpips" not in ImageSignal(image).final_metrics(aire.load(tmp_path / "run"))  # only when asked
    with pytest.raises(InputError, match="lpips must be true or false"):
        ImageSignal(image, lpips="yes")


@pytest.mark.parametrize("side, scales", [(64, 3), (20, 0)])
def test_final_ms_ssim_is_measured_on_the_scales_the_image_holds_and_says_how_many(side, scales):
    import aire
    from aire.metrics.image import ms_ssim

    signal = ImageSignal(image=synthetic_image(side))
    model = aire.build_network(signal, [16, 16], seed=0)
    m = signal.final_metrics(model)
    assert m["ms_ssim_scales"] == scales
    if scales:
        prediction = torch.as_tensor(signal.preview(model))
        target = torch.as_tensor(signal.image, dtype=prediction.dtype).reshape(prediction.shape)
        assert m["ms_ssim"] == pytest.approx(ms_ssim(prediction, target, scales=scales), rel=1e-12)
        assert 0 < m["ms_ssim"] < 0.99  # an untrained network is far from the image
    else:
        assert m["ms_ssim"] is None
