"""Training samples for an SDF: points near the surface at several scales plus uniform points,
with their ground-truth signed distances, cached on disk so repeated fits do not recompute them."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import trimesh

from aire.geometry.distance import signed_distance


@attrs.frozen
class SampleSpec:
    """How many points and where: `near_fraction` of them are surface points displaced by Gaussian
    noise, split evenly over `scales` (standard deviations, normalised frame); the rest uniform in
    the cube [-1, 1]^3."""

    count: int = 250_000
    near_fraction: float = 0.8
    scales: tuple[float, ...] = attrs.field(default=(0.002, 0.01, 0.05), converter=tuple)
    seed: int = 0
    sign_method: str = "auto"


def cache_dir() -> Path:
    """$AIRE_CACHE_DIR, else $XDG_CACHE_HOME/aire, else ~/.cache/aire."""
    root = os.environ.get("AIRE_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aire"


def mesh_digest(mesh: trimesh.Trimesh) -> str:
    """A content hash of the (normalised) mesh, for cache keys."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
    return h.hexdigest()[:20]


def surface_samples(mesh: trimesh.Trimesh, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` area-uniform points on the surface and the normals of their faces."""
    points, faces = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points, dtype=np.float64), np.asarray(mesh.face_normals[faces], dtype=np.float64)


def draw_points(mesh: trimesh.Trimesh, spec: SampleSpec) -> np.ndarray:
    """The sample positions (count, 3) of `spec` in the mesh's (normalised) frame."""
    rng = np.random.default_rng(spec.seed)
    near = int(round(spec.count * spec.near_fraction))
    base, _ = surface_samples(mesh, near, spec.seed)
    sigmas = np.repeat(np.asarray(spec.scales, dtype=np.float64), -(-near // len(spec.scales)))[:near]
    near_points = base + rng.normal(size=base.shape) * sigmas[:, None]
    uniform = rng.uniform(-1.0, 1.0, size=(spec.count - near, 3))
    return np.concatenate([near_points, uniform]).clip(-1.0, 1.0)


def sdf_samples(mesh: trimesh.Trimesh, spec: SampleSpec, use_cache: bool = True) -> dict[str, np.ndarray]:
    """{'points', 'sdf'} for `spec`, read from the cache when the same mesh and spec were seen before."""
    key = hashlib.sha256(json.dumps([mesh_digest(mesh), attrs.asdict(spec)], sort_keys=True).encode()).hexdigest()[:24]
    path = cache_dir() / "sdf" / f"{key}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path) as data:
                return {"points": data["points"], "sdf": data["sdf"]}
        except Exception:  # a damaged cache entry is recomputed
            pass
    points = draw_points(mesh, spec)
    result = {"points": points, "sdf": signed_distance(mesh, points, spec.sign_method)}
    if use_cache:
        _save_npz_atomic(path, result)
    return result


def _save_npz_atomic(path: Path, arrays: dict[str, Any]) -> None:
    """Keep the samples in the cache (aire.atomic.atomic_file: no temporary file is ever left).

    The cache only saves time, so a cache that cannot be written (full, read-only, not ours) is a
    one-line warning and the fit goes on; another process writing the same entry is left to it."""
    from aire.atomic import atomic_file
    from aire.errors import InputError
    from aire.lock import OutputBusyError

    try:
        with atomic_file(path) as tmp:
            np.savez(tmp, **arrays)
    except OutputBusyError:
        pass
    except (InputError, OSError) as exc:
        warnings.warn(f"SDF samples not cached: {exc}", stacklevel=3)


def grid_points(resolution: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(R^3, 3) grid with R points per axis on [lo, hi] (ends included), x slowest (ij indexing)."""
    axis = np.linspace(lo, hi, resolution)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)

