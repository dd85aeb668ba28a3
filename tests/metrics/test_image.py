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
