"""`aire eval RUN --on DATA`: the metrics of a saved model against a signal's data.

DATA is read as the signal the run was fitted to, with the run's own signal settings (config.json:
the fitted resolution of an image, the SDF's sampling, the NeRF scene's size), so a run evaluated on
its own input gives the metrics its fit reported. The metrics are the signal plugin's own:
``evaluate`` (the periodic ones) plus ``final_metrics`` (the end-of-fit ones): for an image PSNR, SSIM
and MS-SSIM (aire.metrics.image); for a mesh the SDF's Chamfer L1/L2, F-score, Hausdorff, normal
consistency and IoU (aire.metrics.mesh); for a NeRF scene PSNR and SSIM on its test views.

What DATA is comes from its name (a mesh suffix: a mesh; a folder or .json: a NeRF scene; else an
image); a model whose inputs and outputs do not fit that signal, or data read at another size or
sampling than the fit's (another aspect ratio; READ_AS), is refused in one line. A run saved from
Python without a config records no signal settings: an image is then read at its recorded fitted size.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from aire.errors import InputError
from aire.saved_run import SavedRun

#: (inputs, outputs) of the built-in signals' networks, for the refusal message ("C": the image's channels)
DIMENSIONS = {"image": "2 -> C (colour channels)", "sdf": "3 -> 1", "nerf": "a NeRF model (3 -> 1 + features, "
              "with a colour head)"}


#: keys of a signal's describe() that say how its data was read (an image's fitted size, a scene's view
#: size and samples per ray, an SDF's sampling and grids): a model scored with other values would be
#: measured at another resolution or sampling than its fit, and its metrics would not compare
READ_AS = ("height", "width", "samples", "importance_samples", "eval_resolution", "mesh_resolution")

#: what data of each built-in kind is, in words
WHAT = {"image": "an image", "sdf": "a mesh (SDF signal)", "nerf": "a NeRF scene"}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`aire eval` on the subcommand set `sub`."""
    p = sub.add_parser("eval", help="metrics of a fitted model against a signal's data (image, mesh, NeRF scene)")
    p.add_argument("run", type=Path, help="a fit's output folder or its model .safetensors")
    p.add_argument("--on", type=Path, required=True, metavar="DATA",
                   help="an image file, a mesh file or a NeRF scene, read with the run's signal settings")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the metrics as JSON to OUT")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--quiet", action="store_true", help="no status lines")
    return p


def data_kind(path: Path) -> str:
    """'sdf' for a mesh file, 'nerf' for a folder or a .json (a scene), else 'image'."""
    from aire.geometry.mesh_io import MESH_SUFFIXES

    if path.is_dir() or path.suffix.lower() == ".json":
        return "nerf"
    return "sdf" if path.suffix.lower() in MESH_SUFFIXES else "image"


def check_fits(run: SavedRun, signal: Any, data: Path) -> None:
    """InputError (one line) unless the model maps the signal's inputs to its outputs."""
    from aire.interfaces import Model

    if isinstance(run.model, Model):
        if run.model.kind != run.kind:
            raise InputError(f"{run.run_dir} holds a {run.model.kind} model; it cannot be evaluated on {data}")
        return
    have = run.dimensions()
    need = (signal.in_features, signal.out_features)
    if have != need:
        raise InputError(f"{run.run_dir} maps {have[0]} inputs to {have[1]} outputs, but {data} read as the {run.kind} "
                         f"signal needs {need[0]} -> {need[1]}")


def signal_settings(run: SavedRun) -> dict[str, Any]:
    """The settings to read DATA with: the run's (config.json); for an image run saved from Python
    (``aire.save_run`` without a config: no settings recorded), the fitted size metrics.json records."""
    settings = run.signal_settings
    record = run.signal_record
    if not settings and run.kind == "image" and isinstance(record.get("height"), int) \
            and isinstance(record.get("width"), int):
        settings = {"size": max(record["height"], record["width"])}
    return settings


def check_read_as(run: SavedRun, signal: Any, data: Path) -> None:
    """InputError (one line) when DATA, read as the run's signal, differs from what the fit read in a
    READ_AS key metrics.json records (e.g. another aspect ratio, or a run without recorded settings)."""
    record, now = run.signal_record, signal.describe()
    differ = [f"{key} {now[key]} (the fit's: {record[key]})" for key in READ_AS
              if key in record and key in now and record[key] != now[key]]
    if differ:
        why = "" if run.signal_settings else "; the run records no signal settings (no config.json)"
        raise InputError(f"{data} read as {run.run_dir}'s {run.kind} signal has {', '.join(differ)}: its metrics would "
                         f"not compare with the fit's{why}")


def evaluate_run(run: SavedRun, data: str | Path) -> dict[str, Any]:
    """The signal's metrics of `run`'s model on `data` (module docstring). InputError when the data is
    not the run's kind of signal or does not fit the model."""
    import torch

    from aire.plugins import create

    data = Path(data)
    if not data.exists():
        raise InputError(f"data not found: {data}")
    if run.kind in DIMENSIONS and data_kind(data) != run.kind:
        have = run.dimensions()
        raise InputError(f"{run.run_dir} is fitted to {WHAT[run.kind]} (its model maps {have[0]} -> {have[1]}), but "
                         f"{data} is {WHAT[data_kind(data)]}, whose model maps {DIMENSIONS[data_kind(data)]}")
    signal = create("signal", run.kind, str(data), **signal_settings(run))
    check_fits(run, signal, data)
    check_read_as(run, signal, data)
    device = next(run.model.parameters()).device
    signal.to(device)
    with torch.no_grad():
        return {**signal.evaluate(run.model), **signal.final_metrics(run.model)}


def format_table(metrics: dict[str, Any], recorded: dict[str, Any] | None = None) -> str:
    """Metric | value (| RECORDED: the value metrics.json recorded at the fit) as aligned text; non-numbers skipped."""
    rows = [(k, v) for k, v in metrics.items() if v is None or isinstance(v, (int, float)) and not isinstance(v, bool)]
    head = ["METRIC", "VALUE"] + (["RECORDED"] if recorded is not None else [])

    def text(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.6g}"

    body = [[k, text(v)] + ([text(recorded.get(k)) if isinstance(recorded.get(k), (int, float)) else "-"]
                           if recorded is not None else []) for k, v in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *body])


def cmd_eval(args: argparse.Namespace) -> int:
    """`aire eval`: see the module docstring."""
    from aire.atomic import atomic_file, check_out_file, one_writer
    from aire.devices import resolve_device
    from aire.io import jsonable
    from aire.saved_run import open_run
    from aire.status import reporting

    run = open_run(args.run, device=str(resolve_device(args.device)))
    if args.json is not None:
        check_out_file(args.json, args.overwrite, inputs=[args.on, *run.protected()])
    with reporting(not args.quiet):
        metrics = evaluate_run(run, args.on)
    own = run.input_path is not None and run.input_path.exists() and run.input_path.resolve() == args.on.resolve()
    print(f"{args.run} on {args.on} ({run.kind})")
    print(format_table(metrics, run.metrics if own and run.metrics else None))
    if args.json is not None:
        with one_writer(args.json), atomic_file(args.json) as tmp:
            tmp.write_text(json.dumps(jsonable({"run": str(args.run), "data": str(args.on), "signal": run.kind,
                                                "metrics": metrics}), indent=2, allow_nan=False) + "\n")
        print(f"metrics: {args.json}")
    return 0
