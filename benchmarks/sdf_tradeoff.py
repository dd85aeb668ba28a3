"""SDF trade-off: large network / AIRe (hidden layers pruned to a budget) / AIRe's final architecture
trained from scratch, on one mesh, same total steps and learning-rate schedule for every row.

Chamfer distance (mean L1 and mean squared, both directions, normalised frame), IoU on a grid, normal
consistency; JSON + markdown table + a picture per run under benchmarks/results/.

    python -m benchmarks sdf --size cpu                     # the suite (benchmarks/suite.py protocol)
    python benchmarks/sdf_tradeoff.py --mesh ../shared/data/meshes/armadillo.off \
        --widths 96 96 96 96 --steps 2000 --variant default='{}' --variant nodens='{"densify_k": 0}'
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aire  # noqa: E402
from aire.signals.sdf import SDFSignal  # noqa: E402

sys.path.insert(0, str(HERE.parent))
from benchmarks.common import sweep_schedule  # noqa: E402
from benchmarks.suite import RESULTS, data_root, device_slug, run_suite  # noqa: E402
#: the two protocol sizes of the reproduction suite: cpu fits in 30 minutes on 2 cores, gpu in minutes on an H100
SIZES: dict[str, dict[str, Any]] = {
    # long enough for AIRe's final network to beat its from-scratch twin (benchmarks/sdf_sweep.py study:
    # +2.3 % at 2000 steps, +0.1 % at 6000, -1.1 % at 16000 of 8192 points, 4 seeds on an H100)
    "cpu": {"widths": [96, 96, 96, 96], "steps": 16000, "batch_size": 4096, "samples": 200_000,
            "omega0": 30.0, "budget": 0.35, "eval_resolution": 128, "chamfer_samples": 100_000, "precision": "fp32"},
    # the paper's setting as published: omega_0 = 60, a large start pruned in the hidden layers
    "gpu": {"widths": [256, 256, 256, 256], "steps": 5000, "batch_size": 32768, "samples": 500_000,
            "omega0": 60.0, "budget": 0.35, "eval_resolution": 256, "chamfer_samples": 200_000,
            "lr": 1e-4, "lr_final": 1e-5, "precision": "tf32"},
}


#: run settings every protocol size shares (a size or an option overrides them)
RUN_DEFAULTS: dict[str, Any] = {"seed": 0, "eval_every": 250, "lr": 2e-4, "lr_final": 2e-5}


def make_signal(mesh: Path, s: dict[str, Any], **signal_settings: Any) -> SDFSignal:
    """The SDF signal of a protocol's settings `s` (samples, grid resolution, Chamfer samples)."""
    return SDFSignal(mesh, samples=s["samples"], eval_resolution=s["eval_resolution"],
                     mesh_resolution=s["eval_resolution"], chamfer_samples=s["chamfer_samples"], **signal_settings)


def fit_row(name: str, signal: SDFSignal, widths: list[int], s: dict[str, Any], schedule: aire.ScheduleConfig,
            device: str, picture_stem: Path | None, quiet: bool) -> dict[str, Any]:
    net = aire.build_network(signal, widths, omega0=s["omega0"], seed=s["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=s["steps"], lr=s["lr"], lr_final=s["lr_final"], seed=s["seed"],
                          batch_size=s["batch_size"], eval_every=s["eval_every"], progress=not quiet,
                          device=device, precision=s["precision"], schedule=schedule)
    m = result.metrics
    row = {"run": name, **{k: m[k] for k in ("chamfer_l1", "chamfer_l2", "normal_consistency", "iou_grid", "iou")},
           "params": m["params_final"], "architecture": m["architecture_final"], "seconds": round(m["seconds"], 1),
           "history": [(h["step"], h["iou"], h["sdf_mae"]) for h in result.history]}
    if picture_stem is not None:  # the distance picture only (meshes are too large to commit)
        with tempfile.TemporaryDirectory() as tmp:
            signal.export(result.network, Path(tmp))
            if (Path(tmp) / "distance.png").exists():
                picture_stem.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(tmp) / "distance.png", picture_stem.with_name(f"{picture_stem.name}-{name}.png"))
    print(f"  {name:<10} chamfer L1 {_f(row['chamfer_l1'], '.5f')}  L2 {_f(row['chamfer_l2'], '.3g')}  "
          f"IoU {_f(row['iou_grid'], '.4f')}  NC {_f(row['normal_consistency'], '.4f')}  params {row['params']:7d}  "
          f"{row['architecture']}  {row['seconds']:.0f} s", flush=True)
    return row


