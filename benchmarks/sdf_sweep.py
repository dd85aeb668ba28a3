"""SDF schedule study: paired AIRe-vs-scratch comparisons over several seeds, one line per variant.

Each variant changes a protocol (SIZES below: the short cpu one, or the sdf suite's gpu size) with
fit settings (steps, omega0, lr, lr_final, widths, budget, batch_size), signal settings
(eikonal_weight, normal_weight, loss) or ScheduleConfig fields. For every (variant, seed) it fits
AIRe, then AIRe's final architecture from scratch with the same seed, and reports the paired relative
Chamfer L1 difference 100 (aire - scratch) / scratch: its mean over seeds, its standard error and the
number of seeds where AIRe is lower. Rows are appended to a JSON-lines file as they finish, so a time
limit keeps what was done; the markdown table is rebuilt from that file.

    python benchmarks/sdf_sweep.py --seeds 0 1 2 --variant base='{}' --variant long='{"steps": 6000}'
    python benchmarks/sdf_sweep.py --table benchmarks/results/sdf_sweep-study-h100.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import aire  # noqa: E402
from aire.signals.sdf import SDFSignal  # noqa: E402
from benchmarks.sdf_tradeoff import RUN_DEFAULTS, SIZES as SUITE_SIZES, fit_row, make_signal  # noqa: E402
from benchmarks.common import sweep_schedule  # noqa: E402
from benchmarks.suite import RESULTS, data_root, device_name, device_slug  # noqa: E402

#: the protocols the variants change: `cpu` is the short one the study started from (the sdf suite's cpu
#: size before the study lengthened it), `gpu` the suite's gpu size (the paper-like setting)
SIZES: dict[str, dict[str, Any]] = {
    "cpu": {**RUN_DEFAULTS, "widths": [96, 96, 96, 96], "steps": 2000, "batch_size": 8192, "samples": 200_000,
            "omega0": 30.0, "budget": 0.35, "eval_resolution": 128, "chamfer_samples": 100_000, "precision": "fp32"},
    "gpu": {**RUN_DEFAULTS, **SUITE_SIZES["gpu"]},
}
FIT_KEYS = {"steps", "omega0", "lr", "lr_final", "widths", "budget", "batch_size", "samples", "eval_resolution",
            "chamfer_samples"}
SIGNAL_KEYS = {"eikonal_weight", "normal_weight", "loss"}


def split_variant(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(fit, signal, schedule) settings of a variant; unknown ScheduleConfig fields fail here."""
    fit = {k: v for k, v in settings.items() if k in FIT_KEYS}
    signal = {k: v for k, v in settings.items() if k in SIGNAL_KEYS}
    schedule = {k: v for k, v in settings.items() if k not in FIT_KEYS | SIGNAL_KEYS}
    aire.ScheduleConfig(**schedule)  # validate early, naming the field
    return fit, signal, schedule


def fit_one(signal: SDFSignal, widths: list[int], s: dict[str, Any], schedule: aire.ScheduleConfig, seed: int,
            device: str) -> dict[str, Any]:
    """One fit by the sdf suite's fit_row (no picture), without its history."""
    row = fit_row("aire" if schedule.kind == "aire" else "scratch", signal, widths, {**s, "seed": seed}, schedule,
                  device, None, True)
    return {k: v for k, v in row.items() if k not in ("run", "history")}


