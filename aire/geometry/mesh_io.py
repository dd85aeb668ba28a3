"""Reading meshes (anything trimesh reads) with one-line errors, and the unit-cube frame.

The SDF signal works in a normalised frame: the mesh's bounding box is centred at 0 and scaled
uniformly so its longest half-extent is 1 - margin. The frame is recorded so exported meshes go
back to the original coordinates: x_original = x_normalised / scale + centre.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import trimesh

from aire.atomic import atomic_file
from aire.errors import InputError

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")


@attrs.frozen
class Frame:
    """Similarity transform original -> normalised: x_n = (x - centre) * scale."""

    centre: tuple[float, float, float]
    scale: float

    @classmethod
    def fit(cls, vertices: np.ndarray, margin: float = 0.1) -> "Frame":
        """The frame that puts the bounding box of `vertices` in [-(1 - margin), 1 - margin]^3."""
        if not 0.0 <= margin < 1.0:
            raise InputError(f"margin must be in [0, 1), got {margin}")
        lo, hi = vertices.min(axis=0), vertices.max(axis=0)
        half = float((hi - lo).max()) / 2.0
        if not half > 0.0:
            raise InputError("mesh has zero extent (all vertices coincide)")
        return cls(centre=tuple(float(c) for c in (lo + hi) / 2.0), scale=(1.0 - margin) / half)

    def to_normalised(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - np.asarray(self.centre)) * self.scale

    def to_original(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) / self.scale + np.asarray(self.centre)

    def as_dict(self) -> dict[str, Any]:
        return {"centre": list(self.centre), "scale": self.scale}


def load_mesh(path: str | Path) -> trimesh.Trimesh:
    """A triangle mesh from any file trimesh reads (scenes are concatenated); InputError when the
    file is missing, unreadable, empty, has no faces or non-finite vertices."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"mesh not found: {path}")
    if path.is_dir():
        raise InputError(f"expected a mesh file, got a directory: {path}")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(f"cannot read mesh {path}: {type(exc).__name__}{': ' + detail if detail else ''}") from None
    if not isinstance(mesh, trimesh.Trimesh):
        raise InputError(f"{path} holds no triangle mesh (read as {type(mesh).__name__})")
    return validate_mesh(mesh, str(path))


def validate_mesh(mesh: trimesh.Trimesh, name: str = "mesh") -> trimesh.Trimesh:
    """Check a mesh is usable for signed distances: vertices, faces, finite, indices in range."""
    vertices = np.asarray(mesh.vertices)
    faces = np.asarray(mesh.faces)
    if vertices.size == 0:
        raise InputError(f"{name} is empty (no vertices)")
    if faces.size == 0:
        raise InputError(f"{name} has no faces (a point cloud?); an SDF needs a triangle mesh")
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices)).any(axis=1).sum())
        raise InputError(f"{name} has {bad} vertices with NaN or infinite coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise InputError(f"{name} has faces that index missing vertices")
    areas = mesh.area_faces
    if not (areas > 0).any():
        raise InputError(f"{name} has only degenerate (zero-area) faces")
    return mesh


def write_mesh_atomic(mesh: trimesh.Trimesh, path: str | Path) -> Path:
    """Export a mesh (format from the suffix: .ply, .obj, .off, .stl, .glb) via a temporary file."""
    path = Path(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(f"cannot write {path}: use one of {', '.join(MESH_SUFFIXES)}")
    with atomic_file(path) as tmp:
        mesh.export(tmp, file_type=path.suffix.lower().lstrip("."))
    return path
