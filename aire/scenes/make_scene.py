"""Render a mesh into a NeRF scene by ray casting, in the Blender (NeRF-synthetic) or nerfstudio dialect.

The mesh is centred and scaled so its bounding box fits in [-1, 1]^3 (NeRF-synthetic's objects sit
in about [-1.5, 1.5]^3). Cameras look at the origin from a sphere of radius 4 (like the Blender
scenes): `views` training cameras on a Fibonacci sphere, val and test cameras on other ones. Colour
is the mesh's per-vertex colour when it has one, else a procedural pattern of the surface point
(stripes in three directions) so the scene has texture; shading is Lambertian from two fixed world
lights plus ambient (view-independent, so every view sees the same surface colour). Pixels are
supersampled and box-filtered, so edges are antialiased and alpha is fractional.

`format` "blender" writes transforms_{train,val,test}.json with camera_angle_x; "nerfstudio" writes one
transforms.json with fl_x, fl_y, cx, cy, w, h and explicit train/val/test_filenames lists. Both hold
the same images, cameras and split membership (tested: every pixel's ray agrees).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

from aire.atomic import check_out_dir
from aire.errors import InputError
from aire.signals.nerf import blender_format, nerfstudio_format
from aire.signals.nerf.cameras import Intrinsics, camera_rays, focal_from_angle, look_at, sphere_positions
from aire.status import phase

CAMERA_RADIUS = 4.0
CAMERA_ANGLE_X = 0.6911112070083618  # the Blender scenes' field of view (about 39.6 degrees)
LIGHTS = np.array([[0.4, -0.5, 0.77], [-0.6, 0.5, 0.3]])
LIGHT_STRENGTH = np.array([0.6, 0.3])
AMBIENT = 0.25
#: the scene dialects make-scene writes
FORMATS = ("blender", "nerfstudio")


def load_mesh(path: str | Path):
    """A trimesh.Trimesh from any format trimesh reads, with at least one face; else InputError."""
    import trimesh

    path = Path(path)
    if not path.exists():
        raise InputError(f"mesh not found: {path}")
    try:
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as exc:
        raise InputError(f"cannot read mesh {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise InputError(f"mesh {path} has no faces")
    if not np.isfinite(mesh.vertices).all():
        raise InputError(f"mesh {path} has NaN or infinite vertices")
    if float(np.ptp(mesh.vertices, axis=0).max()) <= 0:
        raise InputError(f"mesh {path} is degenerate (all vertices coincide)")
    return mesh


def normalise(mesh):
    """Centre the bounding box at the origin and scale its longest half-side to 1 (a copy)."""
    mesh = mesh.copy()
    lo, hi = mesh.bounds
    mesh.apply_translation(-(lo + hi) / 2)
    mesh.apply_scale(2.0 / float((hi - lo).max()))
    return mesh


def procedural_colour(points: np.ndarray) -> np.ndarray:
    """A smooth, colourful texture of 3-D points in [-1, 1]^3: stripes in three directions."""
    r = 0.55 + 0.4 * np.sin(7.0 * points[:, 0] + 2.0 * points[:, 1])
    g = 0.55 + 0.4 * np.sin(5.0 * points[:, 1] - 3.0 * points[:, 2] + 1.0)
    b = 0.55 + 0.4 * np.sin(6.0 * points[:, 2] + 4.0 * points[:, 0] + 2.0)
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)


def _intersector(mesh):
    try:
        from trimesh.ray.ray_pyembree import RayMeshIntersector

        return RayMeshIntersector(mesh)
    except Exception:  # embreex missing (e.g. not x86_64): the slow pure-python caster still works
        warnings.warn("embreex is not installed; ray casting with trimesh's slow pure-python intersector",
                      stacklevel=2)
        from trimesh.ray.ray_triangle import RayMeshIntersector

        return RayMeshIntersector(mesh)


def render_view(mesh, intersector, c2w: np.ndarray, size: int, focal: float, supersample: int = 2) -> np.ndarray:
    """RGBA float image (size, size, 4) of the mesh seen by one camera, alpha = coverage."""
    s = size * supersample
    origins, dirs = camera_rays(Intrinsics.pinhole(focal * supersample, s, s), torch.as_tensor(c2w))
    origins, dirs = origins.double().numpy(), dirs.double().numpy()
    locations, ray_idx, tri_idx = intersector.intersects_location(origins, dirs, multiple_hits=False)
    rgba = np.zeros((s * s, 4))
    if len(ray_idx):
        normals = mesh.face_normals[tri_idx]
        normals = normals * np.where((normals * dirs[ray_idx]).sum(-1, keepdims=True) > 0, -1.0, 1.0)  # face the camera
        lights = LIGHTS / np.linalg.norm(LIGHTS, axis=1, keepdims=True)
        shade = AMBIENT + (np.clip(normals @ lights.T, 0.0, None) * LIGHT_STRENGTH).sum(-1)
        if mesh.visual.kind == "vertex" and len(mesh.visual.vertex_colors) == len(mesh.vertices):
            bary = _barycentric(mesh, tri_idx, locations)
            vc = mesh.visual.vertex_colors[:, :3].astype(np.float64) / 255.0
            albedo = (vc[mesh.faces[tri_idx]] * bary[:, :, None]).sum(axis=1)
        else:
            albedo = procedural_colour(locations)
        rgba[ray_idx, :3] = np.clip(albedo * shade[:, None], 0.0, 1.0)
        rgba[ray_idx, 3] = 1.0
    img = rgba.reshape(size, supersample, size, supersample, 4).mean(axis=(1, 3))
    # store straight (not premultiplied) colour, as PNG viewers and NeRF readers expect
    alpha = img[:, :, 3:]
    img[:, :, :3] = np.where(alpha > 0, img[:, :, :3] / np.maximum(alpha, 1e-12), 0.0)
    return img


def _barycentric(mesh, tri_idx: np.ndarray, points: np.ndarray) -> np.ndarray:
    import trimesh

    return trimesh.triangles.points_to_barycentric(mesh.triangles[tri_idx], points)


def make_scene(mesh_path: str | Path, out: str | Path, views: int = 50, size: int = 100, val_views: int = 0,
               test_views: int = 8, supersample: int = 2, seed: int = 0, overwrite: bool = False,
               format: str = "blender") -> Path:
    """Render `views` training, `val_views` and `test_views` RGBA images of size x size into `out`, written
    in the dialect `format` ("blender" or "nerfstudio"). No val views by default: aire fits on train and
    evaluates on test; a split with no views is not written."""
    if format not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    for name, value, low in (("views", views, 1), ("size", size, 2), ("val_views", val_views, 0),
                             ("test_views", test_views, 1), ("supersample", supersample, 1)):
        if not isinstance(value, int) or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    check_out_dir(out, overwrite, [mesh_path])  # before minutes of rendering, not after
    mesh = normalise(load_mesh(mesh_path))
    intersector = _intersector(mesh)
    focal = focal_from_angle(CAMERA_ANGLE_X, size)
    splits = {}
    for k, (name, n) in enumerate((("train", views), ("val", val_views), ("test", test_views))):
        if n == 0:
            continue
        poses = np.stack([look_at(p) for p in sphere_positions(n, CAMERA_RADIUS, seed=seed * 3 + k)])
        with phase(f"{name} views: ray casting {n} view{'s' if n != 1 else ''} of {size}x{size}"):
            rgba = np.stack([render_view(mesh, intersector, pose, size, focal, supersample) for pose in poses])
        splits[name] = ((rgba * 255.0 + 0.5).astype(np.uint8), poses)
    extra = {"aire_scene": {"mesh": Path(mesh_path).name, "bound": 1.0, "camera_radius": CAMERA_RADIUS,
                            "near": CAMERA_RADIUS - math.sqrt(3.0), "far": CAMERA_RADIUS + math.sqrt(3.0)}}
    if format == "nerfstudio":
        return nerfstudio_format.write_scene(out, splits, Intrinsics.pinhole(focal, size, size), extra=extra,
                                             overwrite=overwrite, inputs=[mesh_path])
    return blender_format.write_scene(out, splits, focal, extra=extra, overwrite=overwrite, inputs=[mesh_path])
