"""Pinhole cameras in the OpenGL/Blender convention of NeRF, instant-ngp and nerfstudio: rays in the world frame.

A camera-to-world matrix c2w has columns (right, up, back, position): the camera looks down its
-z axis with +y up. Intrinsics are per-axis focal lengths (fx, fy) and a principal point (cx, cy) in
pixels, with pixel (row i, column j) of an H x W image covering [j, j + 1] x [i, i + 1] and sampled at
its centre, so its camera-frame direction is

    ((j + 0.5 - cx) / fx, -(i + 0.5 - cy) / fy, -1)

(nerfstudio's "pixel centres" convention, docs.nerf.studio data conventions). NeRF-synthetic's cameras
are the special case fx = fy = focal, cx = W/2, cy = H/2.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import torch

from aire.errors import InputError


def _positive_finite(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{attribute.name} must be a positive number of pixels, got {value!r}")


def _pixels(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{attribute.name} must be an integer >= 1, got {value!r}")


@attrs.frozen
class Intrinsics:
    """A pinhole camera's intrinsics in pixels: focal lengths fx, fy, principal point (cx, cy) inside
    the width x height image ([0, width] x [0, height]; pixel centres at half-integers). InputError
    names the field when a value is out of range."""

    fx: float = attrs.field(converter=float, validator=_positive_finite)
    fy: float = attrs.field(converter=float, validator=_positive_finite)
    cx: float = attrs.field(converter=float)
    cy: float = attrs.field(converter=float)
    width: int = attrs.field(validator=_pixels)
    height: int = attrs.field(validator=_pixels)

    def __attrs_post_init__(self) -> None:
        for name, value, size in (("cx", self.cx, self.width), ("cy", self.cy, self.height)):
            if not math.isfinite(value) or not 0.0 <= value <= size:
                raise InputError(f"{name} = {value!r} lies outside the image [0, {size}]")

    @classmethod
    def pinhole(cls, focal: float, width: int, height: int) -> "Intrinsics":
        """NeRF-synthetic's camera: one focal length, principal point at the image centre."""
        return cls(focal, focal, 0.5 * width, 0.5 * height, width, height)

    def resized(self, width: int, height: int) -> "Intrinsics":
        """The same camera for the image resampled to width x height (each axis scaled by its own factor,
        as an align_corners=False resize maps pixel coordinates: u' = u * width / self.width)."""
        w, h = self.width, self.height  # multiply first: cx <= w then gives cx * width / w <= width exactly
        return Intrinsics(self.fx * width / w, self.fy * height / h, self.cx * width / w, self.cy * height / h,
                          width, height)

    def as_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


def focal_from_angle(camera_angle_x: float, width: int) -> float:
    """Focal length in pixels from the horizontal field of view (radians) and image width."""
    return 0.5 * width / math.tan(0.5 * camera_angle_x)


def angle_from_focal(focal: float, width: int) -> float:
    """Horizontal field of view (radians) of a focal length in pixels; inverse of focal_from_angle."""
    return 2.0 * math.atan(0.5 * width / focal)


def camera_rays(intrinsics: Intrinsics, c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(origins, unit directions), each (H*W, 3) float32 row-major, of the pixel-centre rays of one camera:
    pixel (i, j) looks along c2w's rotation times ((j + 0.5 - cx) / fx, -(i + 0.5 - cy) / fy, -1)."""
    k = intrinsics
    c2w = torch.as_tensor(c2w, dtype=torch.float32)
    i, j = torch.meshgrid(torch.arange(k.height, dtype=torch.float32), torch.arange(k.width, dtype=torch.float32),
                          indexing="ij")
    dirs = torch.stack([(j + 0.5 - k.cx) / k.fx, -(i + 0.5 - k.cy) / k.fy,
                        -torch.ones_like(i)], dim=-1).reshape(-1, 3)
    world = dirs @ c2w[:3, :3].T
    world = world / world.norm(dim=-1, keepdim=True)
    origins = c2w[:3, 3].expand_as(world).clone()
    return origins, world


def look_at(position: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
    """4x4 camera-to-world matrix of a camera at `position` looking at `target` (default the origin),
    world +z up (Blender's convention); near the poles +y serves as up."""
    position = np.asarray(position, dtype=np.float64)
    target = np.zeros(3) if target is None else np.asarray(target, dtype=np.float64)
    back = position - target
    back /= np.linalg.norm(back)
    up_world = np.array([0.0, 0.0, 1.0])
    right = np.cross(up_world, back)
    if np.linalg.norm(right) < 1e-6:
        right = np.cross(np.array([0.0, 1.0, 0.0]), back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, back, position
    return c2w


def sphere_positions(n: int, radius: float, seed: int = 0) -> np.ndarray:
    """n camera positions spread evenly over a sphere (a Fibonacci lattice under a random rotation)."""
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = math.pi * (1.0 + math.sqrt(5.0)) * k
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    points = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return radius * points @ q.T


def orbit_positions(n: int, radius: float, elevation_deg: float = 30.0) -> np.ndarray:
    """n positions on a horizontal circle at the given elevation (a turntable)."""
    az = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    el = math.radians(elevation_deg)
    return radius * np.stack([np.cos(az) * math.cos(el), np.sin(az) * math.cos(el),
                              np.full(n, math.sin(el))], axis=-1)


def box_intersection(origins: torch.Tensor, dirs: torch.Tensor, bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit distances (near, far) of rays through the cube [-bound, bound]^3 (slab method);
    near = far for rays that miss it. Distances are >= 0 (the cube may contain the origin). The cube is
    closed: a ray parallel to an axis is inside that axis' slab for all t when its origin lies within
    [-bound, bound] on it, faces included (so both faces of an axis are treated alike), else nowhere."""
    parallel = dirs.abs() < 1e-9
    within = origins.abs() <= bound
    safe = torch.where(parallel, torch.ones_like(dirs), dirs)
    inf = torch.full_like(dirs, float("inf"))
    behind = torch.full_like(dirs, -1.0)  # a slab the ray never enters: an empty segment at near
    t0 = torch.where(parallel, torch.where(within, -inf, behind), (-bound - origins) / safe)
    t1 = torch.where(parallel, torch.where(within, inf, behind), (bound - origins) / safe)
    near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(0.0)
    far = torch.maximum(t0, t1).amin(dim=-1)
    far = torch.maximum(far, near)
    return near, far


def pose_rays(intrinsics: Intrinsics, pose: Any, bound: float) -> torch.Tensor:
    """(H*W, 8) rays (origin, unit direction, near, far) of one camera (c2w `pose`, 4x4 or 3x4),
    row-major, clipped to the scene cube [-bound, bound]^3."""
    origins, dirs = camera_rays(intrinsics, torch.as_tensor(pose))
    near, far = box_intersection(origins, dirs, bound)
    return torch.cat([origins, dirs, near[:, None], far[:, None]], dim=-1)
