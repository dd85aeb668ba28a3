"""Ground-truth signed distances to a triangle mesh, robust to scans that are not watertight.

Candidates measured on 100k points against the 52k-face armadillo (issue 4): libigl's pseudonormal
signed distance 0.65 s and equal in sign to its winding-number result (3.2 s); point-cloud-utils 0.7 s;
trimesh.proximity 64 s; mesh-to-sdf 20-40 s with wrong signs. We use libigl: the exact unsigned
distance comes from its AABB tree; the sign from the angle-weighted pseudonormal when the mesh is
watertight (exact there, and cheapest) and from the fast generalised winding number otherwise (a
hole makes the pseudonormal sign wrong on whole regions, the winding number only near the hole).
Convention: negative inside, positive outside.
"""

from __future__ import annotations

import numpy as np
import trimesh

from aire.errors import InputError

SIGN_METHODS = ("auto", "pseudonormal", "winding")


def sign_method_for(mesh: trimesh.Trimesh, method: str = "auto") -> str:
    """The sign method `auto` picks: pseudonormal for watertight meshes, winding number otherwise."""
    if method not in SIGN_METHODS:
        raise InputError(f"sign method must be one of {SIGN_METHODS}, got {method!r}")
    if method == "auto":
        return "pseudonormal" if mesh.is_watertight else "winding"
    return method


def _arrays(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(mesh.vertices, dtype=np.float64),
            np.ascontiguousarray(mesh.faces, dtype=np.int64))


def winding_number(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Generalised winding number (about 1 inside, 0 outside, fractional near holes)."""
    import igl

    vertices, faces = _arrays(mesh)
    return igl.fast_winding_number(vertices, faces, np.ascontiguousarray(points, dtype=np.float64))


def unsigned_distance(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from each point to the nearest triangle."""
    import igl

    vertices, faces = _arrays(mesh)
    return igl.signed_distance(np.ascontiguousarray(points, dtype=np.float64), vertices, faces,
                               sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_UNSIGNED)[0]


def signed_distance(mesh: trimesh.Trimesh, points: np.ndarray, method: str = "auto") -> np.ndarray:
    """Signed distance (negative inside) of each point (N, 3) to the mesh, float64 (N,)."""
    import igl

    points = np.ascontiguousarray(points, dtype=np.float64)
    if len(points) == 0:
        return np.zeros(0)
    method = sign_method_for(mesh, method)
    vertices, faces = _arrays(mesh)
    if method == "pseudonormal":
        return igl.signed_distance(points, vertices, faces,
                                   sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_PSEUDONORMAL)[0]
    distance = unsigned_distance(mesh, points)
    inside = winding_number(mesh, points) > 0.5
    return np.where(inside, -distance, distance)


def occupancy(mesh: trimesh.Trimesh, points: np.ndarray, method: str = "auto") -> np.ndarray:
    """Inside (True) / outside for each point, by the same sign rule as signed_distance."""
    method = sign_method_for(mesh, method)
    if method == "winding":
        return winding_number(mesh, points) > 0.5
    return signed_distance(mesh, points, method) < 0
