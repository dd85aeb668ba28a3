"""Image quality metrics, one definition each, on colours in [0, 1].

PSNR follows the usual definition 10 log10(1 / MSE) with the prediction clamped to [0, 1] (the range
a viewer shows). SSIM is scikit-image's ``structural_similarity`` with the settings of Wang et al.
2004 (Gaussian window sigma 1.5, K1 0.01, K2 0.03, population covariance), as NeRF papers report it.
MS-SSIM (Wang, Simoncelli and Bovik 2003: five scales, their weights) is torchmetrics'
``multiscale_structural_similarity_index_measure`` with the same window; on images too small for five
scales it can be measured on fewer (`ms_ssim_scales`), the count then recorded beside the value.
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
#: Wang, Simoncelli and Bovik's (2003) exponents of the five scales, finest first
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(height: int, width: int) -> int:
    """The most scales (2 to 5) MS-SSIM measures on an image of this size, 0 when not even two fit.

    n scales halve the image n - 1 times; the coarsest scale must still hold the 11-pixel window
    (side // 2^(n-1) >= 11; below it torchmetrics' reflection padding fails or the window wraps) and
    torchmetrics' own check must pass (side // (n - 1)^2 > 10): 176 pixels for 5 scales, 99 for 4, 44 for 3,
    22 for 2."""
    side = min(int(height), int(width))
    for n in range(len(MS_SSIM_WEIGHTS), 1, -1):
        if side // 2 ** (n - 1) >= SSIM_MIN_SIDE and side // (n - 1) ** 2 > SSIM_MIN_SIDE - 1:
            return n
    return 0


def ms_ssim(prediction: torch.Tensor, target: torch.Tensor, scales: int = 5) -> float | None:
    """Mean MS-SSIM of images in [0, 1] of shape (H, W, C) or (N, H, W, C), by torchmetrics (Gaussian window
    11 / sigma 1.5; the prediction clamped to [0, 1]).

    `scales` 5 (the default) is Wang et al.'s MS-SSIM with their weights. 2 to 4 measure only the finest
    `scales` scales, with the first `scales` weights rescaled to sum to 1 (so equal similarities s at every
    scale still give s): not the standard number, so whoever reports it records the count beside it.
    None when a side is too short for `scales` scales (`ms_ssim_scales`; MS_SSIM_MIN_SIDE for 5): no
    number rather than a guess. Raises ValueError for mismatched shapes or `scales` outside 2..5."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    if not isinstance(scales, int) or isinstance(scales, bool) or not 2 <= scales <= len(MS_SSIM_WEIGHTS):
        raise ValueError(f"ms_ssim scales must be an integer from 2 to {len(MS_SSIM_WEIGHTS)}, got {scales!r}")
    x = prediction.detach().clamp(0, 1).double().cpu()
    y = target.detach().double().cpu()
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ms_ssim needs two (N, H, W, C) or (H, W, C) images of one shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if ms_ssim_scales(x.shape[1], x.shape[2]) < scales:
        return None
    betas = MS_SSIM_WEIGHTS
    if scales < len(MS_SSIM_WEIGHTS):
        total = sum(MS_SSIM_WEIGHTS[:scales])
        betas = tuple(w / total for w in MS_SSIM_WEIGHTS[:scales])
    value = multiscale_structural_similarity_index_measure(x.permute(0, 3, 1, 2), y.permute(0, 3, 1, 2),
                                                           data_range=1.0, kernel_size=11, sigma=1.5, betas=betas)
    return float(value)


def ms_ssim_fitted(prediction: torch.Tensor, target: torch.Tensor) -> tuple[float | None, int]:
    """(MS-SSIM, scales) on as many scales as images of this size hold (`ms_ssim_scales`): the value is
    Wang et al.'s MS-SSIM at 5 scales, a truncated one below (report the count with it), and None with 0
    scales below 22 pixels. Shapes as for `ms_ssim`: (H, W, C) or (N, H, W, C)."""
    height, width = prediction.shape[-3], prediction.shape[-2]
    scales = ms_ssim_scales(height, width)
    return (ms_ssim(prediction, target, scales=scales) if scales else None), scales
