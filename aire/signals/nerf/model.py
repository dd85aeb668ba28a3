"""The NeRF model: the adaptive field, the colour head and what rendering needs, saved and loaded whole.

A ray (origin o, unit direction d, clipped to the scene cube [-bound, bound]^3 as [near, far]) is
rendered by sampling `samples` stratified points (plus `importance_samples` drawn from the coarse
weights: NeRF's hierarchical sampling with one network, as in mip-NeRF), querying the field at
world position / bound (field.py: density softplus(out[0] - 1), features out[1:] -> colour head
with the view direction) and compositing on white (render.py). `aire.load` of a NeRF run returns
this model; ``render_view(c2w, intrinsics)`` gives an (H, W, 3) image in [0, 1].
"""

from __future__ import annotations

import math
from typing import Any

import torch

from aire.errors import InputError
from aire.interfaces import Model, Network
from aire.signals.nerf import render as volume
from aire.signals.nerf.cameras import Intrinsics, pose_rays
from aire.signals.nerf.field import ColourHead, query


def _integer(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InputError(f"nerf setting {name} must be an integer >= {low}, got {value!r}")
    return value


class NerfModel(Model):
    """Radiance field = adaptive sine MLP `field` (3 -> 1 + features; pruned and densified by the
    schedule) + ColourHead `head` (features, view direction -> RGB; trained, never pruned), with the
    scene's half-size `bound` (world units) and the sampling settings used to render.

    Raises InputError naming the setting when one is out of range or the field's outputs are not
    1 + features."""

    kind = "nerf"

    def __init__(self, field: Network, *, features: int, bound: float, samples: int, importance_samples: int = 0,
                 head_width: int = 64, render_chunk: int = 4096, seed: int = 0) -> None:
        super().__init__()
        self.features = _integer("features", features, 1)
        self.samples = _integer("samples", samples, 2)
        self.importance_samples = _integer("importance_samples", importance_samples, 0)
        self.render_chunk = _integer("render_chunk", render_chunk, 1)
        _integer("head_width", head_width, 1)
        if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not math.isfinite(bound) or bound <= 0:
            raise InputError(f"nerf setting bound must be a positive number, got {bound!r}")
        shape = field.weights[0].shape[1], field.widths()[-1]
        if shape != (3, 1 + self.features):
            raise InputError(f"a NeRF field maps 3 inputs to 1 + features = {1 + self.features} outputs; "
                             f"this network maps {shape[0]} -> {shape[1]}")
        self.bound = float(bound)
        self.field = field
        self.head = ColourHead(self.features, head_width, seed=seed)

    # ------------------------------------------------------------ saving
    def settings(self) -> dict[str, Any]:
        return {"features": self.features, "bound": self.bound, "samples": self.samples,
                "importance_samples": self.importance_samples, "head_width": self.head.width,
                "render_chunk": self.render_chunk}

    @classmethod
    def from_settings(cls, field: Network, settings: dict[str, Any]) -> "NerfModel":
        if not isinstance(settings, dict):
            raise InputError(f"nerf model settings must be an object, got {settings!r}")
        for key in ("features", "bound", "samples"):
            if key not in settings:
                raise InputError(f"nerf model setting {key!r} is missing")
        known = {"features", "bound", "samples", "importance_samples", "head_width", "render_chunk"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise InputError(f"unknown nerf model setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return cls(field, **settings)

    # ------------------------------------------------------------ rendering
    def query(self, points: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Density (...,) and colour (..., 3) at world points (..., 3) seen along unit directions
        broadcastable to them."""
        return query(self.field, self.head, points, dirs, self.bound)

    def forward(self, rays: torch.Tensor, jitter: bool = False,
                generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Colours (R, 3) of rays (R, 8) = (origin, unit direction, near, far): [coarse], or
        [coarse, fine] with importance sampling. `jitter` draws each bin's point uniformly (training)
        from `generator` (None: torch's global RNG); without it the bins' midpoints are used."""
        origins, dirs, near, far = rays[:, :3], rays[:, 3:6], rays[:, 6], rays[:, 7]
        edges = volume.bin_edges(near, far, self.samples)
        t = volume.stratified_points(edges, jitter, generator)
        sigma, rgb = self.query(origins[:, None] + dirs[:, None] * t[..., None], dirs[:, None])
        colour, weights = volume.composite(sigma, rgb, edges)
        outputs = [colour]
        if self.importance_samples:
            t_fine = volume.importance_points(edges, weights, self.importance_samples, jitter, generator)
            t_all = torch.sort(torch.cat([t, t_fine], dim=-1), dim=-1).values
            sigma, rgb = self.query(origins[:, None] + dirs[:, None] * t_all[..., None], dirs[:, None])
            outputs.append(volume.composite(sigma, rgb, volume.edges_around(t_all, near, far))[0])
        return outputs

    @torch.no_grad()
    def render(self, rays: torch.Tensor) -> torch.Tensor:
        """Final (fine when importance sampling is on) colours (R, 3) of rays (R, 8), `render_chunk`
        rays at a time, without jitter or gradients."""
        rays = rays.to(self.head.out.weight.device)
        return torch.cat([self(c)[-1] for c in rays.split(self.render_chunk)])

    @torch.no_grad()
    def render_view(self, c2w: Any, intrinsics: Intrinsics) -> torch.Tensor:
        """The (H, W, 3) image in [0, 1] (float32, on the model's device) seen by a pinhole camera:
        `c2w` camera-to-world (4x4 or 3x4, OpenGL/Blender convention as in transforms.json),
        `intrinsics` an aire.signals.nerf.cameras.Intrinsics (e.g. Intrinsics.pinhole(focal, W, H))."""
        rays = pose_rays(intrinsics, c2w, self.bound)
        return self.render(rays).reshape(intrinsics.height, intrinsics.width, 3).clamp(0.0, 1.0)
