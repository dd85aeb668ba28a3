"""Method search for issue 15: which schedule / criterion / policy moves AIRe's margin over the baselines.

Every candidate is a named ScheduleConfig (a schedule, criterion or policy plugin and its settings);
each runs on the same (image, seed) pairs as the current default (``default``: schedule ``aire``) and
the best baseline of the reduced suite (``magnitude-iterative``), with the baselines suite's fit
(benchmarks.baselines.fit: same steps, learning-rate rule, widths and budget for every row). The
summary gives, per candidate, the mean paired difference candidate - default and candidate -
magnitude-iterative with its standard error (sample sd / sqrt(pairs)) and the number of pairs.

Rows are appended to a JSONL file as they finish (a stopped search resumes where it was), and the
summary is written as markdown and JSON beside it::

    nice -n 10 python -m benchmarks.method_search --images 0-3 --seeds 0,1 default distill lsq-refit
    python -m benchmarks.method_search --summary-only          # re-write the tables from the rows

``--import`` takes a baselines suite JSON and files its ``aire`` rows as ``default`` and its
``magnitude-iterative`` rows as such (same protocol, same code: the rows are what this search would
compute; one is re-run to check when ``--check-import`` is given).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

import aire
from benchmarks import baselines
from benchmarks.suite import RESULTS, device_name

#: the protocol of the search (the baselines suite's image settings at 64 px, 800 steps)
PROTOCOL: dict[str, Any] = {"size": 64, "widths": [64, 64, 64, 64], "steps": 800, "lr": 5e-4, "lr_final": 5e-5,
                            "batch_size": None, "omega0": 30.0, "eval_every": 200, "budget": 0.5}
HIDDEN = (1, 2, 3)

#: name -> (what it tests, ScheduleConfig keyword arguments); target_params and prune_layers are added
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("AIRe with the current defaults", {}),
    "magnitude-iterative": ("best baseline: 3 magnitude cuts at 10/20/30 %, fine-tuning",
                            {"kind": "magnitude-iterative"}),
    # (a) information handed over by distillation during TWD
    "distill": ("(a) distillation toward the frozen pre-TWD network during TWD (weight 1)",
                {"kind": "aire-distill", "settings": {"distill_weight": 1.0}}),
    "distill-0.3": ("(a) distillation, weight 0.3", {"kind": "aire-distill", "settings": {"distill_weight": 0.3}}),
    # (b) least-squares compensation of the next layer at the cut
    "lsq-refit": ("(b) at each cut, least-squares refit of the next layer's weights and bias to its pre-TWD "
                  "pre-activations", {"kind": "aire-lsq"}),
    "lsq-refit-noTWD": ("(b) least-squares refit to the pre-cut pre-activations instead of TWD (alpha_max 0: "
                        "the targets are frozen, not decayed)",
                        {"kind": "aire-lsq", "alpha_max": 0.0, "settings": {"reference": "pre-cut"}}),
    # (c) activation-aware criterion
    "activation": ("(c) criterion: RMS of the neuron's output on the data x outgoing column L1",
                   {"criterion": "activation-l1"}),
    # (d) gradual cubic schedule (Zhu & Gupta 2017)
    "cubic": ("(d) 8 cuts on Zhu & Gupta's cubic schedule from 10 % to 35 % of the steps, TWD before each",
              {"kind": "aire-cubic"}),
    "cubic-lsq": ("(d)+(b) the cubic schedule with the least-squares refit at each cut", {"kind": "aire-cubic-lsq"}),
    # (e) timing against the learning-rate decay
    "timing-early": ("(e) cycles earlier: warm-up 5 %, cuts at 10 and 20 %", {"warmup": 0.05}),
    "timing-late": ("(e) cycles later: warm-up 20 %, cuts at 25 and 35 %", {"warmup": 0.2}),
    "timing-norewind": ("(e) no learning-rate rewinding at the cuts (one decay over the run)", {"lr_rewind": False}),
}


def schedule_for(name: str, budget: float) -> aire.ScheduleConfig:
    """The ScheduleConfig of a candidate at a parameter budget (hidden layers pruned)."""
    if name not in CANDIDATES:
        raise SystemExit(f"method_search: unknown candidate {name!r} (known: {', '.join(CANDIDATES)})")
    return aire.ScheduleConfig(**{"target_params": budget, "prune_layers": HIDDEN, **CANDIDATES[name][1]})


def parse_range(text: str) -> list[int]:
    """'0-3' -> [0, 1, 2, 3]; '4,6' -> [4, 6]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def import_suite(path: Path, rows_path: Path) -> int:
    """File a baselines suite's image rows at the protocol (aire -> default, magnitude-iterative) as search rows."""
    suite = json.loads(path.read_text())
    have = {(r["candidate"], r["image"], r["seed"]) for r in read_rows(rows_path)}
    c = suite["settings"]["image"]
    if any(c[k] != PROTOCOL[k] for k in ("size", "widths", "steps", "lr", "lr_final", "omega0")):
        raise SystemExit(f"method_search: {path} ran another protocol ({c})")
    added = 0
    with rows_path.open("a") as f:
        for r in suite["rows"]:
            name = {"aire": "default", "magnitude-iterative": "magnitude-iterative"}.get(r["method"])
            if r["signal"] != "image" or r["budget"] != PROTOCOL["budget"] or name is None:
                continue
            key = (name, r["target"], r["seed"])
            if key in have:
                continue
            f.write(json.dumps({"candidate": name, "image": r["target"], "seed": r["seed"], "psnr": r["quality"],
                                "params": r["params"], "architecture": r["architecture"], "seconds": r["seconds"],
                                "source": f"{path.name} ({suite['date']})"}) + "\n")
            added += 1
    return added


