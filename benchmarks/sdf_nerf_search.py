"""Method search for issue 15 on SDFs and NeRF: which aire-cubic setting moves AIRe's margin there.

Same idea as benchmarks.method_search (images), at the baselines suite's reduced SDF and NeRF
protocols (``PROTOCOL``: SDF 1000 steps, batch 4096; NeRF 400 steps, batch 256, 24 samples; the
rest as ``baselines.SIZES["cpu"]``), budget 50 %, hidden layers pruned unless a candidate says
otherwise. Every candidate is a ScheduleConfig (a schedule plugin, its ``--schedule-set`` settings,
a criterion) so it stays runnable from the CLI. Each row is fitted with ``baselines.fit`` (same
steps, learning-rate rule, widths for every row) and paired over (target, seed) with:

* ``aire-cubic`` (the plugin schedule about to become the default),
* ``magnitude-iterative`` (the best baseline of the reduced suite on both signals),
* ``aire`` (the previous default, schedule ``aire``),

whose seed-0 rows come from ``baselines-cpu-cpu-all.json`` (``--import``: the same protocol and
code, filed under the method's name) and are re-run here for other seeds. Differences: percent of
the other row's Chamfer L1 for SDFs (negative = candidate better), dB of test PSNR for NeRF.

Rows are appended to ``method_search-sdf-nerf-cpu.json`` (its ``rows`` list; older rows kept) as
they finish, so a stopped search resumes; the markdown table is written beside it::

    nice -n 10 python -m benchmarks.sdf_nerf_search --signal sdf --seeds 0 aire-cubic cubic-nodensify
    python -m benchmarks.sdf_nerf_search --summary-only

``--floor`` adds the Chamfer L1 the metric itself gives at the protocol's sampling (the mesh against
itself, and marching cubes of its exact signed distance at the eval resolution against it): the
part of every row's Chamfer that no network can remove.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

import aire
from benchmarks import baselines
from benchmarks.suite import RESULTS, device_name

RESULT = RESULTS / "method_search-sdf-nerf-cpu.json"
SUITE = RESULTS / "baselines-cpu-cpu-all.json"
#: the baselines suite's reduced cpu protocol for the two signals (baselines-cpu-cpu-all.md)
PROTOCOL_OPTIONS: dict[str, dict[str, Any]] = {"sdf": {"steps": 1000, "eval_every": 500},
                                               "nerf": {"steps": 400, "batch_size": 256, "samples": 24,
                                                        "eval_every": 200}}
BUDGET = 0.5
REFERENCES = ("aire-cubic", "magnitude-iterative", "aire")

#: name -> (what it tests, ScheduleConfig keyword arguments); "prune_layers": "all" = input layer too
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "large": ("the starting network, plain training (twice the budget; a reference)", {"kind": "none"}),
    "aire": ("previous default: schedule aire (2 cycles of densify, TWD, prune)", {}),
    "aire-cubic": ("aire-cubic: 8 cuts on the cubic ramp 10-35 %, densify in the first 2", {"kind": "aire-cubic"}),
    "magnitude-iterative": ("best baseline: 3 magnitude cuts at 10/20/30 %, fine-tuning",
                            {"kind": "magnitude-iterative"}),
    "cubic-nodensify": ("aire-cubic, no densification (densify_cycles 0)",
                        {"kind": "aire-cubic", "settings": {"densify_cycles": 0}}),
    "cubic-densify-all": ("aire-cubic, densify in all 8 cycles (densify_cycles 8)",
                          {"kind": "aire-cubic", "settings": {"densify_cycles": 8}}),
    "cubic-cuts4": ("aire-cubic, 4 cuts", {"kind": "aire-cubic", "settings": {"cuts": 4}}),
    "cubic-cuts16": ("aire-cubic, 16 cuts", {"kind": "aire-cubic", "settings": {"cuts": 16}}),
    "cubic-end25": ("aire-cubic, ramp ends at 25 %", {"kind": "aire-cubic", "settings": {"end": 0.25}}),
    "cubic-end50": ("aire-cubic, ramp ends at 50 %", {"kind": "aire-cubic", "settings": {"end": 0.5}}),
    "cubic-lsq": ("aire-cubic-lsq: cubic cuts with the least-squares refit of the next layer",
                  {"kind": "aire-cubic-lsq"}),
    "cubic-activation": ("aire-cubic, criterion activation-l1", {"kind": "aire-cubic", "criterion": "activation-l1"}),
    "cubic-norewind": ("aire-cubic, no learning-rate rewinding", {"kind": "aire-cubic", "lr_rewind": False}),
    "cubic-alpha0.2": ("aire-cubic, TWD alpha_max 0.2 (gentler decay)", {"kind": "aire-cubic", "alpha_max": 0.2}),
    "cubic-alpha0.8": ("aire-cubic, TWD alpha_max 0.8 (stronger decay)", {"kind": "aire-cubic", "alpha_max": 0.8}),
    "cubic-cuts16-alpha0.2": ("aire-cubic, 16 cuts and alpha_max 0.2",
                              {"kind": "aire-cubic", "alpha_max": 0.2, "settings": {"cuts": 16}}),
    "cubic-nodensify-end50": ("aire-cubic, no densification, ramp ends at 50 %",
                              {"kind": "aire-cubic", "settings": {"densify_cycles": 0, "end": 0.5}}),
    "cubic-densify-k0": ("aire-cubic with densify_k 0 (no densification, as a preset would set it)",
                         {"kind": "aire-cubic", "densify_k": 0}),
    "cubic-lsq-nodensify": ("aire-cubic-lsq, no densification", {"kind": "aire-cubic-lsq", "densify_k": 0}),
    "cubic-alpha0": ("aire-cubic without TWD (alpha_max 0: the cut neurons are not decayed first)",
                     {"kind": "aire-cubic", "alpha_max": 0.0}),
    "cubic-alpha0-nodensify": ("aire-cubic without TWD or densification: cubic-ramp magnitude pruning",
                               {"kind": "aire-cubic", "alpha_max": 0.0, "densify_k": 0}),
    "cubic-prune-input": ("aire-cubic, input frequencies pruned too (prune_layers 0..L)",
                          {"kind": "aire-cubic", "prune_layers": "all"}),
    "aire-lsq": ("aire-lsq: aire's cycles with the least-squares refit", {"kind": "aire-lsq"}),
    "lsq-nodensify": ("aire-lsq without densification (densify_k 0)", {"kind": "aire-lsq", "densify_k": 0}),
    "lsq-pre-cut": ("aire-lsq, reference pre-cut", {"kind": "aire-lsq", "settings": {"reference": "pre-cut"}}),
}


def protocol(signal: str) -> dict[str, Any]:
    """The suite's cpu settings of `signal` with the reduced protocol's options."""
    return baselines.settings("cpu", {signal: PROTOCOL_OPTIONS[signal]})[signal]


def schedule_for(name: str, layers: int) -> aire.ScheduleConfig:
    """The ScheduleConfig of a candidate at the budget, for a network of `layers` sine layers."""
    if name not in CANDIDATES:
        raise SystemExit(f"sdf_nerf_search: unknown candidate {name!r} (known: {', '.join(CANDIDATES)})")
    kw = dict(CANDIDATES[name][1])
    prune = kw.pop("prune_layers", None)
    layers_ = tuple(range(layers)) if prune == "all" else tuple(range(1, layers))
    return aire.ScheduleConfig(**{"target_params": BUDGET, "prune_layers": layers_, **kw})


def read(path: Path = RESULT) -> dict[str, Any]:
    if not path.exists():
        return {"what": __doc__.splitlines()[0], "rows": []}
    return json.loads(path.read_text())


def _write(path: Path, data: dict[str, Any] | str) -> None:
    """Write JSON (or text) whole: a temporary file renamed onto `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data if isinstance(data, str) else json.dumps(data, indent=1))
    os.replace(tmp, path)


def import_suite(suite_path: Path, data: dict[str, Any]) -> int:
    """File the suite's sdf/nerf rows of the reference methods at the budget (once)."""
    suite = json.loads(suite_path.read_text())
    have = {_key(r) for r in data["rows"]}
    added = 0
    for signal in ("sdf", "nerf"):
        mine = protocol(signal)
        theirs = {k: v for k, v in suite["settings"].get(signal, {}).items() if k not in ("meshes", "mesh")}
        if {k: v for k, v in mine.items() if k not in ("meshes", "mesh")} != theirs:
            raise SystemExit(f"sdf_nerf_search: {suite_path} ran another {signal} protocol ({theirs} vs {mine})")
    for r in suite["rows"]:
        if r["signal"] not in ("sdf", "nerf") or r["budget"] != BUDGET or r["method"] not in REFERENCES:
            continue
        row = {k: r[k] for k in ("signal", "target", "seed", "budget", "method", "quality", "params",
                                 "params_initial", "architecture", "seconds")}
        row["source"] = f"{suite_path.name} ({suite['date']})"
        if _key(row) not in have:
            data["rows"].append(row)
            added += 1
    return added


def _key(r: dict[str, Any]) -> tuple:
    return (r["signal"], r["target"], r["seed"], r["method"])


def check_protocol(path: Path) -> None:
    """Refuse to add rows to a result file written under other protocol settings."""
    mine = {s: protocol(s) for s in ("sdf", "nerf")} | {"budget": BUDGET}
    theirs = read(path).get("protocol")
    if theirs is not None and theirs != json.loads(json.dumps(mine)):
        raise SystemExit(f"sdf_nerf_search: {path} holds rows of another protocol ({theirs}); use another --result")


def run(signal: str, names: Sequence[str], seeds: Sequence[int], path: Path) -> None:
    check_protocol(path)
    c = protocol(signal)
    targets = baselines._targets(signal, c)
    for seed in seeds:
        for target_name, target in targets:
            for name in names:
                data = read(path)
                if (signal, target_name, seed, name) in {_key(r) for r in data["rows"]}:
                    continue
                r = baselines.fit(signal, target, [int(w) for w in c["widths"]],
                                  schedule_for(name, len(c["widths"])), c, seed, "cpu", "fp32")
                r.pop("history")
                row = {"signal": signal, "target": target_name, "seed": seed, "budget": BUDGET, "method": name,
                       **r, "settings": CANDIDATES[name][1], "load": round(os.getloadavg()[0], 1),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
                print(f"  {signal} {target_name} seed {seed} {name:20} {baselines._fmt(row['quality'], signal)} "
                      f"params {row['params']} {row['architecture'][:-1]} {row['seconds']:.0f} s "
                      f"(load {row['load']})", flush=True)
                data = read(path)
                data["rows"].append(row)
                _write(path, data)


def floor(path: Path) -> None:
    """Rows 'floor-self' (the mesh against itself: sampling alone) and 'floor-grid' (marching cubes
    of the exact signed distance at the eval resolution) per SDF target, seed 0."""
    import numpy as np

    from aire.geometry import distance as gdist
    from aire.geometry.extract import keep_largest_component, marching_cubes
    from aire.geometry.sampling import grid_points
    from aire.metrics.mesh import chamfer

    c = protocol("sdf")
    data = read(path)
    have = {_key(r) for r in data["rows"]}
    for name, signal in baselines._targets("sdf", c):
        for method in ("floor-self", "floor-grid"):
            if ("sdf", name, 0, method) in have:
                continue
            t0 = time.perf_counter()
            if method == "floor-self":
                rec = signal.mesh
            else:
                n = signal.eval_resolution
                sdf = gdist.signed_distance(signal.mesh, grid_points(n), signal.sign_method)
                rec, _ = keep_largest_component(marching_cubes(np.asarray(sdf, dtype=np.float32).reshape(n, n, n)))
            q = chamfer(rec, signal.mesh, signal.chamfer_samples, seed=signal.seed)["chamfer_l1"]
            row = {"signal": "sdf", "target": name, "seed": 0, "budget": None, "method": method, "quality": q,
                   "params": 0, "seconds": round(time.perf_counter() - t0, 1),
                   "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
            print(f"  sdf {name} {method}: Chamfer L1 {q:.5f}", flush=True)
            data["rows"].append(row)
    _write(path, data)


# ------------------------------------------------------------------------------------------- summary
def paired(rows: list[dict], signal: str, name: str, other: str) -> list[float]:
    """name - other per (target, seed): percent of other's Chamfer L1, or dB."""
    by = {(r["target"], r["seed"], r["method"]): r["quality"] for r in rows
          if r["signal"] == signal and r.get("budget") == BUDGET and r["quality"] is not None}
    out = []
    for (target, seed, m), value in by.items():
        ref = by.get((target, seed, other))
        if m == name and ref is not None:
            out.append(100.0 * (value - ref) / ref if signal == "sdf" else value - ref)
    return out


def summarize(rows: list[dict], signal: str) -> list[dict[str, Any]]:
    out = []
    for name in dict.fromkeys(r["method"] for r in rows if r["signal"] == signal):
        rs = [r for r in rows if r["signal"] == signal and r["method"] == name]
        entry: dict[str, Any] = {"method": name, "what": CANDIDATES.get(name, ("",))[0], "runs": len(rs),
                                 "seeds": sorted({r["seed"] for r in rs}),
                                 "quality": statistics.fmean(r["quality"] for r in rs),
                                 "params": round(statistics.fmean(r["params"] for r in rs)),
                                 "seconds": round(statistics.fmean(r["seconds"] for r in rs), 1),
                                 "load": [r["load"] for r in rs if "load" in r]}
        for other in REFERENCES:
            d = paired(rows, signal, name, other) if name != other else []
            mean, se = baselines.mean_se(d)
            entry[f"vs_{other}"] = {"mean": mean, "se": se, "n": len(d)}
        out.append(entry)
    return out


def _diff(d: dict[str, Any], unit: str) -> str:
    if d["mean"] is None:
        return ""
    se = "n/a" if d["se"] is None else f"{d['se']:.2f}"
    return f"{d['mean']:+.2f} ± {se}{unit} ({d['n']})"


def markdown(data: dict[str, Any]) -> str:
    rows = data["rows"]
    lines = ["# SDF and NeRF method search (issue 15)", "",
             f"Protocol: the baselines suite's reduced cpu settings (baselines-cpu-cpu-all.md), budget {BUDGET:.0%}, "
             "hidden layers pruned unless the row says otherwise. Differences are paired over (target, seed), "
             "mean ± standard error (pairs): percent of the other row's Chamfer L1 for SDFs (negative = the row "
             "is better), dB of test PSNR for NeRF (positive = the row is better). Rows with a source came from "
             "the suite; the others were fitted by `python -m benchmarks.sdf_nerf_search` on "
             f"{device_name('cpu')} (`nice -n 10`) of a shared 2-core machine; 1-minute load per row "
             "in the JSON. Seconds are wall time on that shared machine: not a speed measurement.", "",
             "SDF floor rows: `floor-self` is the reference mesh against itself with the metric's sampling "
             "(independent draws), the Chamfer L1 of a perfect reconstruction at this sample count; `floor-grid` "
             "is marching cubes of the mesh's exact signed distance at the eval resolution against the mesh. "
             "No network can go below them, so a percent difference between two fits is a difference of "
             "(error + floor).", ""]
    for signal, unit, label in (("sdf", " %", "Chamfer L1"), ("nerf", " dB", "test PSNR (dB)")):
        summary = summarize(rows, signal)
        if not summary:
            continue
        c = protocol(signal)
        lines += [f"## {signal}", "", f"settings {c}", "",
                  f"| method | what | runs (seeds) | mean {label} | params | s/fit | - aire-cubic | "
                  "- magnitude-iterative | - aire (old default) |", "|---|---|---|---|---|---|---|---|---|"]
        for e in summary:
            q = f"{e['quality']:.5f}" if signal == "sdf" else f"{e['quality']:.2f}"
            lines.append(f"| {e['method']} | {e['what']} | {e['runs']} ({','.join(map(str, e['seeds']))}) | {q} | "
                         f"{e['params']:,} | {e['seconds']} | {_diff(e['vs_aire-cubic'], unit)} | "
                         f"{_diff(e['vs_magnitude-iterative'], unit)} | {_diff(e['vs_aire'], unit)} |")
        lines.append("")
    return "\n".join(lines)


def write_summary(path: Path) -> None:
    data = read(path)
    data["summary"] = {s: summarize(data["rows"], s) for s in ("sdf", "nerf")}
    data["candidates"] = {k: {"what": w, "settings": s} for k, (w, s) in CANDIDATES.items()}
    data["protocol"] = {s: protocol(s) for s in ("sdf", "nerf")} | {"budget": BUDGET}
    _write(path, data)
    md = markdown(data)
    _write(path.with_suffix(".md"), md)
    print(md, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sdf_nerf_search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("candidates", nargs="*", help=f"among: {', '.join(CANDIDATES)}")
    p.add_argument("--signal", choices=("sdf", "nerf"), default="sdf")
    p.add_argument("--seeds", default="0")
    p.add_argument("--result", type=Path, default=RESULT)
    p.add_argument("--import", dest="import_", type=Path, help="a baselines suite JSON of the same protocol")
    p.add_argument("--floor", action="store_true", help="add the metric's floor rows (SDF)")
    p.add_argument("--summary-only", action="store_true")
    p.add_argument("--chamfer-samples", type=int, help="SDF: Chamfer samples per surface (protocol: 20000); "
                   "rows of another count need their own --result file")
    args = p.parse_args(argv)
    if args.chamfer_samples is not None:
        PROTOCOL_OPTIONS["sdf"]["chamfer_samples"] = args.chamfer_samples
    torch.set_num_threads(1)
    if args.import_:
        data = read(args.result)
        print(f"imported {import_suite(args.import_, data)} rows from {args.import_}")
        _write(args.result, data)
    if args.floor:
        check_protocol(args.result)
        floor(args.result)
    if not args.summary_only:
        run(args.signal, args.candidates, [int(s) for s in args.seeds.split(",")], args.result)
    write_summary(args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
