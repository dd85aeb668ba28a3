"""PSNR and SSIM: their conventions, checked against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from aire.metrics import psnr, ssim


def test_psnr_of_a_constant_error_and_clamping():
    target = torch.full((4, 5, 3), 0.5, dtype=torch.float64)  # float64: 0.6 - 0.5 is 0.1 to 1e-16
    assert psnr(target + 0.1, target) == pytest.approx(-10 * math.log10(0.01), rel=1e-9)
    assert psnr(target, target) == float("inf")
    # a prediction above 1 is shown as 1: its error is measured from there
    assert psnr(torch.full((2, 2), 3.0, dtype=torch.float64), torch.full((2, 2), 0.9, dtype=torch.float64)) == \
        pytest.approx(-10 * math.log10(0.01), rel=1e-9)


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = 0.3, 0.6
    c1 = 0.01 ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # zero variance: the structure terms are 1
    got = ssim(torch.full((2, 16, 16, 3), a), torch.full((2, 16, 16, 3), b))
    assert got == pytest.approx(expected, rel=1e-9)
    noise = torch.rand(16, 16, 3, generator=torch.Generator().manual_seed(0))
    assert ssim(noise, noise) == pytest.approx(1.0, abs=1e-12)
    assert ssim(noise, 1 - noise) < 0


def test_ssim_refuses_tiny_or_mismatched_images():
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.zeros(10, 12, 3), torch.zeros(10, 12, 3))
    with pytest.raises(ValueError, match="one shape"):
        ssim(torch.zeros(12, 12, 3), torch.zeros(12, 13, 3))


def test_ms_ssim_of_constant_images_is_the_coarsest_luminance_term_to_its_weight():
    """Constant images have no contrast or structure (those terms are 1 at every scale), so MS-SSIM is the
    luminance term (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) to the coarsest scale's weight 0.1333."""
    from aire.metrics.image import ms_ssim

    x, y = torch.full((192, 200, 3), 0.5), torch.full((192, 200, 3), 0.6)
    c1 = 0.01 ** 2
    luminance = (2 * 0.5 * 0.6 + c1) / (0.5 ** 2 + 0.6 ** 2 + c1)
    assert ms_ssim(x, y) == pytest.approx(luminance ** 0.1333, rel=1e-6)
    image = torch.rand(176, 180, 3, generator=torch.Generator().manual_seed(0))
    assert ms_ssim(image, image) == pytest.approx(1.0, abs=1e-9)


def test_ms_ssim_below_176_pixels_is_none_and_mismatched_shapes_are_refused():
    from aire.metrics.image import MS_SSIM_MIN_SIDE, ms_ssim

    assert MS_SSIM_MIN_SIDE == 176
    assert ms_ssim(torch.rand(175, 300, 3), torch.rand(175, 300, 3)) is None
    with pytest.raises(ValueError, match="one shape"):
        ms_ssim(torch.rand(200, 200, 3), torch.rand(200, 201, 3))


def test_image_final_metrics_have_ssim_and_ms_ssim_or_none_when_too_small():
    from aire.metrics.image import ssim
    from aire.signals.image import ImageSignal, synthetic_image

    class Exact(torch.nn.Module):
        """Returns the image's own values at its pixel grid (a perfect fit)."""

        def __init__(self, signal):
            super().__init__()
            self.values = signal.values

        def forward(self, x):
            return self.values[: x.shape[0]]

    big = ImageSignal(image=synthetic_image(180))
    metrics = big.final_metrics(Exact(big))
    assert metrics["ssim"] == pytest.approx(1.0, abs=1e-6) and metrics["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    small = ImageSignal(image=synthetic_image(8))
    assert small.final_metrics(Exact(small)) == {"ssim": None, "ms_ssim": None}
    mid = ImageSignal(image=synthetic_image(32))
    noisy = torch.nn.Module()
    noisy.forward = lambda x: mid.values[: x.shape[0]] * 0.8
    got = mid.final_metrics(noisy)
    expected = ssim(torch.as_tensor(mid.preview(noisy)), torch.as_tensor(mid.image, dtype=torch.float32))
    assert got["ssim"] == pytest.approx(expected) and got["ssim"] < 0.999 and got["ms_ssim"] is None
