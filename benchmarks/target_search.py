"""Search for the quality-target mode that ends with the smallest networks at the target suite's targets.

    python -m benchmarks.target_search VARIANT [VARIANT ...] [--images 3] [--retime]

Each variant (VARIANTS: AIRe's starting width and ScheduleConfig fields, e.g. the ``aire`` schedule's
``target_*`` settings) reruns only AIRe's rows of the target suite against the sweep rows of
benchmarks/results/target-cpu-cpu-held.json (the full run of the suite with the former "held" mode; same protocol: benchmarks.target_suite with ``reuse``), on the
first `images` images, and appends them to benchmarks/results/target_search-cpu.json; the markdown table
(target_search-cpu.md) is rewritten from all rows so far, one line per (variant, images) with the
geometric-mean parameter ratio per target level, the targets held, and the time ratio (against the
reused large fits' wall time unless --retime, so only comparable within one machine load: `uptime` is
recorded with each run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import torch

from benchmarks import target_suite
from benchmarks.suite import RESULTS

SWEEP = RESULTS / "target-cpu-cpu-held.json"  # the full run (sweep and the held mode), 2026-11-30
OUT = RESULTS / "target_search-cpu.json"
_CUT = {"cycles": 4, "cycle_gap": 0.15, "twd_length": 0.05}  # the suite's protocol for the "held" mode

#: name -> (AIRe's starting width or None for the suite's, ScheduleConfig fields)
VARIANTS: dict[str, tuple[int | None, dict]] = {
    "held-w32": (None, {"settings": {"target_mode": "held"}}),
    "held-w48-8cyc": (48, {"cycles": 8, "cycle_gap": 0.05, "twd_length": 0.04, "densify_k": 0,
                           "settings": {"target_mode": "held"}}),
    "ant-w32-k0.4": (None, {"settings": {"target_kappa": 0.4, "target_first": 0.3}}),
    "ant-w48-k0.4": (48, {"settings": {"target_kappa": 0.4, "target_first": 0.3}}),
    "ant-w48-k0.3": (48, {"settings": {"target_kappa": 0.3, "target_first": 0.3}}),
    "ant-w48-k0.4-d0": (48, {"settings": {"target_kappa": 0.4, "target_first": 0.3, "target_densify_cycles": 0}}),
    "ant-w48-k0.4-c7": (48, {"settings": {"target_kappa": 0.4, "target_first": 0.3, "target_cuts": 7,
                                          "target_end": 0.7}}),
    "ant-w40-k0.4": (40, {"settings": {"target_kappa": 0.4, "target_first": 0.3}}),
    "ant-w64-k0.4": (64, {"settings": {"target_kappa": 0.4, "target_first": 0.4}}),
    "ant-w48-k0.4-c9": (48, {"settings": {"target_kappa": 0.4, "target_first": 0.3, "target_cuts": 9,
                                          "target_end": 0.8}}),
    "ant-w64-k0.4-c7": (64, {"settings": {"target_kappa": 0.4, "target_first": 0.4, "target_cuts": 7,
                                          "target_end": 0.7}}),
    "ant-w40-k0.4-c7": (40, {"settings": {"target_kappa": 0.4, "target_first": 0.3, "target_cuts": 7,
                                          "target_end": 0.7}}),
    "ant-w48-k0.4-c7-f0.5": (48, {"settings": {"target_kappa": 0.4, "target_first": 0.5, "target_cuts": 7,
                                               "target_end": 0.7}}),
    "ant-w48-k0.45-c7": (48, {"settings": {"target_kappa": 0.45, "target_first": 0.3, "target_cuts": 7,
                                           "target_end": 0.7}}),
    "ant-w48-k0.4-c7-f0.6": (48, {"settings": {"target_kappa": 0.4, "target_first": 0.6, "target_cuts": 7,
                                               "target_end": 0.7}}),
    "ant-w48-k0-c7": (48, {"settings": {"target_kappa": 0.0, "target_first": 0.3, "target_cuts": 7, "target_end": 0.7}}),
    "ant-w48-k0.55-d0-pl0": (48, {"prune_layers": [0, 1, 2, 3], "settings": {"target_kappa": 0.55, "target_first": 0.3,
                                                                          "target_densify_cycles": 0}}),
    "ant-w48-k0.4-d0-pl0": (48, {"prune_layers": [0, 1, 2, 3], "settings": {"target_kappa": 0.4, "target_first": 0.3,
                                                                         "target_densify_cycles": 0}}),
    "ant-w32-k0.55-d0-pl0": (None, {"prune_layers": [0, 1, 2, 3], "settings": {"target_kappa": 0.55, "target_first": 0.3,
                                                                            "target_densify_cycles": 0}}),
    "ant-w64-k0.55-d0-pl0": (64, {"prune_layers": [0, 1, 2, 3], "settings": {"target_kappa": 0.55, "target_first": 0.4,
                                                                          "target_densify_cycles": 0}}),
}


def variant(name: str) -> tuple[int | None, dict]:
    """A variant's (width, fields); ``ant-*`` are the "anticipate" mode (the runs before it stopped being the
    default name no target_mode)."""
    width, fields = VARIANTS[name]
    if name.startswith("ant-"):
        fields = {**fields, "settings": {"target_mode": "anticipate", **fields.get("settings", {})}}
    return width, fields


def run_variant(name: str, images: int, retime: bool) -> dict:
    width, fields = variant(name)
    options = {"reuse": str(SWEEP), "images": images, "retime": retime, "aire_width": width or 32, "aire": fields}
    torch.set_num_threads(1)
    load = os.getloadavg()
    start = time.perf_counter()
    result = target_suite.run("cpu", "cpu", options)
    return {"variant": name, "aire_width": width, "aire": fields, "images": images, "retime": retime,
            "load_before": [round(x, 2) for x in load], "load_after": [round(x, 2) for x in os.getloadavg()],
            "wall_seconds": round(time.perf_counter() - start, 1),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "summary": result["summary"],
            "rows": [{k: v for k, v in r.items() if k != "aire_history"} for r in result["rows"]]}


def markdown(runs: list[dict]) -> str:
    lines = ["# Quality-target mode search (cpu)", "",
             "AIRe's rows of the target suite (64 px, 800 steps; see target-cpu-cpu.md) rerun per variant against the "
             "reused sweep rows; params ratio = AIRe / sweep's smallest width reaching the target (bar <= 0.8, "
             "geometric mean over the targets AIRe held); time ratio = AIRe / one large (width 32) fit (bar <= 1.5; "
             "against the reused large fits unless retimed, so compare only within a similar load). Generated by "
             "benchmarks/target_search.py. Variants named ant-* run the \"anticipate\" mode (target_mode, the default "
             "while the early rows were run, so they do not name it); held-* the \"held\" mode.", "",
             "| variant | start width | settings | images | easy ratio | hard ratio | held (easy, hard) | "
             "time ratio (easy, hard) | load (1 min) |", "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        by = {x["target"]: x for x in run["summary"]}
        e, h = by.get("easy", {}), by.get("hard", {})
        settings = json.dumps(run["aire"], sort_keys=True).replace("|", "/")
        lines.append(f"| {run['variant']} | {run['aire_width'] or 32} | `{settings}` | {run['images']} | "
                     f"{e.get('params_ratio_geomean', float('nan')):.3f} | {h.get('params_ratio_geomean', float('nan')):.3f} | "
                     f"{e.get('aire_held', 0)}/{e.get('images', 0)}, {h.get('aire_held', 0)}/{h.get('images', 0)} | "
                     f"{e.get('time_ratio_geomean', float('nan')):.2f}, {h.get('time_ratio_geomean', float('nan')):.2f}"
                     f"{' (retimed)' if run['retime'] else ''} | {run['load_before'][0]:.1f}-{run['load_after'][0]:.1f} |")
    lines += ["", "Per row (image, target: AIRe params / sweep params, AIRe dB vs target):", ""]
    for run in runs:
        cells = [f"{r['image'][:2]}{r['target'][0]} {r['aire_params']}/{r['sweep_params']} "
                 f"{r['aire_psnr'] - r['target_psnr']:+.2f}" for r in run["rows"]]
        lines.append(f"* {run['variant']} ({run['images']} images): " + "; ".join(cells))
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--retime", action="store_true", help="refit the large network for the time ratio")
    args = p.parse_args()
    runs = json.loads(OUT.read_text()) if OUT.exists() else []
    for name in args.variants:
        print(f"== {name}", flush=True)
        runs.append(run_variant(name, args.images, args.retime))
        OUT.write_text(json.dumps(runs, indent=1))
        OUT.with_suffix(".md").write_text(markdown(runs))
    print(OUT.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
