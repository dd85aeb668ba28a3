"""`aire render RUN`: new pictures from a fitted model, without fitting again.

* image runs: the image at any resolution (``--size W H``, ``--scale S``) or a zoomed window
  (``--window x0 y0 x1 y1``) in the normalised coordinates the model was fitted on: x across the
  columns, y down the rows, both in [-1, 1] over the fitted image, corner pixels at the corners
  (aire.signals.image's grid: pixel (i, j) of an H x W render of the window sits at
  (y0 + (y1 - y0) i / (H - 1), x0 + (x1 - x0) j / (W - 1))). A render at the fitted resolution is the
  model's reconstruction exactly.
* NeRF runs: the scene's test cameras (default), a turntable (``--turntable N``) or a camera path file
  (``--camera-path``; aire.signals.nerf.camera_path), written as one PNG, an animated GIF or a folder
  of PNG frames.
* SDF runs: the mesh of the zero level set (a mesh file name: aire.mesh_export) or the three
  axis-aligned slices (a .png: aire.geometry.slices).

Outputs go through aire.atomic: an existing file or folder is replaced only with ``--overwrite``, and
never the run's own records or its input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from aire.errors import InputError

if TYPE_CHECKING:  # the command line's --help imports this module: torch only where a model is used
    import torch

    from aire.saved_run import SavedRun

#: largest side, in pixels, of a render
MAX_SIDE = 16384
#: file types of a single picture
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: options that only apply to some kinds of run (argparse dest -> kinds)
KIND_OPTIONS = {"window": ("image",), "turntable": ("nerf",), "camera_path": ("nerf",), "scene": ("nerf",),
                "fps": ("nerf",), "resolution": ("sdf",), "at": ("sdf",), "normalised": ("sdf",),
                "keep_largest_component": ("sdf",), "size": ("image", "nerf"), "scale": ("image", "nerf")}

WINDOW_HELP = ("render only the window x0 <= x <= x1, y0 <= y <= y1 of the normalised coordinates the model was "
               "fitted on: x across the columns and y down the rows, each from -1 (first pixel) to 1 (last), "
               "e.g. --window -0.5 -0.5 0.5 0.5 zooms 2x into the centre (image runs)")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`aire render` on the subcommand set `sub`."""
    p = sub.add_parser("render", help="render a fitted model again: any resolution or window, NeRF views, SDF mesh "
                                      "or slices")
    p.add_argument("run", type=Path, help="a fit's output folder or its model .safetensors")
    p.add_argument("--out", type=Path, required=True,
                   help="image run: .png/.jpg/.tif; NeRF: .png (one view), .gif (animation) or a folder of PNG frames; "
                        "SDF: a mesh file (.ply, .obj, .off, .stl, .glb) or .png (slices)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), help="output size in pixels (image and NeRF runs)")
    p.add_argument("--scale", type=float, help="output size as a multiple of the fitted one, e.g. 4")
    p.add_argument("--window", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help=WINDOW_HELP)
    cams = p.add_mutually_exclusive_group()
    cams.add_argument("--turntable", type=int, metavar="N",
                      help="NeRF: N views circling the scene's centre at the test cameras' mean distance and elevation")
    cams.add_argument("--camera-path", type=Path, metavar="FILE",
                      help="NeRF: nerfstudio's camera_path.json or a JSON list of 4x4 camera-to-world matrices")
    p.add_argument("--scene", type=Path, help="NeRF: the scene whose test cameras to use (default: the one fitted)")
    p.add_argument("--fps", type=float, help="NeRF: frames per second of a .gif (default 12)")
    p.add_argument("--resolution", type=int, help="SDF: grid points per axis of the mesh or the slices (default 256)")
    p.add_argument("--at", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="SDF: the point the slices pass through, normalised coordinates (default 0 0 0)")
    p.add_argument("--normalised", action="store_true", default=None,
                   help="SDF mesh: keep the unit-cube frame instead of the mesh's original one")
    p.add_argument("--keep-largest-component", action="store_true", default=None,
                   help="SDF mesh: write only the connected piece with the most faces")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output that is not an input")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


# ---------------------------------------------------------------- images
def image_coords(height: int, width: int, window: Sequence[float] = (-1.0, -1.0, 1.0, 1.0)) -> "torch.Tensor":
    """(H*W, 2) coordinates (row, column), row-major, of an H x W render of `window` = (x0, y0, x1, y1):
    rows evenly from y0 to y1, columns from x0 to x1, both ends included (the image signal's pixel grid
    when the window is the whole [-1, 1]^2)."""
    import torch

    x0, y0, x1, y1 = (float(v) for v in window)
    rows = torch.linspace(y0, y1, height)
    cols = torch.linspace(x0, x1, width)
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)


