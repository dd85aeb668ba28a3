"""Quality metrics as plain functions: images (PSNR, SSIM) and meshes (Chamfer, IoU)."""

from aire.metrics.image import psnr, ssim
from aire.metrics.mesh import chamfer, iou

__all__ = ["chamfer", "iou", "psnr", "ssim"]
