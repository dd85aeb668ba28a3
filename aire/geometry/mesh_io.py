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


#: formats written with float64 vertices (PLY: binary doubles; OBJ, OFF: text with enough digits)
FLOAT64_SUFFIXES = (".ply", ".obj", ".off")
#: float32-only formats (STL, glTF) are refused when rounding to float32 would move a vertex by more than
#: this fraction of the bounding-box diagonal: 1/30 of a grid step at export-mesh's finest resolution
#: (2048); a mesh centred near the origin rounds about 100x below it, a 100 m scan at 1e6 about 20x above.
FLOAT32_TOLERANCE = 1e-5


def float32_error(vertices: np.ndarray) -> float:
    """Largest displacement of a vertex when its coordinates are stored as float32 (original units)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    return float(np.abs(vertices.astype(np.float32).astype(np.float64) - vertices).max()) if vertices.size else 0.0


def write_mesh_atomic(mesh: trimesh.Trimesh, path: str | Path) -> Path:
    """Export a mesh via a temporary file (format from the suffix), keeping the vertices' precision.

    .ply, .obj and .off hold float64 vertices (trimesh writes PLY as float32, which leaves a sphere at
    x = 1e6 with ~37 distinct x values, so PLY is written here: binary little-endian doubles). .stl and
    .glb/.gltf hold float32 only: InputError when that would move vertices by more than
    FLOAT32_TOLERANCE of the mesh's size (a mesh far from the origin), naming the formats that work."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise InputError(f"cannot write {path}: use one of {', '.join(MESH_SUFFIXES)}")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if suffix not in FLOAT64_SUFFIXES and len(vertices):
        error, diagonal = float32_error(vertices), float(np.linalg.norm(np.ptp(vertices, axis=0)))
        if error > FLOAT32_TOLERANCE * diagonal:
            raise InputError(f"cannot write {path}: {suffix.lstrip('.').upper()} stores float32 coordinates, which "
                             f"would move vertices by up to {error:.3g} ({error / diagonal:.1e} of the mesh's size; "
                             f"it lies far from the origin): write .ply, .obj or .off (float64)")
    with atomic_file(path) as tmp:
        if suffix == ".ply":
            _write_ply_float64(vertices, np.asarray(mesh.faces), tmp)
        elif suffix in FLOAT64_SUFFIXES:
            mesh.export(tmp, file_type=suffix.lstrip("."), digits=_decimals_for(vertices))
        else:
            mesh.export(tmp, file_type=suffix.lstrip("."))
    return path


def _decimals_for(vertices: np.ndarray) -> int:
    """Decimal places that keep float64 precision (17 significant digits) at the largest coordinate."""
    largest = float(np.abs(vertices).max()) if vertices.size else 0.0
    return int(np.clip(17 - (int(np.floor(np.log10(largest))) + 1 if largest > 0 else 0), 1, 40))


def _write_ply_float64(vertices: np.ndarray, faces: np.ndarray, path: Path) -> None:
    """Binary little-endian PLY (Turk 1994): `double x, y, z` per vertex, `uchar`-counted `int` triangles."""
    record = np.dtype([("count", "u1"), ("index", "<i4", (3,))])
    packed = np.empty(len(faces), dtype=record)
    packed["count"], packed["index"] = 3, faces
    header = ("ply\nformat binary_little_endian 1.0\ncomment written by aire\n"
              f"element vertex {len(vertices)}\nproperty double x\nproperty double y\nproperty double z\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    with open(path, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(np.ascontiguousarray(vertices, dtype="<f8").tobytes())
        handle.write(packed.tobytes())