def render_image(net: "torch.nn.Module", height: int, width: int, window: Sequence[float] = (-1.0, -1.0, 1.0, 1.0),
                 *, chunk: int = 1 << 16, progress: bool = False) -> np.ndarray:
    """The image network's picture (H, W, C) float32 in [0, 1] over `window` (image_coords), evaluated
    `chunk` pixels at a time; the values map from [-1, 1] as the image signal fits them."""
    import torch
    from tqdm.auto import tqdm

    device = next(net.parameters()).device
    coords = image_coords(height, width, window)
    with torch.no_grad():
        chunks = tqdm(coords.split(chunk), disable=not progress, delay=1.0, desc="render", unit="chunk", leave=False)
        parts = [net(c.to(device)) for c in chunks]
    out = torch.cat(parts).clamp(-1, 1).add(1).div(2).float().cpu().numpy()
    return out.reshape(height, width, -1)


def to_uint8(picture: np.ndarray) -> np.ndarray:
    """[0, 1] floats as 8-bit values, rounded as reconstruction.png is; (H, W, 1) becomes (H, W)."""
    out = (np.asarray(picture) * 255.0 + 0.5).astype(np.uint8)
    return out[..., 0] if out.ndim == 3 and out.shape[-1] == 1 else out


def _check_size(width: int, height: int, what: str) -> tuple[int, int]:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise InputError(f"{what} gives {width}x{height} pixels; each side must be in [1, {MAX_SIDE}]")
    return width, height


def output_size(base: tuple[int, int] | None, size: Sequence[int] | None, scale: float | None,
                what: str = "the run") -> tuple[int, int]:
    """(W, H) of a render: `size` as given, else `base` (the fitted W, H) times `scale` (rounded), else
    `base`. InputError when both are given, when the result is out of range, or when `base` is
    needed and unknown."""
    if size is not None and scale is not None:
        raise InputError("give --size or --scale, not both")
    if size is not None:
        return _check_size(int(size[0]), int(size[1]), "--size")
    if base is None:
        raise InputError(f"{what} records no fitted resolution; give --size W H")
    if scale is None:
        return base
    if not scale > 0:
        raise InputError(f"--scale must be positive, got {scale}")
    return _check_size(round(base[0] * scale), round(base[1] * scale), f"--scale {scale:g}")


def _render_image_run(run: SavedRun, args: argparse.Namespace) -> tuple[np.ndarray, str]:
    record = run.signal_record
    base = (int(record["width"]), int(record["height"])) if "width" in record and "height" in record else None
    width, height = output_size(base, args.size, args.scale, f"{run.run_dir}")
    window = tuple(args.window) if args.window is not None else (-1.0, -1.0, 1.0, 1.0)
    x0, y0, x1, y1 = window
    if not all(np.isfinite(window)) or not (x0 < x1 and y0 < y1):
        raise InputError(f"--window needs x0 < x1 and y0 < y1 (finite), got {' '.join(f'{v:g}' for v in window)}")
    picture = render_image(run.model, height, width, window, progress=not args.quiet)
    where = "" if args.window is None else f", window x [{x0:g}, {x1:g}] y [{y0:g}, {y1:g}]"
    return picture, f"{width}x{height} pixels{where}"


# ---------------------------------------------------------------- NeRF
def _recorded_camera(run: SavedRun) -> Any:
    from aire.signals.nerf.cameras import Intrinsics

    k = run.signal_record.get("intrinsics")
    try:
        return Intrinsics(**k) if isinstance(k, dict) else None
    except (TypeError, InputError):
        return None


