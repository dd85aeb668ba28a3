"""NeRF signal: rays of a scene -> colours by volume rendering an adaptive sine MLP.

Scenes are read in the Blender/NeRF-synthetic dialect or the single transforms.json of instant-ngp,
nerfstudio and colmap2nerf (scene_format.py), with per-frame pinhole intrinsics (cameras.Intrinsics).
The adaptive network maps a position normalised into [-1, 1]^3 (world / bound; bound from the
scene's `aire_scene.bound` when make-scene wrote it, else NeRF-synthetic's 1.5, which is also about
the world cube instant-ngp's default scale 0.33 and offset 0.5 map into its unit cube) to 1 + F outputs:
a density pre-activation and F features; a small colour head (field.py; optimised and saved, never
pruned) turns features and the view direction into RGB. Rays are clipped to the cube
[-bound, bound]^3, sampled in `samples` stratified bins and, optionally, `importance_samples` more
points drawn from the coarse weights (NeRF's hierarchical sampling with a single network, as in
mip-NeRF; the loss is then the sum of the coarse and fine MSEs). Colours are composited on white.

The signal holds data, sampling, loss and metrics; the trainable whole (field + colour head +
rendering settings) is the model that `make_model` builds (model.NerfModel), which the trainer
optimises, `aire.save_run` saves and `aire.load` returns.

`sample` gives rays as (N, 8) = (origin, unit direction, near, far) and their colours (N, 3) in [0, 1].
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from aire.errors import InputError
from aire.figures import image_grid, save_figure
from aire.hookspecs import hookimpl
from aire.interfaces import Network, Signal
from aire.metrics import psnr, ssim
from aire.metrics.image import SSIM_MIN_SIDE, ms_ssim_fitted
from aire.signals.nerf.cameras import Intrinsics, look_at, orbit_positions, pose_rays
from aire.signals.nerf.model import NerfModel
from aire.signals.nerf.scene_format import Split, find_scene, read_split


#: half-size of the scene cube when the scene does not say: NeRF-synthetic's objects lie in [-1.5, 1.5]^3
DEFAULT_BOUND = 1.5
#: margin around the bound that `aire make-scene` records (its meshes touch their bounding box)
BOUND_MARGIN = 1.05


def scene_bound(path: Path) -> float:
    """The scene cube's half-size: `aire_scene.bound` (written by make-scene) plus a margin, else 1.5."""
    try:
        meta = json.loads(find_scene(path).json_for("train").read_text())
        return float(meta["aire_scene"]["bound"]) * BOUND_MARGIN
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_BOUND  # read_split reports missing or broken files with a proper message


