"""SDF signal: points of the normalised cube [-1, 1]^3 mapped to signed distances to a mesh.

Contract: the mesh is moved into the unit cube with a margin (aire.geometry.mesh_io.Frame, recorded
in signal.json so exports return to the original frame) and its faces oriented as a solid
(aire.geometry.orientation: inside-out parts and faces reversed against their neighbours are repaired
with one warning); distances are negative inside and measured in normalised units. Loss: L1 (default) or L2 regression of the distance on a cached pool of
near-surface and uniform samples, plus optional eikonal (| |grad f| - 1 |) and normal-alignment
(1 - cos(grad f, n) near the surface) terms, both off by default: with exact distances at dense
samples the regression already pins the gradient, and either term costs a double backward pass.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh

from aire.errors import InputError
from aire.geometry import distance as gdist
from aire.geometry.extract import connected_components, evaluate_grid, extract_mesh, keep_largest_component, marching_cubes
from aire.geometry.mesh_io import Frame, load_mesh, validate_mesh, write_mesh_atomic
from aire.geometry.orientation import oriented
from aire.metrics.mesh import chamfer, iou
from aire.geometry.render import plot_distance_views, surface_sample
from aire.geometry.sampling import SampleSpec, grid_points, sdf_samples, surface_samples
from aire.hookspecs import hookimpl
from aire.interfaces import Signal
from aire.status import phase

SIGNAL_FILE = "signal.json"
#: colour scale of the distance picture: dark red at this fraction of the bounding-box diagonal
PICTURE_DISTANCE_FRACTION = 0.01


class SDFSignal(Signal):
    """Fit a signed distance function: coordinates (N, 3) -> distance (N, 1)."""

    quality_key = "iou"
    quality_targets = {"chamfer": ("chamfer_l1", False)}  # --target-chamfer: measured on an extracted mesh

    def __init__(self, path: str | Path | None = None, *, mesh: trimesh.Trimesh | None = None, samples: int = 250_000,
                 near_fraction: float = 0.8, scales: tuple[float, ...] = (0.002, 0.01, 0.05), margin: float = 0.1,
                 sign_method: str = "auto", loss: str = "l1", eikonal_weight: float = 0.0, normal_weight: float = 0.0,
                 eval_resolution: int = 128, mesh_resolution: int = 256, chamfer_samples: int = 100_000,
                 validation_samples: int = 20_000, picture_views: int = 3, picture_points: int = 20_000, up: str = "y",
                 cache: bool = True,
                 keep_largest_component: bool = False, fscore_threshold: float = 0.01, seed: int = 0) -> None:
        if (path is None) == (mesh is None):
            raise ValueError("give exactly one of path or mesh")
        self._check_settings(samples=samples, near_fraction=near_fraction, scales=scales, loss=loss,
                             eikonal_weight=eikonal_weight, normal_weight=normal_weight, eval_resolution=eval_resolution,
                             mesh_resolution=mesh_resolution, chamfer_samples=chamfer_samples, sign_method=sign_method,
                             picture_points=picture_points)
        self.path = Path(path) if path is not None else None
        original = load_mesh(path) if mesh is None else validate_mesh(mesh)
        self.frame = Frame.fit(np.asarray(original.vertices), margin)
        normalised = trimesh.Trimesh(self.frame.to_normalised(original.vertices), np.asarray(original.faces), process=False)
        # faces oriented as a solid (inside-out parts, faces reversed against their neighbours): one warning line
        name = self.path.name if self.path is not None else "the mesh"
        self.mesh, self.orientation = oriented(normalised, name)
        if sign_method == "pseudonormal" and not self.orientation.single_body:
            raise InputError(f"sign_method=pseudonormal needs one closed, consistently oriented body; {name} has "
                             f"{self.orientation.parts} part(s), {self.orientation.boundary_edges} boundary and "
                             f"{self.orientation.nonmanifold_edges} non-manifold edges: use sign_method=auto (winding number)")
        self.sign_method = gdist.sign_method_for(self.mesh, sign_method)
        self.in_features, self.out_features = 3, 1
        self.loss_kind, self.eikonal_weight, self.normal_weight = loss, float(eikonal_weight), float(normal_weight)
        self.eval_resolution, self.mesh_resolution = int(eval_resolution), int(mesh_resolution)
        self.chamfer_samples, self.picture_views, self.seed = int(chamfer_samples), int(picture_views), int(seed)
        self.picture_points = picture_points
        if up not in ("x", "y", "z"):
            raise InputError(f"up must be x, y or z (the mesh's vertical axis, for pictures), got {up!r}")
        self.up = up
        if not isinstance(keep_largest_component, bool):
            raise InputError(f"keep_largest_component must be true or false, got {keep_largest_component!r}")
        self.keep_largest_component = keep_largest_component
        if not (isinstance(fscore_threshold, (int, float)) and not isinstance(fscore_threshold, bool)
                and fscore_threshold > 0):
            raise InputError(f"fscore_threshold must be a positive distance (normalised units), got {fscore_threshold!r}")
        self.fscore_threshold = float(fscore_threshold)
        self.spec = SampleSpec(count=int(samples), near_fraction=near_fraction, scales=tuple(scales), seed=seed,
                               sign_method=self.sign_method)
        with phase(f"SDF samples: {int(samples) + int(validation_samples):,} points and their ground-truth "
                   f"distances ({self.sign_method} signs{'; cached for the next fit' if cache else ''})"):
            pool = sdf_samples(self.mesh, self.spec, use_cache=cache)
            validation = sdf_samples(self.mesh, SampleSpec(count=int(validation_samples), near_fraction=0.5,
                                                           scales=tuple(scales), seed=seed + 10_000,
                                                           sign_method=self.sign_method), use_cache=cache)
        self.points = torch.as_tensor(pool["points"], dtype=torch.float32)
        self.sdf = torch.as_tensor(pool["sdf"], dtype=torch.float32)[:, None]
        self.val_points = torch.as_tensor(validation["points"], dtype=torch.float32)
        self.val_sdf = torch.as_tensor(validation["sdf"], dtype=torch.float32)
        self.val_near = torch.arange(len(self.val_sdf)) < int(round(0.5 * len(self.val_sdf)))
        self.normals = self._normals_of_pool() if normal_weight > 0 else None
        self._grid_occupancy: np.ndarray | None = None

    @staticmethod
    def _check_settings(**s: Any) -> None:
        if s["samples"] < 1000:
            raise InputError(f"samples must be at least 1000, got {s['samples']}")
        if not 0.0 <= s["near_fraction"] <= 1.0:
            raise InputError(f"near_fraction must be in [0, 1], got {s['near_fraction']}")
        if not s["scales"] or any(not (float(x) > 0) for x in s["scales"]):
            raise InputError(f"scales must be positive noise levels, got {s['scales']}")
        if s["loss"] not in ("l1", "l2"):
            raise InputError(f"loss must be l1 or l2, got {s['loss']!r}")
        for key in ("eikonal_weight", "normal_weight"):
            if not float(s[key]) >= 0:
                raise InputError(f"{key} must be >= 0, got {s[key]}")
        for key in ("eval_resolution", "mesh_resolution"):
            if not 8 <= int(s[key]) <= 2048:
                raise InputError(f"{key} must be in [8, 2048], got {s[key]}")
        if s["chamfer_samples"] < 100:
            raise InputError(f"chamfer_samples must be at least 100, got {s['chamfer_samples']}")
        points = s["picture_points"]
        if isinstance(points, bool) or not isinstance(points, int) or points < 1:
            raise InputError(f"picture_points must be an integer >= 1 (surface points drawn in distance.png), "
                             f"got {points!r}")
        if s["sign_method"] not in gdist.SIGN_METHODS:
            raise InputError(f"sign_method must be one of {', '.join(gdist.SIGN_METHODS)}, got {s['sign_method']!r}")

    def _normals_of_pool(self) -> torch.Tensor:
        """Unit normals of the nearest surface point for pool samples (zero for uniform samples)."""
        near = int(round(self.spec.count * self.spec.near_fraction))
        _, normals = surface_samples(self.mesh, near, self.spec.seed)  # the same draw as the pool's base points
        out = np.zeros((self.spec.count, 3))
        out[:near] = normals
        return torch.as_tensor(out, dtype=torch.float32)

    # ------------------------------------------------------------ training
    def to(self, device: torch.device | str) -> "SDFSignal":
        for name in ("points", "sdf", "val_points", "val_sdf", "val_near", "normals"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        return self

    def sample(self, batch_size: int | None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(points, targets): targets are (B, 1) distances, or (B, 4) distance + normal with normal_weight."""
        targets = self.sdf if self.normals is None else torch.cat([self.sdf, self.normals], dim=1)
        if batch_size is None or batch_size >= self.points.shape[0]:
            return self.points, targets
        idx = torch.randint(0, self.points.shape[0], (batch_size,), generator=generator).to(self.points.device)
        return self.points[idx], targets[idx]

    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = prediction[:, :1] - target[:, :1]
        return error.abs().mean() if self.loss_kind == "l1" else (error ** 2).mean()

    def training_loss(self, model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.eikonal_weight == 0 and self.normal_weight == 0:
            return self.loss(model(inputs), targets)
        inputs = inputs.detach().requires_grad_(True)
        prediction = model(inputs)
        grad = torch.autograd.grad(prediction[:, 0].sum(), inputs, create_graph=True)[0]
        total = self.loss(prediction, targets)
        if self.eikonal_weight:
            total = total + self.eikonal_weight * (grad.norm(dim=1) - 1.0).abs().mean()
        if self.normal_weight:
            normals = targets[:, 1:4]
            band = (normals.abs().sum(dim=1) > 0) & (targets[:, 0].abs() < 0.01)
            if bool(band.any()):
                cos = torch.nn.functional.cosine_similarity(grad[band], normals[band], dim=1)
                total = total + self.normal_weight * (1.0 - cos).mean()
        return total

    # ------------------------------------------------------------ metrics
    @torch.no_grad()
    def predict(self, model: torch.nn.Module, points: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
        return torch.cat([model(c)[:, 0] for c in points.split(chunk)])

    #: grid points per side of the slices preview() shows
    PREVIEW_RESOLUTION = 96

    @torch.no_grad()
    def preview(self, model: torch.nn.Module) -> np.ndarray:
        """The fitted SDF on the planes x = 0, y = 0, z = 0 of the normalised cube, side by side as an
        (R, 3 R + 4, 3) float array in [0, 1] (R = PREVIEW_RESOLUTION; blue inside, red outside,
        aire.geometry.slices.slices_picture): the picture experiment loggers show at each evaluation."""
        from aire.geometry.slices import sdf_slices, slices_picture

        return slices_picture(sdf_slices(model, self.PREVIEW_RESOLUTION))

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        """Cheap metrics on held-out points: sdf_mae near the surface and a Monte-Carlo volume IoU
        (occupancy of the uniform held-out points)."""
        pred = self.predict(model, self.val_points)
        mae = float((pred[self.val_near] - self.val_sdf[self.val_near]).abs().mean())
        far = ~self.val_near
        return {"sdf_mae": mae, "iou": iou((pred[far] < 0).cpu().numpy(), (self.val_sdf[far] < 0).cpu().numpy())}

    def grid_occupancy(self) -> np.ndarray:
        """Ground-truth inside/outside on the eval_resolution^3 grid (computed once)."""
        if self._grid_occupancy is None:
            points = grid_points(self.eval_resolution)
            self._grid_occupancy = gdist.occupancy(self.mesh, points, self.sign_method).reshape((self.eval_resolution,) * 3)
        return self._grid_occupancy

    def final_metrics(self, model: torch.nn.Module) -> dict[str, float]:
        """Chamfer (L1, squared), normal consistency on an extracted mesh (its largest connected component
        only, with keep_largest_component), the mesh's number of connected components, and IoU on the grid
        (of the whole volume either way)."""
        with phase(f"final metrics: the model on a {self.eval_resolution}^3 grid, marching cubes"):
            volume = evaluate_grid(model, self.eval_resolution)
            reconstruction = marching_cubes(volume)
            components = len(connected_components(reconstruction))
        if self.keep_largest_component:
            reconstruction, _ = keep_largest_component(reconstruction)
        with phase(f"final metrics: Chamfer distance on {self.chamfer_samples:,} samples per surface"):
            metrics = chamfer(reconstruction, self.mesh, self.chamfer_samples, seed=self.seed,
                              fscore_threshold=self.fscore_threshold)
        metrics["mesh_components"] = components
        metrics["mesh_components_kept"] = min(components, 1) if self.keep_largest_component else components
        with phase(f"final metrics: ground-truth occupancy of the {self.eval_resolution}^3 grid"):
            occupancy = self.grid_occupancy()
        metrics["iou_grid"] = iou(volume < 0, occupancy)
        metrics["eval_resolution"] = self.eval_resolution
        return metrics

    # ------------------------------------------------------------ export
    def export(self, model: torch.nn.Module, out_dir: Path) -> list[Path]:
        """mesh.ply (original frame), distance.png (coloured by distance to the ground truth, drawn from at most
        `picture_points` face centres of the mesh drawn at random with `seed`, so its cost does not grow with the
        mesh), signal.json."""
        out_dir = Path(out_dir)
        with phase(f"mesh.ply: marching cubes at {self.mesh_resolution}^3"):
            normalised = extract_mesh(model, self.mesh_resolution)
        paths = [write_signal_info(out_dir, self.frame, self.describe())]
        if len(normalised.faces) == 0:
            warnings.warn("the fitted SDF has no zero level set on the grid: no mesh written", stacklevel=2)
            return paths
        if self.keep_largest_component:
            normalised, _ = keep_largest_component(normalised)
        mesh = trimesh.Trimesh(self.frame.to_original(normalised.vertices), normalised.faces, process=False)
        paths.append(write_mesh_atomic(mesh, out_dir / "mesh.ply"))
        sample = surface_sample(normalised, self.picture_points, seed=self.seed)
        with phase(f"distance.png: distances of {len(sample.points):,} surface points to the ground truth, pictures"):
            distance = gdist.unsigned_distance(self.mesh, sample.points)
            vmax = PICTURE_DISTANCE_FRACTION * float(np.linalg.norm(np.ptp(self.mesh.vertices, axis=0)))
            drawn = (f"all {sample.total:,} faces' centres" if len(sample.points) == sample.total else
                     f"{len(sample.points):,} of {sample.total:,} faces' centres, drawn at random (seed {self.seed})")
            paths.append(plot_distance_views(sample, distance, vmax, out_dir / "distance.png", views=self.picture_views,
                                             up=self.up, title=f"distance to ground truth at {drawn}\n(dark red >= "
                                                               f"{PICTURE_DISTANCE_FRACTION:g} of the bounding-box diagonal)"))
        return paths

    def describe(self) -> dict[str, Any]:
        return {"kind": "sdf", "path": str(self.path.resolve()) if self.path else None, "vertices": int(len(self.mesh.vertices)),
                "faces": int(len(self.mesh.faces)), "watertight": bool(self.mesh.is_watertight),
                "sign_method": self.sign_method, "orientation": self.orientation.as_dict(), "frame": self.frame.as_dict(), "samples": self.spec.count,
                "near_fraction": self.spec.near_fraction, "scales": list(self.spec.scales), "loss": self.loss_kind,
                "eikonal_weight": self.eikonal_weight, "normal_weight": self.normal_weight,
                "eval_resolution": self.eval_resolution, "mesh_resolution": self.mesh_resolution,
                "picture_points": self.picture_points,
                "keep_largest_component": self.keep_largest_component}


def write_signal_info(out_dir: Path, frame: Frame, description: dict[str, Any]) -> Path:
    """signal.json: what `aire export-mesh` needs to put a mesh back in the original frame."""
    path = Path(out_dir) / SIGNAL_FILE
    path.write_text(json.dumps({**description, "frame": frame.as_dict()}, indent=2))
    return path


def read_frame(run_dir: Path) -> Frame | None:
    """The normalisation frame recorded next to a fitted SDF model, if any."""
    path = Path(run_dir) / SIGNAL_FILE
    if not path.is_file():
        return None
    try:
        frame = json.loads(path.read_text())["frame"]
        return Frame(centre=tuple(frame["centre"]), scale=float(frame["scale"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read the frame in {path}: {exc}") from None


@hookimpl
def aire_add_signals() -> dict:
    return {"sdf": SDFSignal}
