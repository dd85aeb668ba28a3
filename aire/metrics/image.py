"""Image quality metrics, one definition each, on colours in [0, 1].

PSNR follows the usual definition 10 log10(1 / MSE) with the prediction clamped to [0, 1] (the range
a viewer shows). SSIM is scikit-image's ``structural_similarity`` with the settings of Wang et al.
2004 (Gaussian window sigma 1.5, K1 0.01, K2 0.03, population covariance), as NeRF papers report it.
MS-SSIM (Wang, Simoncelli and Bovik 2003: five scales, their weights) is torchmetrics'
``multiscale_structural_similarity_index_measure`` with the same window.
"""

from __future__ import annotations

import math

import numpy as np
import torch


#: the side of SSIM's Gaussian window (sigma 1.5, truncated at 3.5 sigma): the smallest image it measures
SSIM_MIN_SIDE = 11


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of colours in [0, 1], any matching shapes; the prediction is clamped to [0, 1].
    Returns inf for identical images."""
    mse = torch.mean((prediction.clamp(0, 1).double() - target.double()) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Mean SSIM of images in [0, 1] of shape (H, W, C) or (N, H, W, C) (the mean over the N images),
    by scikit-image (Wang et al. 2004 settings; the prediction clamped to [0, 1]).

    Raises ValueError when an image side is shorter than 11 pixels (the Gaussian window's size)."""
    from skimage.metrics import structural_similarity

    x = prediction.detach().clamp(0, 1).double().cpu().numpy()
    y = target.detach().double().cpu().numpy()
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ssim needs two (N, H, W, C) or (H, W, C) images of one shape, got {x.shape} and {y.shape}")
    if min(x.shape[1:3]) < SSIM_MIN_SIDE:
        raise ValueError(f"ssim needs images of at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} pixels, "
                         f"got {x.shape[1]}x{x.shape[2]}")
    return float(np.mean([structural_similarity(a, b, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                                sigma=1.5, use_sample_covariance=False) for a, b in zip(x, y)]))


#: the smallest side MS-SSIM measures: torchmetrics halves the image four times and needs side // 16 to
#: exceed the 11-pixel window, i.e. 176 pixels
MS_SSIM_MIN_SIDE = 176


def ms_ssim(prediction: torch.Tensor, target: torch.Tensor) -> float | None:
    """Mean MS-SSIM of images in [0, 1] of shape (H, W, C) or (N, H, W, C), by torchmetrics (five scales,
    Gaussian window 11 / sigma 1.5; the prediction clamped to [0, 1]). None when a side is shorter than
    MS_SSIM_MIN_SIDE pixels (the coarsest scale would be smaller than the window): no number rather than a
    guess. Raises ValueError for mismatched shapes."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    x = prediction.detach().clamp(0, 1).double().cpu()
    y = target.detach().double().cpu()
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ms_ssim needs two (N, H, W, C) or (H, W, C) images of one shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if min(x.shape[1:3]) < MS_SSIM_MIN_SIDE:
        return None
    value = multiscale_structural_similarity_index_measure(x.permute(0, 3, 1, 2), y.permute(0, 3, 1, 2),
                                                           data_range=1.0, kernel_size=11, sigma=1.5)
    return float(value)
