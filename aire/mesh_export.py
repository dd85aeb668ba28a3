"""A fitted SDF model's zero level set written as a mesh file: what `aire export-mesh` and
`aire render` of an SDF run do (grid evaluation, marching cubes, the run's original frame from its
signal.json, optionally only the largest connected component, written atomically)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import trimesh

from aire.errors import InputError


def export_sdf_mesh(net: torch.nn.Module, run_dir: Path, out: Path, *, resolution: int = 256, normalised: bool = False,
                    keep_largest_component: bool = False, progress: bool = True, name: str | Path = "") -> str:
    """Write the zero level set of the SDF network `net` (3 -> 1; `name` says which model in errors) to
    `out` and return the one-line summary the commands print. Messages about the frame and dropped
    components go to stderr. InputError when `net` is not an SDF or its level set misses the grid."""
    from aire.geometry.extract import extract_mesh
    from aire.geometry.mesh_io import write_mesh_atomic
    from aire.interfaces import Model
    from aire.signals.sdf import read_frame

    name = name or run_dir
    if isinstance(net, Model):
        raise InputError(f"{name} is a {net.kind} model, not an SDF: a mesh is an SDF's zero level set")
    in_features = net.weights[0].shape[1]
    if net.widths()[-1] != 1 or in_features != 3:
        raise InputError(f"{name} is not an SDF model (3 inputs, 1 output); it maps {in_features} -> {net.widths()[-1]}")
    frame = None if normalised else read_frame(run_dir)
    if frame is None and not normalised:
        print(f"aire: warning: no signal.json in {run_dir}; writing the mesh in the normalised frame", file=sys.stderr)
    mesh = extract_mesh(net, resolution, progress=progress)
    if len(mesh.faces) == 0:
        raise InputError(f"the model's zero level set does not cross the {resolution}^3 grid: no surface to export")
    if keep_largest_component:
        from aire.geometry.extract import keep_largest_component as largest

        mesh, dropped = largest(mesh)
        print(f"kept the largest connected component; dropped {dropped} smaller one{'s' * (dropped != 1)}",
              file=sys.stderr)
    if frame is not None:
        mesh = trimesh.Trimesh(frame.to_original(mesh.vertices), mesh.faces, process=False)
    write_mesh_atomic(mesh, out)
    return (f"mesh: {out}  ({len(mesh.vertices)} vertices, {len(mesh.faces)} faces, "
            f"{'watertight' if mesh.is_watertight else 'not watertight'}, "
            f"{'normalised' if frame is None else 'original'} frame)")
