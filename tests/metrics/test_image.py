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


def test_ssim_equals_torchmetrics_ssim_map_over_the_window_interior():
    """An independent implementation of Wang et al. 2004: torchmetrics' SSIM map (Gaussian window, sigma 1.5,
    K1 0.01, K2 0.03) averaged over the pixels whose 11-pixel window lies inside the image (scikit-image's
    convention: the 5-pixel border is cropped; torchmetrics' own scalar also averages its reflection-padded
    border, which differs by about 1e-3 at 64 pixels) equals ours, per image and over a batch."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 40, 48, 3, generator=g, dtype=torch.float64)
    prediction = (target + 0.1 * torch.randn(2, 40, 48, 3, generator=g, dtype=torch.float64)).clamp(0, 1)
    _, full = structural_similarity_index_measure(prediction.permute(0, 3, 1, 2), target.permute(0, 3, 1, 2),
                                                  gaussian_kernel=True, sigma=1.5, data_range=1.0, k1=0.01,
                                                  k2=0.03, return_full_image=True)
    interior = full[..., 5:-5, 5:-5]  # (N, C, H - 10, W - 10)
    assert ssim(prediction, target) == pytest.approx(interior.mean().item(), abs=1e-12)
    assert ssim(prediction[1], target[1]) == pytest.approx(interior[1].mean().item(), abs=1e-12)
    assert 0.9 < ssim(prediction, target) < 0.99  # noise of 0.1: clearly below 1, not a degenerate value


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


def test_image_final_metrics_have_ssim_and_ms_ssim_on_the_scales_the_image_holds():
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
    assert metrics["ms_ssim_scales"] == 5  # 180 pixels: the standard MS-SSIM
    small = ImageSignal(image=synthetic_image(8))
    assert small.final_metrics(Exact(small)) == {"ssim": None, "ms_ssim": None, "ms_ssim_scales": 0}
    mid = ImageSignal(image=synthetic_image(32))
    noisy = torch.nn.Module()
    noisy.forward = lambda x: mid.values[: x.shape[0]] * 0.8
    got = mid.final_metrics(noisy)
    expected = ssim(torch.as_tensor(mid.preview(noisy)), torch.as_tensor(mid.image, dtype=torch.float32))
    assert got["ssim"] == pytest.approx(expected) and got["ssim"] < 0.999
    assert got["ms_ssim_scales"] == 2 and 0 < got["ms_ssim"] < 1  # 32 pixels: its two finest scales


def test_ms_ssim_scales_need_the_window_at_the_coarsest_scale_and_torchmetrics_check():
    from aire.metrics.image import ms_ssim_scales

    # 5 scales from 176 (176 // 16 = 11), 4 from 99 (torchmetrics: 99 // 9 > 10), 3 from 44, 2 from 22
    sides = {10: 0, 21: 0, 22: 2, 43: 2, 44: 3, 98: 3, 99: 4, 175: 4, 176: 5, 800: 5}
    assert {side: ms_ssim_scales(side, 1000) for side in sides} == sides
    assert ms_ssim_scales(1000, 64) == ms_ssim_scales(64, 1000) == 3  # the short side decides


@pytest.mark.parametrize("scales", [2, 3, 4])
def test_ms_ssim_on_fewer_scales_rescales_the_first_weights_to_sum_one(scales):
    """Constant images: MS-SSIM is the luminance term to the coarsest kept scale's weight, rescaled by the
    sum of the kept weights (0.0448, 0.2856, 0.3001, 0.2363 of Wang et al.)."""
    from aire.metrics.image import MS_SSIM_WEIGHTS, ms_ssim

    side = {2: 22, 3: 44, 4: 99}[scales]
    x, y = torch.full((side, side + 7, 3), 0.5), torch.full((side, side + 7, 3), 0.6)
    c1 = 0.01 ** 2
    luminance = (2 * 0.5 * 0.6 + c1) / (0.5 ** 2 + 0.6 ** 2 + c1)
    weight = MS_SSIM_WEIGHTS[scales - 1] / sum(MS_SSIM_WEIGHTS[:scales])
    assert ms_ssim(x, y, scales=scales) == pytest.approx(luminance ** weight, rel=1e-6)
    assert ms_ssim(x[1:], y[1:], scales=scales) is None  # one pixel short of `scales` scales


def test_ms_ssim_is_the_weighted_product_of_the_scales_contrast_and_the_coarsest_ssim():
    """MS-SSIM on 3 scales of a textured image and a noisy copy, composed by hand from torchmetrics' SSIM and
    contrast-structure term at each 2x2-averaged scale; 1 for identical images; falls as the noise grows."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    from aire.metrics.image import MS_SSIM_WEIGHTS, ms_ssim
    from aire.signals.image import synthetic_image

    image = torch.as_tensor(synthetic_image(60))
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noisy = (image + 0.05 * noise).clamp(0, 1)
    weights = [w / sum(MS_SSIM_WEIGHTS[:3]) for w in MS_SSIM_WEIGHTS[:3]]
    x, y, expected = noisy.permute(2, 0, 1)[None], image.permute(2, 0, 1)[None], 1.0
    for scale, weight in enumerate(weights):
        sim, cs = structural_similarity_index_measure(x, y, data_range=1.0, kernel_size=11, sigma=1.5,
                                                      return_contrast_sensitivity=True)
        expected *= float(sim if scale == 2 else cs) ** weight
        x, y = torch.nn.functional.avg_pool2d(x, 2), torch.nn.functional.avg_pool2d(y, 2)
    assert ms_ssim(noisy, image, scales=3) == pytest.approx(expected, rel=1e-9)
    assert ms_ssim(image, image, scales=3) == pytest.approx(1.0, abs=1e-12)
    values = [ms_ssim((image + a * noise).clamp(0, 1), image, scales=3) for a in (0.01, 0.05, 0.2)]
    assert 1 > values[0] > values[1] > values[2] > 0


def test_ms_ssim_scales_outside_two_to_five_are_refused():
    from aire.metrics.image import ms_ssim

    for scales in (1, 6, 2.0, True):
        with pytest.raises(ValueError, match="scales"):
            ms_ssim(torch.rand(200, 200, 3), torch.rand(200, 200, 3), scales=scales)
