"""Image trade-off: large network / AIRe down to a budget / AIRe's final architecture from scratch.

Same image, same total steps, same learning-rate schedule for every row. Also times our unpruned
training step against the plain 30-line PyTorch SIREN loop (benchmarks/plain_siren.py) at equal
architecture, in this process. Writes JSON and a markdown table (and a PSNR-vs-parameters plot).

    python benchmarks/image_tradeoff.py --image ../shared/data/div2k/00.png --size 256 \
        --widths 64 64 64 64 --steps 2000 --budget 0.5
    # compare schedule variants (each gets its own from-scratch baseline):
    python benchmarks/image_tradeoff.py ... --variant default='{}' --variant dens='{"densify_k": 8}'
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import aire  # noqa: E402
from aire.signals.image import ImageSignal, synthetic_image  # noqa: E402
from benchmarks.common import sweep_schedule  # noqa: E402
from plain_siren import plain_fit, plain_siren  # noqa: E402

DEFAULT_IMAGE = HERE.parent.parent / "shared" / "data" / "div2k" / "00.png"


def cpu_name() -> str:
    """The CPU model (or GPU name when CUDA is used), for the results table."""
    from benchmarks.suite import device_name

    return device_name("cuda" if torch.cuda.is_available() else "cpu")


def fit_row(name: str, signal: ImageSignal, widths: list[int], args: argparse.Namespace,
            schedule: aire.ScheduleConfig) -> dict:
    net = aire.build_network(signal, widths, omega0=args.omega0, network=args.network, seed=args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=args.steps, lr=args.lr, lr_final=args.lr_final, seed=args.seed,
                          eval_every=args.eval_every, progress=not args.quiet, schedule=schedule)
    m = result.metrics
    row = {"run": name, "psnr": round(m["psnr"], 3), "params": m["params_final"],
           "params_fraction": round(m["params_final"] / m["params_initial"], 4) if name.startswith("aire") else None,
           "architecture": m["architecture_final"], "seconds": round(m["seconds"], 1),
           "psnr_history": [(h["step"], round(h["psnr"], 3)) for h in result.history]}
    prunes = [e for e in result.events if e["event"] == "prune"]
    if prunes:
        row["max_theorem2_bound_at_cut"] = max(e["theorem2_bound"] for e in prunes)
        row["events"] = [{k: e[k] for k in ("step", "event", "params")} for e in result.events]
    print(f"  {name:<28} psnr {row['psnr']:7.3f}  params {row['params']:7d}  {row['architecture']}  "
          f"{row['seconds']:.0f} s", flush=True)
    return row


def step_times(signal: ImageSignal, widths: list[int], args: argparse.Namespace) -> dict:
    """ms/step of our trainer (schedule none) and of the plain loop, in this process.

    Each is timed as (time of 2N steps - time of N steps) / N, which cancels fixed costs (our two
    evaluations, optimizer creation); runs are interleaved and the median of the repeats is kept.
    """
    x, y = signal.coords, signal.values
    n = args.timing_steps

    def ours(steps: int) -> float:
        net = aire.build_network(signal, widths, omega0=args.omega0, seed=args.seed)
        t0 = time.perf_counter()
        aire.fit(signal, net, steps=steps, eval_every=10**9, progress=False, schedule=aire.ScheduleConfig(kind="none"))
        return time.perf_counter() - t0

    def plain(steps: int) -> float:
        net = plain_siren(2, widths, signal.out_features, args.omega0)
        return plain_fit(net, x, y, steps) * steps

    plain(3), ours(3)  # warm-up
    ours_ms, plain_ms = [], []
    for _ in range(args.timing_repeats):
        plain_ms.append((plain(2 * n) - plain(n)) / n * 1e3)
        ours_ms.append((ours(2 * n) - ours(n)) / n * 1e3)
    o, p = statistics.median(ours_ms), statistics.median(plain_ms)
    print(f"  step time: ours {o:.1f} ms, plain loop {p:.1f} ms, ratio {o / p:.3f}", flush=True)
    return {"ours_ms": round(o, 2), "plain_ms": round(p, 2), "ratio": round(o / p, 3), "steps_timed": n,
            "ours_all": [round(v, 2) for v in ours_ms], "plain_all": [round(v, 2) for v in plain_ms]}


def markdown(result: dict) -> str:
    a = result["settings"]
    lines = [f"# Image trade-off ({a['image_name']} at {a['size']} px, widths {a['widths']}, {a['steps']} steps, "
             f"omega0 {a['omega0']}, budget {a['budget']})", "",
             f"device: {result['device']}; torch {result['torch']}; {result['date']}", "",
             "| run | PSNR (dB) | parameters | fraction | architecture | seconds |", "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        frac = f"{100 * r['params'] / result['params_initial']:.0f} %"
        lines.append(f"| {r['run']} | {r['psnr']:.2f} | {r['params']} | {frac} | {r['architecture']} | {r['seconds']} |")
    for name, gap in result.get("gaps", {}).items():
        versus_large = "" if gap["vs_large"] is None else f", {gap['vs_large']:+.2f} dB vs the large network"
        lines.append(f"\n{name}: {gap['vs_scratch']:+.2f} dB vs the same architecture from scratch{versus_large}")
    if "step_time" in result:
        s = result["step_time"]
        lines.append(f"\nUnpruned step time: ours {s['ours_ms']} ms, plain PyTorch SIREN loop {s['plain_ms']} ms "
                     f"(ratio {s['ratio']})")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for r in result["rows"]:
        ax.scatter(r["params"], r["psnr"], label=r["run"])
        steps, psnr = zip(*r["psnr_history"])
        ax2.plot(steps, psnr, label=r["run"])
    ax.set_xlabel("parameters")
    ax.set_ylabel("PSNR (dB)")
    ax.legend(fontsize=7)
    ax2.set_xlabel("step")
    ax2.set_ylabel("PSNR (dB)")
    ax2.set_ylim(bottom=max(0, min(p for r in result["rows"] for _, p in r["psnr_history"][1:]) - 2))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE if DEFAULT_IMAGE.exists() else None,
                   help="image file (default: ../shared/data/div2k/00.png, else a generated image)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--widths", type=int, nargs="+", default=[64, 64, 64, 64])
    p.add_argument("--omega0", type=float, default=30.0)
    p.add_argument("--network", default="siren")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-final", type=float, default=5e-5)
    p.add_argument("--budget", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help="schedule settings to compare (JSON of ScheduleConfig fields); default: the defaults")
    p.add_argument("--skip-large", action="store_true")
    p.add_argument("--timing-steps", type=int, default=20)
    p.add_argument("--timing-repeats", type=int, default=3)
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--timing-only", action="store_true", help="only the step-time comparison")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--cache", type=Path, help="JSON file caching from-scratch rows between invocations")
    p.add_argument("--out", type=Path, default=HERE / "results" / "image_tradeoff-cpu.json")
    args = p.parse_args(argv)

    if args.image is not None:
        signal = ImageSignal(args.image, size=args.size)
        image_name = args.image.name
    else:
        signal = ImageSignal(image=synthetic_image(args.size))
        image_name = "generated"
    variants = {}
    for spec in args.variant or ["default={}"]:
        name, _, js = spec.partition("=")
        variants[name] = json.loads(js or "{}")
    rows, gaps = [], {}
    print(f"image {image_name} {signal.height}x{signal.width}, widths {args.widths}, {args.steps} steps", flush=True)
    large = None
    if args.timing_only:
        variants = {}
        args.skip_large = True
    if not args.skip_large:
        large = fit_row("large", signal, args.widths, args, aire.ScheduleConfig(kind="none"))
        rows.append(large)
    scratch_cache: dict[tuple, dict] = {}
    disk_cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    for name, settings in variants.items():
        schedule = sweep_schedule({"target_params": args.budget, **settings})
        row = fit_row(f"aire-{name}", signal, args.widths, args, schedule)
        row["schedule"] = settings
        rows.append(row)
        arch = tuple(row["architecture"][:-1])
        key = json.dumps([image_name, args.size, args.steps, args.omega0, args.lr, args.lr_final, args.seed,
                          args.network, list(arch)])
        if arch not in scratch_cache and key in disk_cache:
            scratch_cache[arch] = disk_cache[key]
            print(f"  scratch {list(arch)} from cache: {disk_cache[key]['psnr']}", flush=True)
        if arch not in scratch_cache:
            scratch_cache[arch] = fit_row(f"scratch-{name}", signal, list(arch), args, aire.ScheduleConfig(kind="none"))
            rows.append(scratch_cache[arch])
            if args.cache:
                disk_cache[key] = scratch_cache[arch]
                args.cache.write_text(json.dumps(disk_cache))
        gaps[f"aire-{name}"] = {"vs_scratch": round(row["psnr"] - scratch_cache[arch]["psnr"], 3),
                                "vs_large": round(row["psnr"] - large["psnr"], 3) if large else None}
        print(f"  -> aire-{name}: {gaps[f'aire-{name}']}", flush=True)
    result = {
        "benchmark": "image_tradeoff", "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": cpu_name(), "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "settings": {"image_name": image_name, "size": args.size, "widths": args.widths, "steps": args.steps,
                     "omega0": args.omega0, "budget": args.budget, "lr": args.lr, "lr_final": args.lr_final,
                     "seed": args.seed, "network": args.network},
        "rows": rows, "gaps": gaps,
        "params_initial": aire.build_network(signal, args.widths).num_parameters(),
    }
    if not args.no_timing:
        result["step_time"] = step_times(signal, args.widths, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".md").write_text(markdown(result))
    if rows:
        plot(result, args.out.with_suffix(".png"))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
