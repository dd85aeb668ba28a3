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


def sphere(radius: float = 1.0, centre=(0.0, 0.0, 0.0), subdivisions: int = 3) -> trimesh.Trimesh:
    """An outward icosphere (closed, consistently oriented)."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    mesh.apply_translation(np.asarray(centre, dtype=np.float64))
    return mesh


def reverse_faces(mesh: trimesh.Trimesh, fraction: float = 1.0, seed: int = 0) -> trimesh.Trimesh:
    """The mesh with `fraction` of its faces (chosen at random; all for 1.0) listed in reverse order."""
    faces = np.array(mesh.faces)
    count = int(round(fraction * len(faces)))
    chosen = np.random.default_rng(seed).choice(len(faces), count, replace=False)
    faces[chosen] = faces[chosen, ::-1]
    return trimesh.Trimesh(np.array(mesh.vertices), faces, process=False)


def combine(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    """Several meshes as one (parts that share no vertex), faces kept as written."""
    vertices, faces, offset = [], [], 0
    for mesh in meshes:
        vertices.append(np.asarray(mesh.vertices))
        faces.append(np.asarray(mesh.faces) + offset)
        offset += len(mesh.vertices)
    return trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces), process=False)


def triangle_soup(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The mesh as an STL file holds it: three vertices of its own per face."""
    return trimesh.Trimesh(mesh.triangles.reshape(-1, 3), np.arange(3 * len(mesh.faces)).reshape(-1, 3), process=False)


def directions(count: int, seed: int = 0) -> np.ndarray:
    """`count` random unit vectors (count, 3)."""
    d = np.random.default_rng(seed).normal(size=(count, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def shared_mesh(name: str):
    """A mesh of the shared data (../shared/data/meshes beside the checkout, or $AIRE_DATA/meshes), or None."""
    import os
    from pathlib import Path

    root = os.environ.get("AIRE_DATA")
    folder = Path(root) if root else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    path = folder / "meshes" / name
    return path if path.is_file() else None


class SphereWithBlobSDF(torch.nn.Module):
    """A sphere of `radius` at 0 and a separate small sphere (a wrong-sign blob in free space), as the union
    min(d_sphere, d_blob): two connected pieces after marching cubes."""

    def __init__(self, radius: float, blob_centre=(0.8, 0.8, 0.8), blob_radius: float = 0.12) -> None:
        super().__init__()
        self.sphere, self.blob = SphereSDF(radius), SphereSDF(blob_radius, blob_centre)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(self.sphere(x), self.blob(x))
