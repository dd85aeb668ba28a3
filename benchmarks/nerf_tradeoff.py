"""NeRF trade-off: large field / AIRe down to a budget / AIRe's final architecture from scratch.

A scene is rendered from a real mesh (aire make-scene) unless --scene names an existing Blender-format
folder; every row trains the same number of steps with the same rays, samples and learning-rate
schedule, and is scored by PSNR (and SSIM) on all held-out test views at the dataset resolution.

    python benchmarks/nerf_tradeoff.py                     # the CPU setting (about 30 min on 2 busy cores)
    python benchmarks/nerf_tradeoff.py --size gpu --device cuda   # paper-like field, ~3-4 min on one H100
    python -m benchmarks nerf --size gpu --device cuda    # as a suite: results/nerf-gpu-<device>.*
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import aire  # noqa: E402
from aire.scenes.make_scene import make_scene  # noqa: E402
from aire.signals.nerf.signal import NerfSignal  # noqa: E402

from benchmarks.common import sweep_schedule  # noqa: E402
from benchmarks.suite import data_root, device_name  # noqa: E402

DEFAULT_MESH = data_root() / "meshes" / "bunny00.off"

#: named sizes: scene, network, training; "cpu" fits in about 30 min on this 2-core CPU for all three rows
SIZES: dict[str, dict[str, Any]] = {
    "cpu": {"views": 40, "image": 64, "test_views": 8, "widths": [64, 64, 64], "steps": 2500, "batch": 512,
            "samples": 32, "importance": 0, "lr": 5e-4, "lr_final": 5e-5, "budget": 0.8, "eval_every": 250},
    # paper-like field (4 x 256 SIREN, hierarchical sampling; see aire.presets, nerf "paper") sized for about
    # 3-4 minutes on one H100: 64 stratified + 64 importance samples, 2048 rays a step
    "gpu": {"views": 60, "image": 128, "test_views": 10, "widths": [256, 256, 256, 256], "steps": 2500,
            "batch": 2048, "samples": 64, "importance": 64, "lr": 5e-4, "lr_final": 5e-5, "budget": 0.8,
            "eval_every": 250},
}


def fit_row(name: str, signal: NerfSignal, widths: list[int], cfg: dict[str, Any], schedule: aire.ScheduleConfig,
            device: str, seed: int, quiet: bool) -> dict[str, Any]:
    # every row starts from the same colour head: make_model seeds it with the signal's seed
    net = aire.build_network(signal, widths, omega0=cfg.get("omega0", 30.0), seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=cfg["steps"], lr=cfg["lr"], lr_final=cfg["lr_final"],
                          batch_size=cfg["batch"], seed=seed, eval_every=cfg["eval_every"], device=device,
                          progress=not quiet, schedule=schedule)
    m = result.metrics
    row = {"run": name, "psnr_test": round(m["psnr_test"], 3), "ssim_test": round(m["ssim_test"], 4),
           "params": m["params_final"], "params_initial": m["params_initial"],
           "params_fraction": round(m["params_final"] / m["params_initial"], 4),
           "architecture": m["architecture_final"], "seconds": round(m["seconds"], 1),
           "colour_head_params": m["colour_head_params"],
           "psnr_history": [(h["step"], round(h["psnr_test"], 3)) for h in result.history]}
    if result.events:
        row["events"] = [{k: e[k] for k in ("step", "event", "params")} for e in result.events]
    print(f"  {name:<8} psnr_test {row['psnr_test']:7.3f}  ssim {row['ssim_test']:.4f}  params {row['params']:7d}  "
          f"{row['architecture']}  {row['seconds']:.0f} s", flush=True)
    return row


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"NeRF trade-off on `{s.get('scene', 'a make-scene scene')}` ({s['views']} train / {s['test_views']} test views of "
             f"{s['image']}x{s['image']}, {s['samples']}+{s['importance']} samples, {s['batch']} rays/step, "
             f"{s['steps']} steps, budget {s['budget']}); {result['device']}, torch {result['torch']}, "
             f"{result['date']}", "",
             "| run | test PSNR (dB) | test SSIM | parameters | architecture | seconds |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['run']} | {r['psnr_test']:.2f} | {r['ssim_test']:.4f} | {r['params']} "
                     f"({100 * r['params'] / result['rows'][0]['params']:.0f} %) | {r['architecture']} | "
                     f"{r['seconds']:.0f} |")
    if result.get("interrupted"):
        return "\n".join(lines + ["", "**Interrupted by its time limit: the rows above are the runs that finished.**"]) + "\n"
    g = result["gaps"]
    lines += ["", f"AIRe - scratch: {g['aire_vs_scratch']:+.2f} dB; AIRe - large: {g['aire_vs_large']:+.2f} dB. "
              "Parameters count the adaptive field; the colour head "
              f"({result['colour_head_params']} parameters) is the same in every row. Seconds are wall-clock "
              "on a shared machine."]
    return "\n".join(lines) + "\n"


def run(size: str = "cpu", device: str = "cpu", options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `nerf` suite (benchmarks/suite.py protocol): options are SIZES keys plus mesh, scene, seed;
    the framework writes benchmarks/results/nerf-<size>-<device>.{json,md}."""
    options = dict(options or {})
    options.pop("threads", None)
    mesh, scene = options.pop("mesh", None), options.pop("scene", None)
    seed, quiet = int(options.pop("seed", 0)), bool(options.pop("quiet", True))
    unknown = set(options) - set(SIZES[size])
    if unknown:
        raise SystemExit(f"nerf suite: unknown option(s) {sorted(unknown)} (known: {sorted(SIZES[size])})")
    return run_tradeoff(size, device, mesh, scene, seed, None, quiet, write=False, **options)