def _test_split(run: SavedRun, scene: Path | None) -> Any:
    from aire.signals.nerf.scene_format import read_split

    scene = scene or run.input_path
    if scene is None:
        raise InputError(f"{run.run_dir} records no scene; give --scene DIR")
    if not scene.exists():
        raise InputError(f"the scene {scene} is gone; give --scene DIR")
    return read_split(scene, "test", run.signal_settings.get("size"))


def nerf_cameras(run: SavedRun, args: argparse.Namespace) -> tuple[list[tuple[np.ndarray, Any]], str]:
    """(c2w, intrinsics) of every frame to render, sized by --size/--scale, and what they are."""
    from aire.signals.nerf.camera_path import read_camera_path, turntable_poses

    if args.camera_path is not None:
        cameras = read_camera_path(args.camera_path, _recorded_camera(run))
        what = f"{len(cameras)} views of {args.camera_path}"
    elif args.turntable is not None:
        split = _test_split(run, args.scene)
        cameras = [(pose, split.intrinsics[0]) for pose in turntable_poses(split.poses, args.turntable)]
        what = f"a turntable of {len(cameras)} view{'' if len(cameras) == 1 else 's'}"
    else:
        split = _test_split(run, args.scene)
        cameras = list(zip(split.poses, split.intrinsics))
        what = f"{len(cameras)} test views"
    sized = []
    for pose, k in cameras:
        width, height = output_size((k.width, k.height), args.size, args.scale)
        sized.append((pose, k if (width, height) == (k.width, k.height) else k.resized(width, height)))
    return sized, what


def render_nerf(model: Any, cameras: Sequence[tuple[np.ndarray, Any]], progress: bool = False) -> list[np.ndarray]:
    """(H, W, 3) float32 pictures in [0, 1] of `model` (a NerfModel) seen by each (c2w, intrinsics)."""
    from tqdm.auto import tqdm

    return [model.render_view(pose, k).cpu().numpy()
            for pose, k in tqdm(cameras, disable=not progress, delay=1.0, desc="render", unit="view", leave=False)]


# ---------------------------------------------------------------- the command
def _refuse_options(run: SavedRun, args: argparse.Namespace) -> None:
    for dest, kinds in KIND_OPTIONS.items():
        if getattr(args, dest, None) is not None and run.kind not in kinds:
            flag = "--" + dest.replace("_", "-")
            raise InputError(f"{flag} applies to {' and '.join(kinds)} runs; {args.run} is a {run.kind} run")


def _check_out(run: SavedRun, args: argparse.Namespace, folder: bool) -> list[Path]:
    from aire.atomic import check_out_dir, check_out_file

    inputs = [*run.protected(), *([args.camera_path] if getattr(args, "camera_path", None) else [])]
    if folder:
        check_out_dir(args.out, args.overwrite, inputs)
    else:
        check_out_file(args.out, args.overwrite, inputs, records=run.run_dir)
    return inputs


def _write_picture(picture: np.ndarray, out: Path) -> None:
    import imageio.v3 as iio

    from aire.atomic import atomic_file

    with atomic_file(out) as tmp:
        iio.imwrite(tmp, to_uint8(picture))


def cmd_render(args: argparse.Namespace) -> int:
    """`aire render`: see the module docstring."""
    from aire.atomic import one_writer
    from aire.devices import resolve_device
    from aire.saved_run import open_run

    run = open_run(args.run, device=str(resolve_device(args.device)))
    _refuse_options(run, args)
    suffix = args.out.suffix.lower()
    if run.kind == "image":
        if suffix not in PICTURE_SUFFIXES:
            raise InputError(f"--out {args.out}: an image render is one of {', '.join(PICTURE_SUFFIXES)}")
        _check_out(run, args, folder=False)
        with one_writer(args.out):
            picture, what = _render_image_run(run, args)
            _write_picture(picture, args.out)
        print(f"render: {args.out}  ({what})")
        return 0
    if run.kind == "sdf":
        return _render_sdf(run, args, suffix)
    if run.kind != "nerf":
        raise InputError(f"aire render knows image, sdf and nerf runs; {args.run} is a {run.kind} run")
    return _render_nerf_run(run, args, suffix)


