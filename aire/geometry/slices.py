"""Slices of a fitted SDF: the signed distance on the three axis-aligned planes through a point, as a
picture with labelled axes (normalised coordinates [-1, 1]^3), a colour bar and the zero level set."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from aire.figures import new_figure

#: (plane's fixed axis, horizontal axis, vertical axis) of the three slices
PLANES = ((0, 1, 2), (1, 0, 2), (2, 0, 1))
AXIS_NAMES = "xyz"


@torch.no_grad()
def sdf_slices(model: torch.nn.Module, resolution: int = 256, at: Sequence[float] = (0.0, 0.0, 0.0),
               chunk: int = 1 << 16) -> list[np.ndarray]:
    """The model's first output on the planes x = at[0], y = at[1], z = at[2] of [-1, 1]^3, each a
    (resolution, resolution) float32 array indexed [vertical, horizontal] with row 0 at -1 (PLANES:
    x-slice over (y, z), y-slice over (x, z), z-slice over (x, y))."""
    param = next(model.parameters())
    axis = torch.linspace(-1.0, 1.0, resolution, device=param.device, dtype=param.dtype)
    vert, horiz = torch.meshgrid(axis, axis, indexing="ij")
    out = []
    for fixed, h, v in PLANES:
        points = torch.empty(resolution * resolution, 3, device=param.device, dtype=param.dtype)
        points[:, fixed] = float(at[fixed])
        points[:, h], points[:, v] = horiz.reshape(-1), vert.reshape(-1)
        values = torch.cat([model(c)[:, 0] for c in points.split(chunk)])
        out.append(values.reshape(resolution, resolution).float().cpu().numpy())
    return out


def diverging_norm(slices: Sequence[np.ndarray]) -> Any:
    """The colour scale of the slice pictures: centred on 0, from -m to m for the largest finite |value| m
    of the slices (1 when they hold none), a matplotlib TwoSlopeNorm."""
    import matplotlib

    vmax = float(max(np.abs(s[np.isfinite(s)]).max() if np.isfinite(s).any() else 1.0 for s in slices)) or 1.0
    return matplotlib.colors.TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax)


def slices_picture(slices: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """The three slices (sdf_slices' order) side by side as one (R, 3 R + 2 gap, 3) float array in [0, 1]:
    plot_slices' diverging colours (RdBu_r centred on 0, blue inside, red outside, scaled by the largest
    |value|), vertical axis up, the slices separated by `gap` white columns. No axes or labels: the picture
    an experiment logger shows at each evaluation."""
    import matplotlib

    norm = diverging_norm(slices)
    colours = matplotlib.colormaps["RdBu_r"]
    pictures = [colours(norm(np.nan_to_num(s[::-1], nan=0.0)))[..., :3] for s in slices]  # row 0 at +1: up
    white = np.ones((pictures[0].shape[0], gap, 3))
    return np.concatenate([pictures[0], white, pictures[1], white, pictures[2]], axis=1)


def plot_slices(slices: Sequence[np.ndarray], at: Sequence[float] = (0.0, 0.0, 0.0), title: str = "") -> Any:
    """A matplotlib Figure of the three slices (sdf_slices' order): a diverging colour map centred on
    0 (blue inside, red outside) with a shared colour bar, the zero level set in black, axes labelled
    in normalised coordinates."""
    fig, axes = new_figure(1, 3, figsize=(13.0, 4.6))
    norm = diverging_norm(slices)
    image = None
    for ax, values, (fixed, h, v) in zip(axes, slices, PLANES):
        image = ax.imshow(values, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r", norm=norm)
        if values.min() < 0 < values.max():
            ax.contour(np.linspace(-1, 1, values.shape[1]), np.linspace(-1, 1, values.shape[0]), values, levels=[0.0],
                       colors="black", linewidths=1.2)
        ax.set_xlabel(f"{AXIS_NAMES[h]} (normalised)")
        ax.set_ylabel(f"{AXIS_NAMES[v]} (normalised)")
        ax.set_title(f"{AXIS_NAMES[fixed]} = {float(at[fixed]):.2f}")
        ax.set_aspect("equal")
    fig.colorbar(image, ax=list(axes), shrink=0.85,
                 label="signed distance (normalised units)")
    fig.suptitle((title or "SDF slices") + " (negative inside; black line: the surface)")
    return fig


def write_slices(model: torch.nn.Module, path: str | Path, resolution: int = 256,
                 at: Sequence[float] = (0.0, 0.0, 0.0), title: str = "") -> Path:
    """sdf_slices + plot_slices written to `path` (PNG, atomically)."""
    from aire.figures import save_figure

    return save_figure(plot_slices(sdf_slices(model, resolution, at), at, title), path, dpi=100)