def run_tradeoff(size: str = "cpu", device: str = "cpu", mesh: Path | None = None, scene: Path | None = None,
                 seed: int = 0, out: Path | None = None, quiet: bool = True, write: bool = True,
                 **overrides: Any) -> dict[str, Any]:
    """Run the three rows at a named size (overrides replace its settings); write JSON + markdown."""
    cfg = {**SIZES[size], **overrides}
    mesh = Path(mesh) if mesh is not None else DEFAULT_MESH
    out = Path(out) if out is not None else HERE / "results" / f"nerf_tradeoff-{size}.json"
    with tempfile.TemporaryDirectory() as tmp:
        if scene is None:
            scene = make_scene(mesh, Path(tmp) / "scene", views=cfg["views"], size=cfg["image"], val_views=0,
                               test_views=cfg["test_views"], seed=seed)
            scene_name = f"{mesh.name} (aire make-scene)"
        else:
            scene_name = str(scene)
        signal = NerfSignal(scene, size=cfg["image"], samples=cfg["samples"], importance_samples=cfg["importance"],
                            turntable_frames=0, seed=seed)
    print(f"scene {scene_name}: {len(signal.train_split.images)} train / {len(signal.test_split.images)} test "
          f"views {signal.train_split.width}x{signal.train_split.height}; widths {cfg['widths']}, "
          f"{cfg['steps']} steps on {device}", flush=True)
    rows: list[dict[str, Any]] = []
    try:  # a time limit (SIGTERM -> KeyboardInterrupt in python -m benchmarks) keeps the rows finished so far
        rows.append(fit_row("large", signal, cfg["widths"], cfg, aire.ScheduleConfig(kind="none"), device, seed, quiet))
        schedule = sweep_schedule({"target_params": cfg["budget"], **cfg.get("schedule", {})})
        rows.append(fit_row("AIRe", signal, cfg["widths"], cfg, schedule, device, seed, quiet))
        rows.append(fit_row("scratch", signal, rows[1]["architecture"][:-1], cfg, aire.ScheduleConfig(kind="none"),
                            device, seed, quiet))
    except KeyboardInterrupt:
        print(f"  interrupted after {len(rows)} rows", flush=True)
        return {"settings": {"size": size, "scene": scene_name, "seed": seed, **cfg}, "rows": rows, "interrupted": True,
                "device": device_name(device), "torch": torch.__version__, "date": datetime.datetime.now().isoformat()}
    large, adaptive, scratch = rows
    result = {
        "benchmark": "nerf_tradeoff", "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "settings": {"size": size, "scene": scene_name, "seed": seed, **cfg},
        "colour_head_params": adaptive["colour_head_params"],
        "rows": [large, adaptive, scratch],
        "gaps": {"aire_vs_scratch": round(adaptive["psnr_test"] - scratch["psnr_test"], 3),
                 "aire_vs_large": round(adaptive["psnr_test"] - large["psnr_test"], 3)},
    }
    if write:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="cpu", help="named setting (see SIZES)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--mesh", type=Path, default=DEFAULT_MESH)
    p.add_argument("--scene", type=Path, help="an existing Blender-format scene instead of rendering --mesh")
    p.add_argument("--steps", type=int)
    p.add_argument("--widths", type=int, nargs="+")
    p.add_argument("--budget", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: the machine is shared)")
    p.add_argument("--out", type=Path)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in (("steps", args.steps), ("widths", args.widths), ("budget", args.budget))
                 if v is not None}
    return run_tradeoff(args.size, args.device, args.mesh, args.scene, args.seed, args.out, args.quiet, **overrides)


if __name__ == "__main__":
    main()