def _f(value: float | None, spec: str) -> str:
    """A metric for a table; '-' where it is undefined (a network without a surface)."""
    return "-" if value is None else format(value, spec)


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"{Path(s['mesh']).name}, SIREN widths {s['widths']}, omega0 {s['omega0']}, {s['steps']} steps of "
             f"{s['batch_size']} points (lr {s['lr']} -> {s['lr_final']}), {s['samples']} samples, budget {s['budget']} "
             f"(hidden layers pruned). Chamfer on {s['chamfer_samples']} samples per surface, meshes and IoU at "
             f"{s['eval_resolution']}^3, normalised frame ([-1, 1]^3, margin 0.1).", "",
             "| run | Chamfer L1 | Chamfer L2 | IoU | normal consistency | parameters | architecture | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['run']} | {_f(r['chamfer_l1'], '.5f')} | {_f(r['chamfer_l2'], '.3g')} | "
                     f"{_f(r['iou_grid'], '.4f')} | {_f(r['normal_consistency'], '.4f')} | {r['params']} | "
                     f"{r['architecture']} | {r['seconds']} |")
    rows = {r["run"]: r for r in result["rows"]}
    for name, row in rows.items():
        twin = rows.get(row.get("scratch_row", ""))
        if name.startswith("aire") and twin is not None and None not in (row["chamfer_l1"], twin["chamfer_l1"]):
            a, b = row["chamfer_l1"], twin["chamfer_l1"]
            lines.append(f"\n{name} vs the same architecture from scratch: Chamfer L1 {a:.5f} vs {b:.5f} "
                         f"({100 * (a - b) / b:+.1f} %); schedule settings {row.get('schedule') or 'defaults'}")
    return "\n".join(lines) + "\n"


def run(size: str = "cpu", device: str = "cpu", options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `sdf` suite (benchmarks/suite.py protocol): large / AIRe / scratch at a protocol size.

    options: any key of SIZES[size] (widths, steps, budget, ...), `mesh` (a path), `variants`
    ({name: ScheduleConfig settings}, each with its own from-scratch row), `pictures` (bool)."""
    options = dict(options or {})
    mesh = Path(options.pop("mesh", None) or data_root() / "meshes" / "armadillo.off")
    variants = options.pop("variants", None) or SIZES[size].get("variants") or {"": {}}
    pictures = bool(options.pop("pictures", True))
    quiet = bool(options.pop("quiet", True))
    options.pop("threads", None)
    unknown = set(options) - set(SIZES[size]) - set(RUN_DEFAULTS)
    if unknown:
        raise SystemExit(f"sdf suite: unknown option(s) {sorted(unknown)} (known: {sorted(SIZES[size])})")
    s = {**RUN_DEFAULTS, **SIZES[size], **options, "mesh": str(mesh), "variants": variants}
    signal = make_signal(mesh, s)
    print(f"mesh {mesh.name}: {signal.describe()['faces']} faces, sign {signal.sign_method}; widths {s['widths']}, "
          f"{s['steps']} steps", flush=True)
    pictures_stem = RESULTS / f"sdf-{size}-{device_slug(device)}" if pictures else None  # <stem>-<run>.png
    rows: list[dict[str, Any]] = []
    try:  # a time limit (SIGTERM -> KeyboardInterrupt in python -m benchmarks) keeps the rows finished so far
        large = fit_row("large", signal, s["widths"], s, aire.ScheduleConfig(kind="none"), device, pictures_stem, quiet)
        rows.append(large)
        hidden = list(range(1, len(s["widths"])))
        scratch_rows: dict[tuple[int, ...], dict[str, Any]] = {}
        for name, settings in variants.items():
            suffix = f"-{name}" if name else ""
            schedule = sweep_schedule({"target_params": s["budget"], "prune_layers": hidden, **settings})
            adaptive = fit_row(f"aire{suffix}", signal, s["widths"], s, schedule, device, pictures_stem, quiet)
            adaptive["schedule"] = settings
            rows.append(adaptive)
            arch = tuple(adaptive["architecture"][:-1])
            if arch not in scratch_rows:  # variants ending at the same architecture share one from-scratch row
                scratch_rows[arch] = fit_row(f"scratch{suffix}", signal, list(arch), s, aire.ScheduleConfig(kind="none"),
                                             device, pictures_stem, quiet)
                rows.append(scratch_rows[arch])
            adaptive["scratch_row"] = scratch_rows[arch]["run"]
    except KeyboardInterrupt:
        print(f"  interrupted after {len(rows)} rows", flush=True)
        return {"settings": s, "signal": signal.describe(), "params_initial": rows[0]["params"] if rows else None,
                "rows": rows, "interrupted": True}
    return {"settings": s, "signal": signal.describe(), "params_initial": large["params"], "rows": rows}


def plot(result: dict[str, Any], path: Path) -> None:
    """Chamfer L1 against parameters, one point per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for r in result["rows"]:
        if r["chamfer_l1"] is not None:
            ax.scatter(r["params"], r["chamfer_l1"], label=r["run"])
    ax.set_xlabel("parameters")
    ax.set_ylabel("Chamfer L1 (lower is better)")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="cpu", help="protocol size (settings below override it)")
    p.add_argument("--mesh", type=Path)
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
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help="schedule settings to compare (JSON of ScheduleConfig fields); default: the defaults")
    p.add_argument("--no-pictures", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    options = {k: v for k, v in vars(args).items()
               if v is not None and k not in ("size", "device", "no_pictures", "quiet", "out_dir", "variant")}
    if args.variant:
        options["variants"] = {name: json.loads(js or "{}") for name, _, js in (v.partition("=") for v in args.variant)}
    options.update(pictures=not args.no_pictures, quiet=args.quiet)
    path = run_suite("sdf", args.size, args.device, options, args.out_dir)
    print(path.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
