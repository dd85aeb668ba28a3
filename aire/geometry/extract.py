"""From a fitted SDF network to a mesh: chunked evaluation on a grid, then marching cubes.

The grid is evaluated slab by slab (only one chunk of coordinates lives on the device at a time),
so 512^3 needs the 0.5 GB result array and little else. The volume is padded with a positive
(outside) layer before marching cubes, so every surface the grid cuts is closed: the mesh is as
watertight as the level set allows.
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from tqdm.auto import tqdm


@torch.no_grad()
def evaluate_grid(model: torch.nn.Module, resolution: int, *, chunk: int = 1 << 18, bound: float = 1.0,
                  progress: bool = False) -> np.ndarray:
    """The model's first output on an R^3 grid over [-bound, bound]^3 as float32 (R, R, R), x slowest."""
    if resolution < 2:
        raise ValueError(f"grid resolution must be at least 2, got {resolution}")
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    axis = torch.linspace(-bound, bound, resolution, device=device, dtype=dtype)
    yz = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    volume = np.empty((resolution, resolution, resolution), dtype=np.float32)
    slabs = max(1, chunk // (resolution * resolution))
    for start in tqdm(range(0, resolution, slabs), disable=not progress, desc="grid", unit="slab", leave=False):
        xs = axis[start:start + slabs]
        pts = torch.cat([xs.repeat_interleave(yz.shape[0])[:, None], yz.repeat(xs.shape[0], 1)], dim=1)
        values = torch.cat([model(c)[:, 0] for c in pts.split(chunk)])
        volume[start:start + xs.shape[0]] = values.reshape(-1, resolution, resolution).float().cpu().numpy()
    return volume


def marching_cubes(volume: np.ndarray, bound: float = 1.0, level: float = 0.0) -> trimesh.Trimesh:
    """The `level` set of a grid over [-bound, bound]^3 as a closed triangle mesh with outward
    normals (empty when the grid never crosses the level)."""
    from skimage import measure

    finite = np.isfinite(volume)
    if not finite.all():
        volume = np.where(finite, volume, np.float32(np.abs(volume[finite]).max() if finite.any() else 1.0))
    if not (volume.min() < level < volume.max()):
        return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    pad = float(max(abs(volume.max()), abs(level)) + 1.0)
    padded = np.pad(volume, 1, mode="constant", constant_values=level + pad)
    spacing = 2.0 * bound / (volume.shape[0] - 1)
    verts, faces, _, _ = measure.marching_cubes(padded, level=level, spacing=(spacing,) * 3)
    verts = verts - bound - spacing  # undo the padding offset: index 1 of the padded grid is -bound
    mesh = trimesh.Trimesh(verts, faces, process=True)
    if signed_volume(mesh) < 0:
        mesh.invert()
    return mesh


def signed_volume(mesh: trimesh.Trimesh) -> float:
    """The volume a closed mesh encloses, negative when its faces wind inwards: the divergence theorem's
    sum over faces of v0 . (v1 x v2) / 6. trimesh's ``mesh.volume`` gives the same number from its full
    mass properties (inertia too), which took 1.9 s of a 1.1M-vertex extraction against ~0.1 s here."""
    v, f = np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces)
    return float(np.einsum("ij,ij->", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])) / 6.0)


def extract_mesh(model: torch.nn.Module, resolution: int, *, chunk: int = 1 << 18, progress: bool = False) -> trimesh.Trimesh:
    """The zero level set of an SDF network (normalised frame) at grid resolution R."""
    return marching_cubes(evaluate_grid(model, resolution, chunk=chunk, progress=progress))


def connected_components(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    """The mesh's connected pieces (faces joined through shared edges; trimesh.Trimesh.split), largest first
    by face count. An empty mesh has none."""
    if len(mesh.faces) == 0:
        return []
    parts = mesh.split(only_watertight=False)
    return sorted(parts, key=lambda part: len(part.faces), reverse=True)


def keep_largest_component(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, int]:
    """(the connected component with the most faces, how many smaller components were dropped).

    On an open scan the fitted SDF can carry small wrong-sign blobs in free space; marching cubes closes
    each into a separate piece, which this removes. The mesh itself is returned when it is one piece.
    """
    parts = connected_components(mesh)
    if len(parts) <= 1:
        return mesh, 0
    return parts[0], len(parts) - 1
