"""Analytic test shapes with exact signed distances."""

from __future__ import annotations

import numpy as np
import torch
import trimesh


def box_sdf(points: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Exact signed distance to an axis-aligned box centred at 0 with half-extents `half`."""
    q = np.abs(points) - half
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    inside = np.minimum(q.max(axis=1), 0.0)
    return outside + inside


def holed_sphere(subdivisions: int = 3, radius: float = 1.0, hole_height: float = 0.8) -> trimesh.Trimesh:
    """An icosphere with the faces above z = hole_height * radius removed (not watertight)."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    keep = sphere.triangles_center[:, 2] < hole_height * radius
    return trimesh.Trimesh(sphere.vertices, sphere.faces[keep], process=True)


class SphereSDF(torch.nn.Module):
    """An exact sphere SDF as a 'fitted model' (3 -> 1), to test extraction without training."""

    def __init__(self, radius: float, centre=(0.0, 0.0, 0.0)) -> None:
        super().__init__()
        self.radius = radius
        self.centre = torch.nn.Parameter(torch.tensor(centre, dtype=torch.float32), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.centre).norm(dim=1) - self.radius)[:, None]


class SphereWithBlobSDF(torch.nn.Module):
    """A sphere of `radius` at 0 and a separate small sphere (a wrong-sign blob in free space), as the union
    min(d_sphere, d_blob): two connected pieces after marching cubes."""

    def __init__(self, radius: float, blob_centre=(0.8, 0.8, 0.8), blob_radius: float = 0.12) -> None:
        super().__init__()
        self.sphere, self.blob = SphereSDF(radius), SphereSDF(blob_radius, blob_centre)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(self.sphere(x), self.blob(x))