def sweep(variants: dict[str, dict[str, Any]], seeds: list[int], size: str, device: str, mesh: Path,
          out: Path) -> None:
    """Fit every (variant, seed) pair not already in `out` and append its rows there."""
    done = {(r["variant"], r["seed"], r["run"]) for r in read_rows(out)}
    signals: dict[str, SDFSignal] = {}
    prepared = {}
    for name, settings in variants.items():
        fit, signal_settings, schedule_settings = split_variant(settings)
        s = {**SIZES[size], **fit}
        s["eval_every"] = s["steps"]  # one evaluation, at the end: the sweep reads only the final metrics
        key = json.dumps([signal_settings, s["samples"], s["eval_resolution"], s["chamfer_samples"]], sort_keys=True)
        if key not in signals:
            signals[key] = make_signal(mesh, s, **signal_settings)
        hidden = list(range(1, len(s["widths"])))
        schedule = sweep_schedule({"target_params": s["budget"], "prune_layers": hidden, **schedule_settings})
        prepared[name] = (settings, s, signals[key], schedule)
    for seed in seeds:  # seed-major, so a time limit leaves every variant with the same seeds
        for name, (settings, s, signal, schedule) in prepared.items():
            if (name, seed, "scratch") in done:
                continue
            adaptive = fit_one(signal, list(s["widths"]), s, schedule, seed, device)
            scratch = fit_one(signal, list(adaptive["architecture"][:-1]), s, aire.ScheduleConfig(kind="none"),
                              seed, device)
            with out.open("a") as f:
                f.write("".join(json.dumps({"variant": name, "size": size, "settings": settings, "seed": seed, "run": run,
                                            "device": device_name(device),
                                            "protocol": {k: v for k, v in s.items() if k != "seed"}, **row}) + "\n"
                                for run, row in (("aire", adaptive), ("scratch", scratch))))
            print(f"{name:<14} seed {seed}: aire {_f(adaptive['chamfer_l1'])} scratch {_f(scratch['chamfer_l1'])} "
                  f"{adaptive['architecture']} ({adaptive['seconds']} + {scratch['seconds']} s)", flush=True)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.5f}"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines results file (a torn last line, from a kill, is skipped)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per variant: paired relative differences (percent) of AIRe against scratch, over seeds."""
    scratch = {(r["variant"], r["seed"]): r for r in rows if r["run"] == "scratch"}
    pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in rows:  # variant names are unique across sizes in a study
        twin = scratch.get((r["variant"], r["seed"]))
        if r["run"] == "aire" and twin is not None and None not in (r["chamfer_l1"], twin["chamfer_l1"]):
            pairs.setdefault(r["variant"], []).append((r, twin))
    out = []
    for variant, pair in pairs.items():
        diffs = [100 * (a["chamfer_l1"] - b["chamfer_l1"]) / b["chamfer_l1"] for a, b in pair]
        n = len(diffs)
        mean = sum(diffs) / n
        sem = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else float("nan")
        last = pair[-1][0]
        out.append({"variant": variant, "size": last.get("size", "cpu"), "settings": last["settings"], "seeds": n,
                    "aire_mean": sum(a["chamfer_l1"] for a, _ in pair) / n,
                    "scratch_mean": sum(b["chamfer_l1"] for _, b in pair) / n, "diff_percent": mean,
                    "sem_percent": sem, "aire_wins": sum(d < 0 for d in diffs), "diffs": diffs,
                    "architecture": last["architecture"]})
    return out


def markdown(summary: list[dict[str, Any]], header: str) -> str:
    lines = [header, "", "| variant | size | settings | seeds | AIRe Chamfer L1 | scratch Chamfer L1 | AIRe - scratch (%) "
             "| AIRe lower | final architecture |", "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        sem = "" if math.isnan(s["sem_percent"]) else f" ± {s['sem_percent']:.1f}"
        lines.append(f"| {s['variant']} | {s['size']} | `{json.dumps(s['settings'])}` | {s['seeds']} | {s['aire_mean']:.5f} | "
                     f"{s['scratch_mean']:.5f} | {s['diff_percent']:+.1f}{sem} | {s['aire_wins']}/{s['seeds']} | "
                     f"{s['architecture']} |")
    lines += ["", "AIRe - scratch: mean over seeds of the paired relative Chamfer L1 difference (± its standard "
              "error); negative means AIRe's final network is closer to the surface than the same architecture "
              "trained from scratch."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="cpu", help="the protocol the variants change (SIZES)")
    p.add_argument("--mesh", type=Path)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help="settings of one variant (fit, signal or ScheduleConfig keys); default: base='{}'")
    p.add_argument("--base", default="{}", metavar="JSON", help="settings under every variant's (e.g. a smoke test's)")
    p.add_argument("--out", type=Path, help="JSON-lines file (appended; finished pairs are skipped)")
    p.add_argument("--table", type=Path, help="only rebuild the markdown table of this JSON-lines file")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.table is None:
        import torch

        torch.set_num_threads(args.threads)
        base = json.loads(args.base)
        variants = {n: {**base, **json.loads(js or "{}")} for n, _, js in (v.partition("=") for v in args.variant)}
        variants = variants or {"base": base}
        for settings in variants.values():
            split_variant(settings)
        out = args.out or RESULTS / f"sdf_sweep-{args.size}-{device_slug(args.device)}.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        mesh = args.mesh or data_root() / "meshes" / "armadillo.off"
        try:
            sweep(variants, args.seeds, args.size, args.device, mesh, out)
        except KeyboardInterrupt:
            print("interrupted; finished pairs are kept", flush=True)
    else:
        out = args.table
    rows = read_rows(out)
    devices = sorted({r.get("device", "?") for r in rows})
    sizes = sorted({r.get("size", args.size) for r in rows}) or [args.size]
    protocols = "; ".join(f"`{z}`: {SIZES[z]['widths']}, omega0 {SIZES[z]['omega0']}, {SIZES[z]['steps']} steps of "
                          f"{SIZES[z]['batch_size']} points, lr {SIZES[z]['lr']}, budget {SIZES[z]['budget']}"
                          for z in sizes)
    header = (f"# SDF schedule study ({out.name})\n\nProtocols (benchmarks/sdf_sweep.py SIZES; each variant's "
              f"settings change them): {protocols}. Device {', '.join(devices)}.")
    table = markdown(summarise(rows), header)
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