def write_frames(frames: Sequence[np.ndarray], out: Path, *, fps: float = 12.0, overwrite: bool = False,
                 inputs: Sequence[Path] = ()) -> None:
    """uint8 frames (H, W, 3) written atomically: a folder of frame_NNNN.png when `out` has no suffix, an
    animated GIF at `fps` for .gif, else the single frame as a picture."""
    import imageio.v3 as iio

    from aire.atomic import atomic_file, atomic_folder

    if out.suffix == "":
        with atomic_folder(out, kind="render", overwrite=overwrite, inputs=inputs) as tmp:
            for i, frame in enumerate(frames):
                iio.imwrite(tmp / f"frame_{i:04d}.png", frame)
        return
    with atomic_file(out) as tmp:
        if out.suffix.lower() == ".gif":
            iio.imwrite(tmp, np.stack(frames), duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, frames[0])


def _render_nerf_run(run: SavedRun, args: argparse.Namespace, suffix: str) -> int:
    from aire.atomic import one_writer

    if args.fps is not None and not args.fps > 0:
        raise InputError(f"--fps must be positive, got {args.fps}")
    if suffix not in ("", ".png", ".gif"):
        raise InputError(f"--out {args.out}: a NeRF render is a .png (one view), a .gif or a folder (no suffix)")
    inputs = _check_out(run, args, folder=suffix == "")
    cameras, what = nerf_cameras(run, args)
    if suffix == ".png" and len(cameras) != 1:
        raise InputError(f"--out {args.out}: {what} do not fit in one .png; give a .gif or a folder, or one view "
                         "with --turntable 1 or a --camera-path of one camera")
    if suffix == ".gif" and len({(k.width, k.height) for _, k in cameras}) > 1:
        raise InputError(f"--out {args.out}: the views differ in size; give a folder, or --size W H")
    with one_writer(args.out):
        frames = [to_uint8(p) for p in render_nerf(run.model, cameras, progress=not args.quiet)]
        write_frames(frames, args.out, fps=args.fps or 12.0, overwrite=args.overwrite, inputs=inputs)
    height, width = frames[0].shape[:2]
    print(f"render: {args.out}  ({what}, {width}x{height} pixels)")
    return 0


def _render_sdf(run: SavedRun, args: argparse.Namespace, suffix: str) -> int:
    from aire.atomic import one_writer
    from aire.geometry.mesh_io import MESH_SUFFIXES

    resolution = 256 if args.resolution is None else args.resolution
    if not 8 <= resolution <= 2048:
        raise InputError(f"--resolution must be in [8, 2048], got {resolution}")
    if suffix in MESH_SUFFIXES:
        if args.at is not None:
            raise InputError("--at places slices; a mesh output has none (give a .png for slices)")
        _check_out(run, args, folder=False)
        from aire.mesh_export import export_sdf_mesh

        with one_writer(args.out):
            print(export_sdf_mesh(run.model, run.run_dir, args.out, resolution=resolution,
                                  normalised=bool(args.normalised),
                                  keep_largest_component=bool(args.keep_largest_component),
                                  progress=not args.quiet, name=args.run))
        return 0
    if suffix != ".png":
        raise InputError(f"--out {args.out}: an SDF render is a mesh ({', '.join(MESH_SUFFIXES)}) or a .png of slices")
    if args.normalised or args.keep_largest_component:
        raise InputError("--normalised and --keep-largest-component apply to a mesh output, not to slices")
    at = tuple(args.at) if args.at is not None else (0.0, 0.0, 0.0)
    if not all(-1.0 <= v <= 1.0 for v in at):
        raise InputError(f"--at must lie in the normalised cube [-1, 1]^3, got {' '.join(f'{v:g}' for v in at)}")
    _check_out(run, args, folder=False)
    from aire.geometry.slices import write_slices

    with one_writer(args.out):
        write_slices(run.model, args.out, resolution, at, title=f"{Path(args.run).name}: SDF slices")
    print(f"render: {args.out}  (x, y and z slices through {' '.join(f'{v:g}' for v in at)} at {resolution}x{resolution})",
          file=sys.stdout)
    return 0
