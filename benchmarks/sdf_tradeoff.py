"""SDF trade-off: large network / AIRe (hidden layers pruned to a budget) / AIRe's final architecture
trained from scratch, on one mesh, same total steps and learning-rate schedule for every row.

Chamfer distance (mean L1 and mean squared, both directions, normalised frame), IoU on a grid, normal
consistency; JSON + markdown table + a picture per run under benchmarks/results/.

    python benchmarks/sdf_tradeoff.py --mesh ../shared/data/meshes/armadillo.off \
        --widths 128 128 128 128 --steps 3000 --budget 0.35
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aire  # noqa: E402
from aire.signals.sdf import SDFSignal  # noqa: E402
from image_tradeoff import cpu_name  # noqa: E402

DEFAULT_MESH = HERE.parent.parent / "shared" / "data" / "meshes" / "armadillo.off"
#: the two protocol sizes of the reproduction suite: cpu fits in 30 minutes on 2 cores, gpu in minutes on an H100
SIZES: dict[str, dict[str, Any]] = {
    "cpu": {"widths": [128, 128, 128, 128], "steps": 3000, "batch_size": 8192, "samples": 200_000,
            "omega0": 30.0, "budget": 0.35, "eval_resolution": 128, "chamfer_samples": 100_000},
    # the paper's setting as published: omega_0 = 60, a large start pruned in the hidden layers
    "gpu": {"widths": [256, 256, 256, 256], "steps": 10000, "batch_size": 32768, "samples": 1_000_000,
            "omega0": 60.0, "budget": 0.35, "eval_resolution": 256, "chamfer_samples": 200_000,
            "lr": 1e-4, "lr_final": 1e-5},
}


def fit_row(name: str, signal: SDFSignal, widths: list[int], s: dict[str, Any], schedule: aire.ScheduleConfig,
            device: str, picture_dir: Path | None, quiet: bool) -> dict[str, Any]:
    net = aire.build_network(signal, widths, omega0=s["omega0"], seed=s["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=s["steps"], lr=s["lr"], lr_final=s["lr_final"], seed=s["seed"],
                          batch_size=s["batch_size"], eval_every=s["eval_every"], progress=not quiet,
                          device=device, schedule=schedule)
    m = result.metrics
    row = {"run": name, **{k: m[k] for k in ("chamfer_l1", "chamfer_l2", "normal_consistency", "iou_grid", "iou")},
           "params": m["params_final"], "architecture": m["architecture_final"], "seconds": round(m["seconds"], 1),
           "history": [(h["step"], h["iou"], h["sdf_mae"]) for h in result.history]}
    if picture_dir is not None:  # the distance picture only (meshes are too large to commit)
        signal.mesh_resolution = s["eval_resolution"]
        with tempfile.TemporaryDirectory() as tmp:
            signal.export(result.network, Path(tmp))
            if (Path(tmp) / "distance.png").exists():
                shutil.copyfile(Path(tmp) / "distance.png", picture_dir.with_name(f"{picture_dir.name}-{name}.png"))
    print(f"  {name:<10} chamfer L1 {row['chamfer_l1']:.5f}  L2 {row['chamfer_l2']:.3g}  IoU {row['iou_grid']:.4f}  "
          f"NC {row['normal_consistency']:.4f}  params {row['params']:7d}  {row['architecture']}  {row['seconds']:.0f} s",
          flush=True)
    return row


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"# SDF trade-off ({Path(s['mesh']).name}, widths {s['widths']}, omega0 {s['omega0']}, {s['steps']} steps "
             f"of {s['batch_size']} points, budget {s['budget']})", "",
             f"device: {result['device']}; torch {result['torch']}; {result['date']}; Chamfer on {s['chamfer_samples']} "
             f"samples per surface, meshes and IoU at {s['eval_resolution']}^3, normalised frame ([-1, 1]^3, margin 0.1)", "",
             "| run | Chamfer L1 | Chamfer L2 | IoU | normal consistency | parameters | architecture | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['run']} | {r['chamfer_l1']:.5f} | {r['chamfer_l2']:.3g} | {r['iou_grid']:.4f} | "
                     f"{r['normal_consistency']:.4f} | {r['params']} | {r['architecture']} | {r['seconds']} |")
    rows = {r["run"]: r for r in result["rows"]}
    for name, row in rows.items():
        twin = rows.get(name.replace("aire", "scratch", 1))
        if name.startswith("aire") and twin is not None:
            a, b = row["chamfer_l1"], twin["chamfer_l1"]
            lines.append(f"\n{name} vs the same architecture from scratch: Chamfer L1 {a:.5f} vs {b:.5f} "
                         f"({100 * (a - b) / b:+.1f} %); schedule settings {row.get('schedule') or 'defaults'}")
    return "\n".join(lines) + "\n"


def run(size: str = "cpu", device: str = "cpu", out_dir: Path = HERE / "results", mesh: Path = DEFAULT_MESH,
        quiet: bool = True, pictures: bool = True, variants: dict[str, dict[str, Any]] | None = None,
        **overrides: Any) -> dict[str, Any]:
    """Run the suite at a protocol size; writes sdf-<size>-<device>.{json,md} into out_dir and returns the result.

    `variants` maps a name to ScheduleConfig settings; each gets an AIRe row and its own from-scratch row."""
    s = {"seed": 0, "eval_every": 250, "lr": 2e-4, "lr_final": 2e-5, **SIZES[size], **overrides, "mesh": str(mesh)}
    signal = SDFSignal(mesh, samples=s["samples"], eval_resolution=s["eval_resolution"],
                       mesh_resolution=s["eval_resolution"], chamfer_samples=s["chamfer_samples"])
    print(f"mesh {mesh.name}: {signal.describe()['faces']} faces, sign {signal.sign_method}; widths {s['widths']}, "
          f"{s['steps']} steps", flush=True)
    tag = f"sdf-{size}-{'cpu' if device == 'cpu' else 'gpu'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    pictures_dir = out_dir / tag if pictures else None  # pictures: <tag>-<run>.png
    large = fit_row("large", signal, s["widths"], s, aire.ScheduleConfig(kind="none"), device, pictures_dir, quiet)
    rows = [large]
    hidden = list(range(1, len(s["widths"])))
    for name, settings in (variants or {"": {}}).items():
        suffix = f"-{name}" if name else ""
        schedule = aire.ScheduleConfig(**{"target_params": s["budget"], "prune_layers": hidden, **settings})
        adaptive = fit_row(f"aire{suffix}", signal, s["widths"], s, schedule, device, pictures_dir, quiet)
        adaptive["schedule"] = settings
        scratch = fit_row(f"scratch{suffix}", signal, adaptive["architecture"][:-1], s, aire.ScheduleConfig(kind="none"),
                          device, pictures_dir, quiet)
        rows += [adaptive, scratch]
    result = {"suite": "sdf", "size": size, "device": cpu_name(), "torch": torch.__version__,
              "date": datetime.date.today().isoformat(), "settings": s, "signal": signal.describe(),
              "params_initial": large["params"], "rows": rows}
    (out_dir / f"{tag}.json").write_text(json.dumps(result, indent=1))
    (out_dir / f"{tag}.md").write_text(markdown(result))
    print(markdown(result))
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="cpu", help="protocol size (settings below override it)")
    p.add_argument("--mesh", type=Path, default=DEFAULT_MESH)
    p.add_argument("--device", default="cpu")
    p.add_argument("--widths", type=int, nargs="+")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--samples", type=int)
    p.add_argument("--omega0", type=float)
    p.add_argument("--budget", type=float)
    p.add_argument("--eval-resolution", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-final", type=float)
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help="schedule settings to compare (JSON of ScheduleConfig fields); default: the defaults")
    p.add_argument("--no-pictures", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items()
                 if v is not None and k not in ("size", "mesh", "device", "no_pictures", "quiet", "out_dir", "variant")}
    variants = {}
    for spec in args.variant:
        name, _, js = spec.partition("=")
        variants[name] = json.loads(js or "{}")
    return run(args.size, args.device, args.out_dir, args.mesh, quiet=args.quiet, pictures=not args.no_pictures,
               variants=variants or None, **overrides)


if __name__ == "__main__":
    main()
