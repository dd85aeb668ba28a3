"""Pictures of meshes from a bounded random sample of their surface: the centres of at most N faces drawn
at random (seeded), each splatted as a small square with a z-buffer (nearest wins), coloured by a value
such as the distance to the ground-truth surface and shaded by a headlight. The cost is set by N, not by
the mesh: a 20-step SDF fit's 1M-vertex mesh is drawn as fast as a clean one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import matplotlib

from aire.figures import new_figure, save_figure
import numpy as np  # noqa: E402
import trimesh  # noqa: E402


AXES = {"x": 0, "y": 1, "z": 2}
#: the pinhole cameras' field of view, degrees
FOV_DEGREES = 40.0


class SurfaceSample(NamedTuple):
    """Face centres drawn from a mesh: `points` and unit `normals` (n, 3), the drawn `faces` (n,) indices,
    of `total` faces in all, and `area`, the mesh's surface area estimated from the drawn faces (exact when
    all were drawn)."""

    points: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    total: int
    area: float


def surface_sample(mesh: trimesh.Trimesh, count: int, seed: int = 0) -> SurfaceSample:
    """min(count, faces) faces of `mesh` drawn at random without replacement (numpy.random.default_rng(seed)),
    sorted by index: their centres and unit normals. Only the drawn faces are read, so the cost is bounded
    by `count`; marching cubes' triangles are of near-even size, so faces drawn evenly cover the surface
    about evenly."""
    faces = np.asarray(mesh.faces)
    n = min(int(count), len(faces))
    picked = np.arange(len(faces)) if n == len(faces) else \
        np.sort(np.random.default_rng(seed).choice(len(faces), size=n, replace=False))
    corners = np.asarray(mesh.vertices, dtype=np.float64)[faces[picked]]  # (n, 3 corners, 3)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    twice_area = np.linalg.norm(cross, axis=1)
    area = float(0.5 * twice_area.mean() * len(faces)) if n else 0.0
    normals = cross / np.where(twice_area > 0, twice_area, 1.0)[:, None]
    return SurfaceSample(corners.mean(axis=1), normals, picked, len(faces), area)


def camera_basis(eye: np.ndarray, up: str = "y") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, right, up) unit vectors of a camera at `eye` looking at the origin, the `up` axis up."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, np.eye(3)[AXES[up]])
    if np.linalg.norm(right) < 1e-8:  # looking along the up axis
        right = np.eye(3)[(AXES[up] + 1) % 3]
    right /= np.linalg.norm(right)
    return forward, right, np.cross(right, forward)


def splat_radius(sample: SurfaceSample, size: int, eye_distance: float, largest: int = 3) -> int:
    """Half-width in pixels (1..`largest`) of each point's square: 3/4 of the mean spacing sqrt(area / n) of
    the points, seen face-on at `eye_distance` in a `size`-pixel view, so that randomly drawn points leave
    few gaps (a mean-spaced grid would need half the spacing)."""
    if len(sample.points) == 0 or sample.area <= 0:
        return 1
    spacing = math.sqrt(sample.area / len(sample.points))
    pixels = spacing * size / (2.0 * math.tan(math.radians(FOV_DEGREES) / 2.0) * eye_distance)
    return int(min(largest, max(1, round(0.75 * pixels))))


def render_points(points: np.ndarray, normals: np.ndarray, values: np.ndarray, eye: np.ndarray, size: int,
                  cmap: str, vmax: float, up: str = "y", radius: int = 1) -> np.ndarray:
    """One view (size, size, 4) RGBA of a pinhole camera at `eye` looking at the origin (field of view
    FOV_DEGREES, pixel centres at (k + 0.5) / size across it, row 0 at the top): each point a
    (2 radius + 1)^2-pixel square, the nearest point winning each pixel (a z-buffer), coloured
    cmap(value / vmax) and Lambert-shaded by a headlight, 0.35 + 0.65 |normal . ray|; transparent where no
    point lands."""
    forward, right, upward = camera_basis(eye, up)
    half = math.tan(math.radians(FOV_DEGREES) / 2.0)
    rel = np.asarray(points, dtype=np.float64).reshape(-1, 3) - np.asarray(eye, dtype=np.float64)
    depth = rel @ forward
    front = depth > 1e-9
    rel, depth = rel[front], depth[front]
    normals, values = np.asarray(normals, dtype=np.float64)[front], np.asarray(values, dtype=np.float64)[front]
    col = np.rint(((rel @ right) / depth / half + 1.0) / 2.0 * size - 0.5).astype(np.int64)
    row = np.rint((1.0 - (rel @ upward) / depth / half) / 2.0 * size - 0.5).astype(np.int64)
    rays = rel / np.linalg.norm(rel, axis=1, keepdims=True)
    shade = 0.35 + 0.65 * np.abs(np.einsum("ij,ij->i", normals, rays))
    colours = matplotlib.colormaps[cmap](np.clip(values / vmax, 0.0, 1.0))[:, :3] * shade[:, None]
    offsets = np.arange(-radius, radius + 1)
    d_row, d_col = (o.ravel() for o in np.meshgrid(offsets, offsets, indexing="ij"))
    rows, cols = (row[:, None] + d_row).ravel(), (col[:, None] + d_col).ravel()
    owner = np.repeat(np.arange(len(depth)), len(d_row))
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    pixel, owner = rows[inside] * size + cols[inside], owner[inside]
    nearest = np.full(size * size, np.inf)
    np.minimum.at(nearest, pixel, depth[owner])
    wins = depth[owner] <= nearest[pixel]
    image = np.zeros((size * size, 4))
    image[pixel[wins], :3] = colours[owner[wins]]
    image[pixel[wins], 3] = 1.0
    return image.reshape(size, size, 4)


def plot_distance_views(sample: SurfaceSample, distance: np.ndarray, vmax: float, path: str | Path, size: int = 320,
                        views: int = 3, title: str = "", up: str = "y") -> Path:
    """The sampled surface from a few views (`view_eyes`), coloured dark blue (distance 0) to dark red
    (>= vmax), each titled with its camera (`view_label`), a colour bar in normalised units."""
    eyes = view_eyes(views, up=up)
    fig, axes = new_figure(1, len(eyes), figsize=(3.2 * len(eyes) + 0.8, 3.6 + (0.4 if title else 0.0)), squeeze=False)
    axes = axes[0]
    for ax, eye in zip(axes, eyes):
        radius = splat_radius(sample, size, float(np.linalg.norm(eye)))
        ax.imshow(render_points(sample.points, sample.normals, distance, eye, size, "jet", vmax, up=up, radius=radius))
        ax.set_title(view_label(eye, up), fontsize=9)
        ax.set_axis_off()
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0.0, vmax), cmap="jet")
    fig.colorbar(mappable, ax=list(axes), shrink=0.8, label="distance to ground truth (normalised units)")
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, dpi=100)


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