def split_rays(split: Split, bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """All rays (N, 8) and colours (N, 3) of a split, image by image, row-major."""
    rays, colours = [], []
    for image, pose, intrinsics in zip(split.images, split.poses, split.intrinsics):
        rays.append(pose_rays(intrinsics, pose, bound))
        colours.append(torch.as_tensor(image.reshape(-1, 3), dtype=torch.float32))
    return torch.cat(rays), torch.cat(colours)


class NerfSignal(Signal):
    """Fit a radiance field to a scene (Blender split files or one transforms.json; see scene_format);
    metric: PSNR on the held-out test views."""

    in_features = 3
    quality_key = "psnr_test"
    quality_targets = {"psnr": ("psnr_test", True)}  # --target-psnr: the test-view PSNR
    #: the model class `aire.load` rebuilds a NeRF run with (model.json's "model": {"kind": "nerf"})
    model_class = NerfModel

    def __init__(self, path: str | Path, *, size: int | None = None, features: int = 15, samples: int = 48,
                 importance_samples: int = 0, bound: float | None = None, head_width: int = 64, eval_views: int = 2,
                 eval_size: int = 48, turntable_frames: int = 24, turntable_size: int | None = None,
                 render_chunk: int = 4096, seed: int = 0, lpips: bool = False) -> None:
        for name, value, low in (("features", features, 1), ("samples", samples, 2),
                                 ("importance_samples", importance_samples, 0), ("head_width", head_width, 1),
                                 ("eval_views", eval_views, 1), ("eval_size", eval_size, 2),
                                 ("turntable_frames", turntable_frames, 0), ("render_chunk", render_chunk, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InputError(f"nerf setting {name} must be an integer >= {low}, got {value!r}")
        if not isinstance(lpips, bool):
            raise InputError(f"nerf setting lpips must be true or false, got {lpips!r}")
        self.path = Path(path)
        self.source = find_scene(self.path)
        bound = scene_bound(self.path) if bound is None else bound
        if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not math.isfinite(bound) or bound <= 0:
            raise InputError(f"nerf setting bound must be a positive number, got {bound!r}")
        self.size = size
        self.train_split = read_split(self.path, "train", size)
        self.test_split = read_split(self.path, "test", size)
        self.lpips = lpips
        if lpips:  # refused now, not after the fit: test views too small, AlexNet weights missing
            from aire.metrics.lpips import check_lpips_ready

            check_lpips_ready(self.test_split.height, self.test_split.width, "the test views")
        self.features, self.samples, self.importance_samples = features, samples, importance_samples
        self.bound = float(bound)
        self.out_features = 1 + features
        self.head_width, self.seed = head_width, seed
        self.eval_views, self.eval_size = eval_views, eval_size
        self.turntable_frames, self.turntable_size = turntable_frames, turntable_size
        self.render_chunk = render_chunk
        self.rays, self.colours = split_rays(self.train_split, self.bound)
        self.test_rays, self.test_colours = split_rays(self.test_split, self.bound)
        self.eval_rays, self.eval_colours = self._eval_subset()
        self.device = torch.device("cpu")

    def _eval_subset(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels on a strided grid of the first eval_views test views (a cheap periodic PSNR)."""
        h, w = self.test_split.height, self.test_split.width
        stride = max(1, math.ceil(max(h, w) / self.eval_size))
        grid = (torch.arange(h)[::stride, None] * w + torch.arange(w)[None, ::stride]).flatten()
        views = min(self.eval_views, len(self.test_split.images))
        idx = torch.cat([v * h * w + grid for v in range(views)])
        return self.test_rays[idx], self.test_colours[idx]

    # ------------------------------------------------------------------ Signal
    def sources(self) -> list[Path]:
        """The scene folder (holding the transforms files and, usually, the frames) and the path given."""
        return [self.source.root, self.path]

    def to(self, device: torch.device | str) -> "NerfSignal":
        self.device = torch.device(device)
        for name in ("rays", "colours", "test_rays", "test_colours", "eval_rays", "eval_colours"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def make_model(self, network: Network) -> NerfModel:
        """The NeRF model around `network`: a fresh colour head (seeded by this signal's `seed`) and
        this scene's bound and sampling settings."""
        model = NerfModel(network, features=self.features, bound=self.bound, samples=self.samples,
                          importance_samples=self.importance_samples, head_width=self.head_width,
                          render_chunk=self.render_chunk, seed=self.seed)
        return model.to(network.weights[0].device)

    def sample(self, batch_size: int | None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if batch_size is None or batch_size >= self.rays.shape[0]:
            return self.rays, self.colours
        idx = torch.randint(0, self.rays.shape[0], (batch_size,), generator=generator).to(self.rays.device)
        return self.rays[idx], self.colours[idx]

    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(prediction, target)

    def training_loss(self, model: NerfModel, inputs: torch.Tensor, targets: torch.Tensor,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Sum of the coarse (and fine) colour MSEs of jittered renders of the rays `inputs`."""
        return sum(self.loss(c, targets) for c in model(inputs, jitter=True, generator=generator))

    def network_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points in [-1, 1]^3, uniform along random training rays inside the scene cube."""
        rays, _ = self.sample(n, generator)
        u = torch.rand(rays.shape[0], generator=generator).to(rays.device)
        t = rays[:, 6] + (rays[:, 7] - rays[:, 6]) * u
        return ((rays[:, :3] + rays[:, 3:6] * t[:, None]) / self.bound).clamp(-1.0, 1.0)

    @torch.no_grad()
    def preview(self, model: NerfModel) -> np.ndarray:
        """The first test view rendered on the periodic evaluation's strided pixel grid (at most eval_size
        pixels a side), as an (H', W', 3) float array in [0, 1]: the picture experiment loggers show at each
        evaluation (one view of the evaluation's rays, so it costs at most as much again as one view of it)."""
        h, w = self.test_split.height, self.test_split.width
        stride = max(1, math.ceil(max(h, w) / self.eval_size))
        rows, cols = len(range(0, h, stride)), len(range(0, w, stride))
        colours = model.render(self.eval_rays[:rows * cols]).clamp(0, 1)  # _eval_subset: view 0's grid first
        return colours.reshape(rows, cols, 3).cpu().numpy()

    def evaluate(self, model: NerfModel) -> dict[str, float]:
        return {"psnr_test": psnr(model.render(self.eval_rays), self.eval_colours)}

    def test_images(self, model: NerfModel) -> torch.Tensor:
        """Rendered test views (N, H, W, 3), unclamped (the head's sigmoid and the white background
        keep them in [0, 1] up to rounding)."""
        n, h, w = len(self.test_split.images), self.test_split.height, self.test_split.width
        return model.render(self.test_rays).reshape(n, h, w, 3)

    def final_metrics(self, model: NerfModel) -> dict[str, float | int | None]:
        """On every test view: psnr_test, ssim_test (scikit-image; None below 11 pixels) and ms_ssim_test
        (torchmetrics) with ms_ssim_test_scales, the number of scales it measured: 5 (Wang et al.'s MS-SSIM)
        from 176 pixels on the short side, fewer on smaller views (aire.metrics.image.ms_ssim_scales; the
        default 64-pixel views get 3), None with 0 scales below 22 pixels; lpips_test (AlexNet,
        aire.metrics.lpips) when the `lpips` setting asks for it. Also psnr_test_subset (the periodic
        evaluation's pixels) and colour_head_params."""
        from aire.status import phase

        with phase(f"final metrics: rendering {len(self.test_split.images)} test views"):
            pred = self.test_images(model)
        target = self.test_colours.reshape(pred.shape)
        small = min(pred.shape[1:3]) < SSIM_MIN_SIDE  # SSIM's window does not fit: no SSIM rather than a guess
        value, scales = ms_ssim_fitted(pred, target)
        metrics = {"psnr_test": psnr(pred, target), "ssim_test": None if small else ssim(pred, target),
                   "ms_ssim_test": value, "ms_ssim_test_scales": scales}
        if self.lpips:
            from aire.metrics.lpips import lpips

            metrics["lpips_test"] = lpips(pred, target)
        return {**metrics, "psnr_test_subset": psnr(model.render(self.eval_rays), self.eval_colours),
                "colour_head_params": model.head.num_parameters()}

    def export(self, model: NerfModel, out_dir: Path) -> list[Path]:
        """test_views.png (labelled panels: rendered, reference and error of the first TEST_VIEWS_SHOWN
        test views, aire.figures.image_grid) and turntable.gif; the model itself (field, colour head,
        rendering settings) is saved by aire.save_run."""
        import imageio.v3 as iio

        from aire.status import phase

        out_dir = Path(out_dir)
        with phase(f"test_views.png: rendering {len(self.test_split.images)} test views"):
            pred = self.test_images(model).clamp(0, 1).cpu().numpy()
        target = self.test_colours.reshape(pred.shape).cpu().numpy()
        views_path = save_figure(held_out_views_figure(pred, target, self.test_split.files), out_dir / "test_views.png",
                                 dpi=100)
        paths = [views_path]
        if self.turntable_frames:
            size = self.turntable_size or max(self.train_split.height, self.train_split.width)
            with phase(f"turntable.gif: rendering {self.turntable_frames} frames of {size}x{size}"):
                frames = self.turntable(model)
            gif = out_dir / "turntable.gif"
            iio.imwrite(gif, frames, duration=80, loop=0)
            paths.append(gif)
        return paths

    @torch.no_grad()
    def turntable(self, model: NerfModel) -> np.ndarray:
        """uint8 frames (T, H, W, 3) from cameras circling the scene at 30 degrees elevation, at the
        training cameras' mean distance."""
        size = self.turntable_size or max(self.train_split.height, self.train_split.width)
        first = self.train_split.intrinsics[0]  # a square, centred camera with the first view's horizontal focal
        camera = Intrinsics.pinhole(first.fx * size / first.width, size, size)
        h = w = size
        radius = float(np.linalg.norm(self.train_split.poses[:, :3, 3], axis=1).mean())
        frames = []
        for position in orbit_positions(self.turntable_frames, radius):
            rays = pose_rays(camera, look_at(position), self.bound).to(self.device)
            img = model.render(rays).reshape(h, w, 3).clamp(0, 1).cpu().numpy()
            frames.append((img * 255 + 0.5).astype(np.uint8))
        return np.stack(frames)

    def describe(self) -> dict[str, Any]:
        return {"kind": "nerf", "path": str(self.path.resolve()), "dialect": self.source.dialect,
                "train_views": len(self.train_split.images), "test_views": len(self.test_split.images),
                "test_files": list(self.test_split.files), "height": self.train_split.height,
                "width": self.train_split.width, "intrinsics": self.train_split.intrinsics[0].as_dict(),
                "bound": self.bound,
                "features": self.features, "samples": self.samples, "importance_samples": self.importance_samples,
                "head_width": self.head_width}


#: test views shown in test_views.png (a scene may have hundreds)
TEST_VIEWS_SHOWN = 6


def held_out_views_figure(pred: np.ndarray, target: np.ndarray, files: list[str]) -> Any:
    """Rendered | reference | absolute error (mean over RGB) of the first TEST_VIEWS_SHOWN test views
    (N, H, W, 3) in [0, 1], one row each, labelled with the view's file and PSNR."""
    shown = min(len(pred), TEST_VIEWS_SHOWN)
    rows, labels = [], []
    for i in range(shown):
        mse = float(np.mean((pred[i] - target[i]) ** 2))
        quality = f"{10 * math.log10(1 / mse):.2f} dB" if mse > 0 else "exact"
        rows.append([pred[i], target[i], np.abs(pred[i] - target[i]).mean(axis=-1)])
        labels.append(f"{Path(files[i]).name if i < len(files) else f'view {i}'}\nPSNR {quality}")
    title = (f"NeRF test views ({shown} of {len(pred)}; {pred.shape[2]}x{pred.shape[1]} pixels)"
             if shown < len(pred) else f"NeRF test views ({pred.shape[2]}x{pred.shape[1]} pixels)")
    return image_grid(rows, ["rendered", "reference", "absolute error"], labels, title=title, error_columns=(2,),
                      error_label="|rendered - reference| (mean over RGB)")


@hookimpl
def aire_add_signals() -> dict:
    return {"nerf": NerfSignal}
