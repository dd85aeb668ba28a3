"""Pictures of meshes by ray casting (trimesh; Embree through embreex when installed): shaded
views coloured by a per-vertex value, e.g. the distance to the ground-truth surface."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

from aire.figures import new_figure, save_figure
import numpy as np  # noqa: E402
import trimesh  # noqa: E402


AXES = {"x": 0, "y": 1, "z": 2}


def look_at_rays(eye: np.ndarray, size: int, fov_degrees: float = 40.0, up: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions (size*size, 3) of a pinhole camera at `eye` looking at the origin,
    with the `up` axis pointing up in the picture."""
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, np.eye(3)[AXES[up]])
    if np.linalg.norm(right) < 1e-8:  # looking along the up axis
        right = np.eye(3)[(AXES[up] + 1) % 3]
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    half = math.tan(math.radians(fov_degrees) / 2.0)
    s = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    u, v = np.meshgrid(s * half, -s * half)  # row 0 at the top
    directions = forward + u[..., None] * right + v[..., None] * up
    directions = directions.reshape(-1, 3)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return np.broadcast_to(eye, directions.shape).copy(), directions


def render_values(mesh: trimesh.Trimesh, vertex_values: np.ndarray, eye: np.ndarray, size: int,
                  cmap: str, vmax: float, up: str = "y") -> np.ndarray:
    """One view (size, size, 4) RGBA: colour = cmap(value / vmax) interpolated at the hit, Lambert-shaded
    by a headlight; transparent where no ray hits."""
    origins, directions = look_at_rays(eye, size, up=up)
    image = np.zeros((size * size, 4))
    if len(mesh.faces):
        locations, rays, tris = mesh.ray.intersects_location(origins, directions, multiple_hits=False)
        if len(rays):
            bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tris], locations)
            values = np.einsum("ij,ij->i", bary, vertex_values[mesh.faces[tris]])
            colours = matplotlib.colormaps[cmap](np.clip(values / vmax, 0.0, 1.0))
            shade = 0.35 + 0.65 * np.abs(np.einsum("ij,ij->i", mesh.face_normals[tris], directions[rays]))
            image[rays, :3] = colours[:, :3] * shade[:, None]
            image[rays, 3] = 1.0
    return image.reshape(size, size, 4)


def view_eyes(count: int = 3, distance: float = 3.2, elevation_degrees: float = 20.0, up: str = "y") -> list[np.ndarray]:
    """Camera positions evenly spaced in azimuth around the `up` axis, slightly above the horizon."""
    el = math.radians(elevation_degrees)
    u = AXES[up]
    a1, a2 = (u + 1) % 3, (u + 2) % 3
    eyes = []
    for azimuth in np.linspace(0.0, 2.0 * math.pi, count, endpoint=False) + math.pi / 6:
        eye = np.zeros(3)
        eye[a1], eye[a2], eye[u] = math.sin(azimuth) * math.cos(el), math.cos(azimuth) * math.cos(el), math.sin(el)
        eyes.append(distance * eye)
    return eyes


def view_label(eye: np.ndarray, up: str = "y") -> str:
    """Where a view's camera is, in the mesh's normalised frame, as two title lines: its azimuth about the
    `up` axis, measured from the + side of one horizontal axis towards the other (as `view_eyes` places
    them: from +x towards +z for y up), and its elevation above the horizon, in degrees."""
    eye = np.asarray(eye, dtype=np.float64)
    u = AXES[up]
    a1, a2 = (u + 1) % 3, (u + 2) % 3
    names = "xyz"
    elevation = math.degrees(math.asin(eye[u] / np.linalg.norm(eye)))
    azimuth = math.degrees(math.atan2(eye[a1], eye[a2])) % 360.0
    return (f"camera azimuth {azimuth:.0f}° (+{names[a2]} towards +{names[a1]})\n"
            f"elevation {elevation:.0f}°, {up} up")


def plot_distance_views(mesh: trimesh.Trimesh, vertex_distance: np.ndarray, vmax: float, path: str | Path,
                        size: int = 320, views: int = 3, title: str = "", eyes: Sequence[np.ndarray] | None = None,
                        up: str = "y") -> Path:
    """The reconstruction from a few views, coloured dark blue (distance 0) to dark red (>= vmax)."""
    eyes = list(eyes) if eyes is not None else view_eyes(views, up=up)
    fig, axes = new_figure(1, len(eyes), figsize=(3.2 * len(eyes) + 0.8, 3.6), squeeze=False)
    axes = axes[0]
    for ax, eye in zip(axes, eyes):
        ax.imshow(render_values(mesh, vertex_distance, eye, size, "jet", vmax, up=up))
        ax.set_title(view_label(eye, up), fontsize=9)
        ax.set_axis_off()
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0.0, vmax), cmap="jet")
    fig.colorbar(mappable, ax=list(axes), shrink=0.8, label="distance to ground truth (normalised units)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=100)