def run(names: Sequence[str], images: Sequence[int], seeds: Sequence[int], rows_path: Path) -> None:
    from benchmarks.common import div2k

    targets = div2k(max(images) + 1, PROTOCOL["size"])
    have = {(r["candidate"], r["image"], r["seed"]) for r in read_rows(rows_path)}
    for seed in seeds:
        for i in images:
            image, signal = targets[i]
            for name in names:
                if (name, image, seed) in have:
                    continue
                r = baselines.fit("image", signal, list(PROTOCOL["widths"]), schedule_for(name, PROTOCOL["budget"]),
                                  PROTOCOL, seed, "cpu", "fp32")
                row = {"candidate": name, "image": image, "seed": seed, "psnr": r["quality"], "params": r["params"],
                       "architecture": r["architecture"], "seconds": r["seconds"],
                       "load": round(_load(), 2), "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
                print(f"  {name:22} {image} seed {seed}: {row['psnr']:.2f} dB, {row['params']} params "
                      f"{row['architecture'][:-1]}, {row['seconds']:.0f} s (load {row['load']})", flush=True)
                with rows_path.open("a") as f:
                    f.write(json.dumps(row) + "\n")


def _load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def paired(rows: list[dict], name: str, other: str, images: set[str] | None = None) -> list[float]:
    """name - other in dB per (image, seed) both ran."""
    by = {(r["candidate"], r["image"], r["seed"]): r["psnr"] for r in rows}
    return [v - by[(other, im, s)] for (c, im, s), v in by.items()
            if c == name and (other, im, s) in by and (images is None or im in images)]


def summarize(rows: list[dict], images: set[str] | None = None) -> list[dict[str, Any]]:
    """Per candidate: runs, mean PSNR and params, and the paired differences to default and the best baseline."""
    out = []
    for name in dict.fromkeys(r["candidate"] for r in rows):
        rs = [r for r in rows if r["candidate"] == name and (images is None or r["image"] in images)]
        if not rs:
            continue
        entry: dict[str, Any] = {"candidate": name, "what": CANDIDATES.get(name, ("", {}))[0],
                                 "settings": CANDIDATES.get(name, ("", {}))[1], "runs": len(rs),
                                 "psnr": sum(r["psnr"] for r in rs) / len(rs),
                                 "params": round(sum(r["params"] for r in rs) / len(rs)),
                                 "seconds": round(sum(r["seconds"] for r in rs) / len(rs), 1)}
        for other, key in (("default", "vs_default"), ("magnitude-iterative", "vs_best_baseline")):
            d = paired(rows, name, other, images) if name != other else []
            mean, se = baselines.mean_se(d)
            entry[key] = {"mean": mean, "se": se, "n": len(d)}
        out.append(entry)
    return out


def _diff(d: dict[str, Any]) -> str:
    if d["mean"] is None:
        return ""
    se = "n/a" if d["se"] is None else f"{d['se']:.2f}"
    return f"{d['mean']:+.2f} ± {se} ({d['n']})"


def markdown(rows: list[dict], groups: dict[str, set[str]]) -> str:
    lines = ["# Method search (issue 15)", "",
             f"Protocol: DIV2K images at {PROTOCOL['size']} px, SIREN {PROTOCOL['widths']}, omega_0 "
             f"{PROTOCOL['omega0']:g}, {PROTOCOL['steps']} full-batch steps, Adam {PROTOCOL['lr']:g} -> "
             f"{PROTOCOL['lr_final']:g}, budget {PROTOCOL['budget']:.0%} of the parameters, hidden layers pruned; "
             "paired over (image, seed); difference in dB, mean ± standard error (pairs). Device: "
             f"{device_name('cpu')}, a shared 2-core machine (load per row in the JSONL). Rows: "
             "method_search-cpu.jsonl; reproduce with `python -m benchmarks.method_search`.", ""]
    for title, images in groups.items():
        summary = summarize(rows, images)
        if not summary:
            continue
        lines += [f"## {title}", "", "| candidate | what | runs | mean PSNR | params | s/fit | - default (dB) | "
                  "- magnitude-iterative (dB) |", "|---|---|---|---|---|---|---|---|"]
        for e in summary:
            lines.append(f"| {e['candidate']} | {e['what']} | {e['runs']} | {e['psnr']:.2f} | {e['params']:,} | "
                         f"{e['seconds']} | {_diff(e['vs_default'])} | {_diff(e['vs_best_baseline'])} |")
        lines.append("")
    return "\n".join(lines)


def write_summary(rows_path: Path) -> None:
    rows = read_rows(rows_path)
    names = sorted({r["image"] for r in rows})
    groups = {"tuning images 00-03": {n for n in names if n < "04"},
              "hold-out images 04-07": {n for n in names if n >= "04"},
              "all images 00-07 (tuning and hold-out pairs together)": set(names)}
    md = rows_path.with_suffix(".md")
    md.write_text(markdown(rows, groups))
    rows_path.with_suffix(".json").write_text(json.dumps(
        {"protocol": PROTOCOL, "candidates": {k: {"what": w, "settings": s} for k, (w, s) in CANDIDATES.items()},
         "summary": {t: summarize(rows, g) for t, g in groups.items()}}, indent=1))
    print(md.read_text(), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.method_search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("candidates", nargs="*", help=f"among: {', '.join(CANDIDATES)}")
    p.add_argument("--images", default="0-3", help="indices into DIV2K 00-07, e.g. 0-3 or 4-7")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--rows", type=Path, default=RESULTS / "method_search-cpu.jsonl")
    p.add_argument("--import", dest="import_", type=Path, help="a baselines suite JSON of the same protocol")
    p.add_argument("--summary-only", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.import_:
        print(f"imported {import_suite(args.import_, args.rows)} rows from {args.import_}")
    if not args.summary_only:
        run(args.candidates, parse_range(args.images), parse_range(args.seeds), args.rows)
    write_summary(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
