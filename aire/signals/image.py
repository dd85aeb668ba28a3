"""Image signal: pixels on [-1, 1]^2 mapped to colours in [-1, 1].

Contract: pixel (row i, column j) of an H x W image sits at (-1 + 2i/(H-1), -1 + 2j/(W-1));
values v in [0, 1] are fitted as 2v - 1; PSNR is reported on the [0, 1] scale. Files are decoded by
`aire.images` (colour modes, bit depth, orientation, value-range rule recorded in `describe()`).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import torch
from torch.nn import functional as F

from aire.errors import InputError
from aire.hookspecs import hookimpl
from aire.images import ImageInfo, Orientation, composite_on_white, decode_image
from aire.interfaces import Signal
from aire.metrics import psnr


def load_image(path: str | Path, *, orientation: Orientation = "apply") -> tuple[np.ndarray, ImageInfo]:
    """An image file as float64 (H, W, C) in [0, 1], C in {1, 3}, and what its decoding did
    (`aire.images.decode_image`: colour modes, bit depth, orientation, value-range rule).
    Real alpha that is not fully opaque is composited on white, with a warning saying how much of the
    image it touches. Raises InputError (one line) for a file it cannot decode faithfully or below 2x2."""
    path = Path(path)
    decoded = decode_image(path, orientation=orientation)
    img, translucent = composite_on_white(decoded)
    if translucent > 0:
        warnings.warn(f"{path.name}: {100 * translucent:.3g} % of the pixels are transparent or translucent "
                      "(alpha < 1); composited on white", stacklevel=3)
    if min(img.shape[:2]) < 2:
        raise InputError(f"image {path} is empty or too small (shape {tuple(img.shape)}; need at least 2x2 pixels)")
    return img, decoded.info


def read_image(path: str | Path, *, orientation: Orientation = "apply") -> np.ndarray:
    """An image file as float64 (H, W, C) in [0, 1]; see `load_image` (this drops the decode record)."""
    return load_image(path, orientation=orientation)[0]


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """(H*W, 2) coordinates, row-major, pixel (i, j) at (-1 + 2i/(H-1), -1 + 2j/(W-1))."""
    rows = torch.linspace(-1.0, 1.0, height)
    cols = torch.linspace(-1.0, 1.0, width)
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)


class ImageSignal(Signal):
    """Fit an image: coordinates (N, 2) -> colours (N, C), loss MSE, metric PSNR."""

    output_psnr_peak = 2.0  # PSNR of clamp(output) on [-1, 1] (reported on [0, 1]) against targets in [-1, 1]

    def __init__(self, path: str | Path | None = None, *, image: np.ndarray | None = None, size: int | None = None,
                 max_size: int | None = None, orientation: Orientation = "apply", lpips: bool = False) -> None:
        """`path` (any format `aire.images` reads) or `image` (H, W[, C]) in [0, 1]; `size` resizes the
        longer side to exactly that many pixels; `max_size` only downscales, to at most that many (the CPU
        default of `aire fit image`), saying so in one warning and recording it in describe(); `orientation`
        "apply" (default) turns the pixels as the file's EXIF/TIFF orientation tag says, as viewers do,
        "ignore" keeps them as stored (`--set orientation=ignore`); `lpips` adds LPIPS (AlexNet) to the final
        metrics (`--set lpips=true`; aire.metrics.lpips), refused here, before any fitting, when its AlexNet
        weights are missing or the fitted image is under 31 pixels on a side."""
        if (path is None) == (image is None):
            raise ValueError("give exactly one of path or image")
        for name, value in (("size", size), ("max_size", max_size)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 2):
                raise InputError(f"image setting {name} must be an integer of at least 2 pixels, got {value!r}")
        if not isinstance(lpips, bool):
            raise InputError(f"image setting lpips must be true or false, got {lpips!r}")
        if orientation not in ("apply", "ignore"):
            raise InputError(f"image setting orientation must be 'apply' or 'ignore', got {orientation!r}")
        self.path = Path(path) if path is not None else None
        self.orientation = orientation
        self.decode_info: ImageInfo | None = None
        if image is None:
            img, self.decode_info = load_image(path, orientation=orientation)
        else:
            img = np.asarray(image, dtype=np.float64)
        if img.ndim == 2:
            img = img[:, :, None]
        self.original_height, self.original_width = img.shape[:2]
        if size is not None:
            img = resize(img, size)
        self.max_size = max_size
        self.downscaled = size is None and max_size is not None and max(img.shape[:2]) > max_size
        if self.downscaled:
            img = resize(img, max_size)
            warnings.warn(f"{self.path.name if self.path else 'the image'} is {self.original_width}x"
                          f"{self.original_height}; fitting it at {img.shape[1]}x{img.shape[0]} (max_size {max_size}, "
                          "the CPU default: --set max_size=null or --preset gpu for full resolution)", stacklevel=2)
        self.image = img
        self.height, self.width, self.out_features = img.shape
        self.lpips = lpips
        if lpips:
            from aire.metrics.lpips import check_lpips_ready

            check_lpips_ready(self.height, self.width, "the fitted image")
        self.in_features = 2
        self.coords = pixel_grid(self.height, self.width)
        self.values = torch.as_tensor(img.reshape(-1, self.out_features), dtype=torch.float32) * 2.0 - 1.0

    def to(self, device: torch.device | str) -> "ImageSignal":
        self.coords = self.coords.to(device)
        self.values = self.values.to(device)
        return self

    def sample(self, batch_size: int | None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if batch_size is None or batch_size >= self.coords.shape[0]:
            return self.coords, self.values
        idx = torch.randint(0, self.coords.shape[0], (batch_size,), generator=generator).to(self.coords.device)
        return self.coords[idx], self.values[idx]

    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(prediction, target)

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, chunk: int = 1 << 16) -> torch.Tensor:
        """The model's image in [-1, 1] as (N, C), evaluated in chunks."""
        return torch.cat([model(c) for c in self.coords.split(chunk)])

    def residual_grid(self, model: torch.nn.Module) -> tuple[torch.Tensor, tuple[float, float]]:
        """(prediction - target) as (H, W, C) and the pixel spacing (2/(H-1), 2/(W-1)) in coordinate units."""
        residual = (self.predict(model) - self.values).reshape(self.height, self.width, self.out_features)
        return residual, (2.0 / (self.height - 1), 2.0 / (self.width - 1))

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        # fitted values live in [-1, 1]; PSNR is reported on the [0, 1] scale a viewer shows
        return {"psnr": psnr((self.predict(model) + 1) / 2, (self.values + 1) / 2)}

    @torch.no_grad()
    def final_metrics(self, model: torch.nn.Module) -> dict[str, float | None]:
        """SSIM (scikit-image; None below 11 pixels) and MS-SSIM (torchmetrics) with ms_ssim_scales, the
        number of scales it measured: 5 (Wang et al.'s MS-SSIM) from 176 pixels on the short side, fewer on
        smaller images, 0 (and MS-SSIM None) below 22 (aire.metrics.image.ms_ssim_scales), of the
        reconstruction at the resolution fitted, and LPIPS when the `lpips` setting asks for it
        (aire.metrics.lpips)."""
        from aire.metrics.image import SSIM_MIN_SIDE, ms_ssim_fitted, ssim

        prediction = torch.as_tensor(self.preview(model))
        target = torch.as_tensor(self.image, dtype=prediction.dtype).reshape(prediction.shape)
        small = min(self.height, self.width) < SSIM_MIN_SIDE
        value, scales = ms_ssim_fitted(prediction, target)
        metrics = {"ssim": None if small else ssim(prediction, target), "ms_ssim": value, "ms_ssim_scales": scales}
        if self.lpips:
            from aire.metrics.lpips import lpips

            metrics["lpips"] = lpips(prediction, target)
        return metrics

    @torch.no_grad()
    def preview(self, model: torch.nn.Module) -> np.ndarray:
        """The reconstruction as an (H, W, C) float array in [0, 1] (the picture loggers show)."""
        pred = self.predict(model).clamp(-1, 1).add(1).div(2).cpu().numpy()
        return pred.reshape(self.height, self.width, self.out_features)

    def export(self, model: torch.nn.Module, out_dir: Path) -> list[Path]:
        """reconstruction.png (the fit at the fitted size) and comparison.png (input | fit | error map with a
        colour bar, small images enlarged by nearest neighbour; aire.report.comparison_figure)."""
        from aire.report import plot_comparison

        preview = self.preview(model)
        img = (preview * 255.0 + 0.5).astype(np.uint8)
        path = Path(out_dir) / "reconstruction.png"
        iio.imwrite(path, img[:, :, 0] if self.out_features == 1 else img)
        target = np.asarray(self.image, dtype=np.float64).reshape(preview.shape)
        return [path, plot_comparison(target, preview, Path(out_dir) / "comparison.png")]

    def describe(self) -> dict[str, Any]:
        description = {"kind": "image", "path": str(self.path.resolve()) if self.path else None,
                       "height": self.height, "width": self.width, "channels": self.out_features,
                       "original_height": self.original_height, "original_width": self.original_width,
                       "max_size": self.max_size, "downscaled": self.downscaled}
        if self.decode_info is not None:  # the value map takes a reconstruction back to the file's units
            description["decode"] = self.decode_info.to_dict()
        return description


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Antialiased resize so the longer side is `size` pixels."""
    h, w = img.shape[:2]
    scale = size / max(h, w)
    new = (max(2, round(h * scale)), max(2, round(w * scale)))
    t = torch.as_tensor(img, dtype=torch.float64).permute(2, 0, 1)[None]
    out = F.interpolate(t, size=new, mode="bilinear", antialias=True, align_corners=False)
    return out[0].permute(1, 2, 0).clamp(0, 1).numpy()


def synthetic_image(size: int = 96, seed: int = 0) -> np.ndarray:
    """A generated RGB test image with edges, gradients and fine texture (no files needed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    r = 0.5 + 0.5 * np.sin(2 * np.pi * (3 * x + 2 * y) + rng.uniform(0, 6))
    g = ((x - 0.5) ** 2 + (y - 0.45) ** 2 < 0.08).astype(float) * 0.8 + 0.1 * y
    b = 0.5 + 0.4 * np.sin(2 * np.pi * 9 * x * y) * (x > 0.3)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 1)


@hookimpl
def aire_add_signals() -> dict:
    return {"image": ImageSignal}
