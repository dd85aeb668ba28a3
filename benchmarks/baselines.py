"""The baselines suite: AIRe against what a user would otherwise do to get a small sinusoidal network.

For each signal (DIV2K images, SDF meshes, a NeRF scene rendered from a mesh), parameter budget
(fraction of the large network's parameters) and seed, every method trains for the SAME number of
steps with the same learning-rate rule (Adam, exponential decay lr -> lr_final; the pruning methods
restart it at their last cut, as AIRe does with lr_rewind):

* ``large``: the uniform starting network, plain training (the reference, one per seed);
* ``dense-narrow``: plain training of the widest uniform network under the budget (a width sweep's
  Pareto point);
* ``aire``: AIRe with the current defaults (the ScheduleConfig default schedule, or the schedule
  option ``aire_schedule`` names, e.g. ``aire-cubic``), pruning the hidden layers;
* ``aire-cycles``: AIRe with the paper's cycles (schedule ``aire``: densify, TWD, prune twice), the default
  before the cubic ramp;
* ``scratch``: AIRe's final architecture (of the ``aire`` row) trained from scratch (schedule ``none``);
* ``magnitude-oneshot`` / ``magnitude-iterative``: structured magnitude (outgoing column L1) pruning
  and fine-tuning without TWD: one cut at 30 % of the steps, or 3 cuts at 10/20/30 %
  (aire.schedules.magnitude);
* ``depgraph-oneshot`` / ``depgraph-iterative``: the same cuts chosen and made by torch-pruning's
  DepGraph with group L1 magnitude (aire.schedules.depgraph; needs ``aire-inr[baselines]``, rows
  skipped with the reason in ``skipped`` otherwise).

RigL is not run: the only packaged implementation, rigl-torch 0.5.2 (2020), is unmaintained, does not
run as installed (an undeclared torchvision import) and makes unstructured (weight-level) sparsity,
which gives no smaller dense network (see ``RIGL_NOTE``).

Options ``network`` (``siren`` or ``finer``) and ``encoding`` (``siren`` or ``lattice``) choose the
network and input-layer plugins of every row (aire.build_network), for the "signals beyond SIREN's
comfort zone" rows of issue 15; results of different networks or encodings are never merged.

Each method is paired with AIRe on the same (target, seed, budget); the summary gives per
(signal, budget, method) the mean quality, parameters and wall seconds, and the mean paired
difference AIRe - method with its standard error (sample sd / sqrt(pairs)): in dB for images and
NeRF (positive = AIRe better), in percent of the method's Chamfer L1 for SDFs (negative = AIRe better).

    python -m benchmarks baselines --size cpu --signals image --set budgets='[0.5]' \\
        --set image='{"images": 2, "size": 64, "steps": 500}'
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import warnings
from pathlib import Path
from typing import Any

import aire
from aire.train import schedule as sched
from benchmarks.suite import data_root

SIGNALS = ("image", "sdf", "nerf")
#: every method, in table order; "large" is per seed (no budget)
METHODS = ("large", "dense-narrow", "aire", "aire-cycles", "scratch", "magnitude-oneshot", "magnitude-iterative",
           "depgraph-oneshot", "depgraph-iterative")
#: signal -> (metric key, label, +1 if higher is better)
QUALITY = {"image": ("psnr", "PSNR (dB)", 1), "sdf": ("chamfer_l1", "Chamfer L1", -1),
           "nerf": ("psnr_test", "test PSNR (dB)", 1)}
RIGL_NOTE = ("the only packaged implementation, rigl-torch 0.5.2 (last release Nov 2020; its README "
             "says results are not yet up to the paper's), installs but its scheduler imports torchvision without "
             "declaring it, looks for layers only as modules with a .weight (it finds none in our SineMLP), and makes "
             "unstructured weight-level sparsity, which gives no smaller dense network at equal parameters.")

#: the network and encoding plugins of every row, and the schedule of the "aire" rows (None: the
#: ScheduleConfig default); options like any other (--set network=finer)
NETWORK_DEFAULTS: dict[str, Any] = {"network": "siren", "encoding": "siren", "aire_schedule": None}

SIZES: dict[str, dict[str, Any]] = {
    # 1 thread of a shared 2-core CPU; the full protocol is hours there, use --set for a reduced one
    "cpu": {"signals": list(SIGNALS), "budgets": [0.3, 0.5, 0.7], "seeds": [0, 1], "methods": list(METHODS),
            "precision": "fp32", **NETWORK_DEFAULTS,
            "image": {"images": 8, "first": 0, "size": 96, "widths": [64, 64, 64, 64], "steps": 1000, "lr": 5e-4,
                      "lr_final": 5e-5, "batch_size": None, "omega0": 30.0, "eval_every": 250},
            "sdf": {"meshes": ["armadillo.off", "bunny00.off"], "widths": [64, 64, 64, 64], "steps": 2000,
                    "batch_size": 4096, "samples": 50_000, "eval_resolution": 64, "chamfer_samples": 20_000,
                    "omega0": 30.0, "lr": 2e-4, "lr_final": 2e-5, "eval_every": 500},
            "nerf": {"mesh": "bunny00.off", "views": 20, "image": 48, "test_views": 4, "widths": [64, 64, 64],
                     "steps": 1500, "batch_size": 512, "samples": 32, "importance": 0, "omega0": 30.0,
                     "lr": 5e-4, "lr_final": 5e-5, "eval_every": 500}},
    # one H100/H200
    "gpu": {"signals": list(SIGNALS), "budgets": [0.3, 0.5, 0.7], "seeds": [0, 1, 2], "methods": list(METHODS),
            "precision": "tf32", **NETWORK_DEFAULTS,
            "image": {"images": 8, "first": 0, "size": 256, "widths": [256, 256, 256, 256], "steps": 3000, "lr": 5e-4,
                      "lr_final": 5e-5, "batch_size": None, "omega0": 30.0, "eval_every": 500},
            "sdf": {"meshes": ["armadillo.off", "bunny00.off"], "widths": [256, 256, 256, 256], "steps": 5000,
                    "batch_size": 32768, "samples": 500_000, "eval_resolution": 256, "chamfer_samples": 200_000,
                    "omega0": 60.0, "lr": 1e-4, "lr_final": 1e-5, "eval_every": 1000},
            "nerf": {"mesh": "bunny00.off", "views": 60, "image": 128, "test_views": 10,
                     "widths": [256, 256, 256, 256], "steps": 2500, "batch_size": 2048, "samples": 64,
                     "importance": 64, "omega0": 30.0, "lr": 5e-4, "lr_final": 5e-5, "eval_every": 500}},
}


# ------------------------------------------------------------------------------------------ settings
def settings(size: str, options: dict[str, Any]) -> dict[str, Any]:
    """The size's settings with the options merged (per-signal dicts key by key); unknown keys exit."""
    base = SIZES[size]
    options = {k: v for k, v in options.items() if k != "threads"}
    unknown = set(options) - set(base)
    if unknown:
        raise SystemExit(f"baselines suite: unknown option(s) {sorted(unknown)} (known: {sorted(base)})")
    s = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in options.items():
        if key in SIGNALS:
            if not isinstance(value, dict) or set(value) - set(base[key]):
                raise SystemExit(f"baselines suite: {key} takes a JSON object with keys among {sorted(base[key])}")
            s[key].update(value)
        else:
            s[key] = value
    if isinstance(s["signals"], str):
        s["signals"] = [x for x in s["signals"].split(",") if x]
    bad = [x for x in s["signals"] if x not in SIGNALS] + [m for m in s["methods"] if m not in METHODS]
    if bad:
        raise SystemExit(f"baselines suite: unknown signal(s)/method(s) {bad} (signals {SIGNALS}, methods {METHODS})")
    if s["network"] not in ("siren", "finer") or s["encoding"] not in ("siren", "lattice"):
        raise SystemExit(f"baselines suite: network must be siren or finer and encoding siren or lattice, got "
                         f"{s['network']!r}, {s['encoding']!r}")
    if any(not 0 < float(b) < 1 for b in s["budgets"]):
        raise SystemExit(f"baselines suite: budgets must be fractions in (0, 1), got {s['budgets']}")
    return s


def widest_uniform(in_features: int, layers: int, out_features: int, target: float) -> int:
    """The largest width w with count_parameters(in, [w] * layers, out) <= target (at least 1)."""
    w = 1
    while sched.count_parameters(in_features, [w + 1] * layers, out_features) <= target:
        w += 1
    return w


# ------------------------------------------------------------------------------------------- signals
def _targets(signal: str, c: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, signal object) of every target of a signal kind."""
    if signal == "image":
        from benchmarks.common import div2k

        first = int(c.get("first", 0))  # e.g. first 4, images 4: the hold-out images 04-07
        return div2k(first + int(c["images"]), int(c["size"]))[first:]
    if signal == "sdf":
        from aire.signals.sdf import SDFSignal

        out = []
        for mesh in c["meshes"]:
            path = Path(mesh) if Path(mesh).is_absolute() else data_root() / "meshes" / mesh
            out.append((path.name, SDFSignal(path, samples=int(c["samples"]), eval_resolution=int(c["eval_resolution"]),
                                             mesh_resolution=int(c["eval_resolution"]),
                                             chamfer_samples=int(c["chamfer_samples"]))))
        return out
    from aire.scenes.make_scene import make_scene
    from aire.signals.nerf.signal import NerfSignal

    mesh = Path(c["mesh"]) if Path(c["mesh"]).is_absolute() else data_root() / "meshes" / c["mesh"]
    with tempfile.TemporaryDirectory() as tmp:
        scene = make_scene(mesh, Path(tmp) / "scene", views=int(c["views"]), size=int(c["image"]), val_views=0,
                           test_views=int(c["test_views"]), seed=0)
        nerf = NerfSignal(scene, size=int(c["image"]), samples=int(c["samples"]),
                          importance_samples=int(c["importance"]), turntable_frames=0, seed=0)
    return [(f"{mesh.name} (make-scene)", nerf)]


def fit(signal_kind: str, target: Any, widths: list[int], schedule: aire.ScheduleConfig, c: dict[str, Any],
        seed: int, device: str, precision: str, network: str = "siren", encoding: str = "siren") -> dict[str, Any]:
    """One fit: quality, parameters, architecture, seconds and the quality history."""
    net = aire.build_network(target, widths, omega0=float(c["omega0"]), seed=seed, network=network, encoding=encoding)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(target, net, steps=int(c["steps"]), lr=float(c["lr"]), lr_final=float(c["lr_final"]),
                          batch_size=c["batch_size"], seed=seed, eval_every=int(c["eval_every"]), progress=False,
                          device=device, precision=precision, schedule=schedule)
    m = result.metrics
    key = QUALITY[signal_kind][0]
    quality = m.get(key)
    return {"quality": None if quality is None else float(quality), "params": int(m["params_final"]),
            "params_initial": int(m["params_initial"]), "architecture": list(m["architecture_final"]),
            "activation": net.activation, "encoding": net.config.encoding,
            "seconds": round(float(m["seconds"]), 2),
            "history": [(h["step"], h.get(key), round(h["seconds"], 2), h["params"]) for h in result.history]}


def depgraph_available() -> str | None:
    """None when torch-pruning imports, else the reason the DepGraph rows are skipped."""
    try:
        import torch_pruning  # noqa: F401
    except ImportError as exc:
        return f"torch-pruning not installed (pip install 'aire-inr[baselines]'): {exc}"
    return None


# ----------------------------------------------------------------------------------------------- run
def run(size: str, device: str, options: dict[str, Any]) -> dict[str, Any]:
    s = settings(size, options)
    skipped: dict[str, str] = {"rigl": RIGL_NOTE}
    methods = list(s["methods"])
    reason = depgraph_available()
    if reason and any(m.startswith("depgraph") for m in methods):
        skipped.update({m: reason for m in methods if m.startswith("depgraph")})
        methods = [m for m in methods if not m.startswith("depgraph")]
    rows: list[dict[str, Any]] = []
    expected = 0
    load = [round(os.getloadavg()[0], 1)]  # the shared machine's 1-minute load, at the start and the end
    try:
        for signal_kind in s["signals"]:
            expected += _run_signal(signal_kind, s, methods, device, rows)
    except KeyboardInterrupt:  # stopped by a time limit: keep the rows finished so far
        print(f"  interrupted after {len(rows)} rows", flush=True)
    load.append(round(os.getloadavg()[0], 1))
    return {"settings": s, "methods": methods, "skipped": skipped, "rows": rows, "summary": summarize(rows),
            "interrupted": len(rows) < expected or expected == 0, "load": load}


def _run_signal(kind: str, s: dict[str, Any], methods: list[str], device: str, rows: list[dict]) -> int:
    c = s[kind]
    targets = _targets(kind, c)
    widths = [int(w) for w in c["widths"]]
    budgets = [float(b) for b in s["budgets"]]
    per_budget = [m for m in methods if m != "large"]
    expected = len(targets) * len(s["seeds"]) * (("large" in methods) + len(budgets) * len(per_budget))
    for name, target in targets:
        in_features, out_features = target.in_features, target.out_features
        for seed in s["seeds"]:
            def one(method: str, budget: float | None, w: list[int], schedule: aire.ScheduleConfig) -> dict:
                r = fit(kind, target, w, schedule, c, int(seed), device, s["precision"], s["network"], s["encoding"])
                row = {"signal": kind, "target": name, "seed": int(seed), "budget": budget, "method": method, **r}
                print(f"  {kind} {name} seed {seed} {'' if budget is None else f'{budget:.0%}':>4} {method:20} "
                      f"{QUALITY[kind][0]} {_fmt(row['quality'], kind)}  params {row['params']:7d} "
                      f"{row['architecture'][:-1]}  {row['seconds']:.0f} s", flush=True)
                rows.append(row)
                return row

            if "large" in methods:
                one("large", None, widths, aire.ScheduleConfig(kind="none"))
            initial = sched.count_parameters(in_features, widths, out_features)
            for budget in budgets:
                aire_row = None
                hidden = tuple(range(1, len(widths)))
                for method in per_budget:
                    if method == "dense-narrow":
                        w = widest_uniform(in_features, len(widths), out_features, budget * initial)
                        one(method, budget, [w] * len(widths), aire.ScheduleConfig(kind="none"))
                    elif method == "aire-cycles":
                        one(method, budget, widths, aire.ScheduleConfig(kind="aire", target_params=budget,
                                                                         prune_layers=hidden))
                    elif method in ("aire", "scratch"):
                        if method == "aire" or aire_row is None:  # scratch needs AIRe's final architecture
                            aire_row = one("aire", budget, widths, aire_schedule(s, budget, hidden, kind))
                        if method == "scratch":
                            one(method, budget, aire_row["architecture"][:-1], aire.ScheduleConfig(kind="none"))
                    else:
                        one(method, budget, widths, aire.ScheduleConfig(kind=method, target_params=budget,
                                                                         prune_layers=hidden))
    return expected


def aire_schedule(s: dict[str, Any], budget: float, hidden: tuple[int, ...],
                  signal: str | None = None) -> aire.ScheduleConfig:
    """The "aire" rows' schedule: the ScheduleConfig default with the schedule settings of `signal`'s
    default preset (``aire fit``'s defaults, e.g. NeRF's densify_k 0; its budget is the suite's), or the
    kind ``aire_schedule`` names."""
    from aire.presets import preset

    chosen = dict(preset(signal, "default").get("schedule", {})) if signal else {}
    chosen.pop("target_params", None)
    if s.get("aire_schedule") is not None:
        chosen["kind"] = str(s["aire_schedule"])
    return aire.ScheduleConfig(**{**chosen, "target_params": budget, "prune_layers": hidden})


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    return f"{value:.5f}" if kind == "sdf" else f"{value:.2f}"


# ------------------------------------------------------------------------------------------- summary
def paired(rows: list[dict], kind: str, budget: float, method: str) -> list[float]:
    """AIRe - method per (target, seed) at a budget: dB for PSNR, percent of the method's value for Chamfer."""
    by = {(r["target"], r["seed"], r["method"]): r["quality"] for r in rows
          if r["signal"] == kind and r["budget"] == budget and r["quality"] is not None}
    out = []
    for (target, seed, m), value in by.items():
        mine = by.get((target, seed, "aire"))
        if m != method or mine is None:
            continue
        out.append(100.0 * (mine - value) / value if kind == "sdf" else mine - value)
    return out


def mean_se(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and standard error (sample sd / sqrt(n); None with fewer than 2 values)."""
    if not values:
        return None, None
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return statistics.fmean(values), se


def summarize(rows: list[dict]) -> list[dict]:
    """Per (signal, budget, method): runs, mean quality, params, seconds; paired difference to AIRe."""
    out = []
    signals = list(dict.fromkeys(r["signal"] for r in rows))
    keys = sorted(dict.fromkeys((r["signal"], r["budget"], r["method"]) for r in rows),
                  key=lambda k: (signals.index(k[0]), -1.0 if k[1] is None else k[1],
                                 METHODS.index(k[2]) if k[2] in METHODS else len(METHODS), k[2]))
    for kind, budget, method in keys:
        rs = [r for r in rows if (r["signal"], r["budget"], r["method"]) == (kind, budget, method)]
        qs = [r["quality"] for r in rs if r["quality"] is not None]
        diff, se = (None, None) if method in ("aire", "large") else mean_se(paired(rows, kind, budget, method))
        out.append({"signal": kind, "budget": budget, "method": method, "runs": len(rs),
                    "quality_mean": statistics.fmean(qs) if qs else None,
                    "params_mean": round(statistics.fmean(r["params"] for r in rs)),
                    "seconds_mean": round(statistics.fmean(r["seconds"] for r in rs), 1),
                    "aire_minus_method": diff, "se": se,
                    "pairs": len(paired(rows, kind, budget, method)) if method not in ("aire", "large") else None})
    return out


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One suite result from several runs (other targets, seeds or signals of the same protocol): the
    rows concatenated, the summary recomputed, each run's date, wall time, options and load kept under
    ``parts``. Per signal the settings are the first run's that has it; a run whose settings of that
    signal differ in anything but the choice of targets ("first", "images", "meshes") is refused, and
    so is a (signal, target, seed, budget, method) present twice."""
    if not parts:
        raise ValueError("merge: no results")
    first = parts[0]
    settings_ = {k: (dict(v) if isinstance(v, dict) else v) for k, v in first["settings"].items()}
    settings_["signals"], settings_["budgets"], settings_["seeds"] = [], [], []
    rows, seen, skipped = [], set(), {}
    chosen: dict[str, dict[str, Any]] = {}
    for part in parts:
        s = part["settings"]
        for key, default in NETWORK_DEFAULTS.items():  # runs from before these options ran the defaults
            if s.get(key, default) != first["settings"].get(key, default):
                raise ValueError(f"merge: the runs differ in {key}: {first['settings'].get(key, default)!r} vs "
                                 f"{s.get(key, default)!r}")
        for kind in s["signals"]:
            if not any(r["signal"] == kind for r in part["rows"]):
                continue
            c = {k: v for k, v in s[kind].items() if k not in ("first", "images", "meshes")}
            if kind in chosen and chosen[kind] != c:
                raise ValueError(f"merge: the {kind} settings differ between runs: {chosen[kind]} vs {c}")
            chosen.setdefault(kind, c)
            if kind not in settings_["signals"]:
                settings_["signals"].append(kind)
                settings_[kind] = dict(s[kind])
        settings_["budgets"] = sorted(set(settings_["budgets"]) | set(s["budgets"]))
        settings_["seeds"] = sorted(set(settings_["seeds"]) | set(s["seeds"]))
        for r in part["rows"]:
            key = (r["signal"], r["target"], r["seed"], r["budget"], r["method"])
            if key in seen:
                raise ValueError(f"merge: {key} is in two runs")
            seen.add(key)
            rows.append(r)
        skipped.update(part.get("skipped", {}))
    methods = list(dict.fromkeys(m for part in parts for m in part["methods"]))
    return {**{k: first[k] for k in ("suite", "size", "device", "device_name", "torch") if k in first},
            "date": max(p["date"] for p in parts), "wall_seconds": sum(p["wall_seconds"] for p in parts),
            "settings": settings_, "methods": methods, "skipped": skipped, "rows": rows, "summary": summarize(rows),
            "interrupted": any(p.get("interrupted") for p in parts),
            "parts": [{k: q.get(k) for k in ("date", "wall_seconds", "options", "device_name", "load")}
                      for p in parts for q in (p.get("parts") or [p])]}  # a merged run brings its own parts


def rename_method(result: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """`result` with method `old` called `new` (rows, methods, summary): e.g. the rows measured as ``aire``
    before the default changed become ``aire-cycles`` and stay comparable with the new ``aire`` rows."""
    rows = [{**r, "method": new if r["method"] == old else r["method"]} for r in result["rows"]]
    methods = [new if m == old else m for m in result["methods"]]
    return {**result, "rows": rows, "methods": methods, "summary": summarize(rows)}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.baselines merge --out STEM RUN.json[:OLD=NEW] ...``: merge runs of one protocol
    (`merge`) into STEM.json, .md and .png; ``:OLD=NEW`` renames a method of that run first (`rename_method`);
    ``--only-targets``/``--only-seeds`` keep a subset of the rows (a curve over budgets on the same pairs)."""
    import argparse
    import json

    from benchmarks.suite import header

    p = argparse.ArgumentParser(prog="python -m benchmarks.baselines", description=main.__doc__)
    p.add_argument("command", choices=["merge"])
    p.add_argument("runs", nargs="+", help="result JSON files, each optionally with :OLD=NEW")
    p.add_argument("--out", type=Path, required=True, help="output stem (STEM.json, STEM.md, STEM.png)")
    p.add_argument("--only-targets", help="comma-separated targets to keep (e.g. 00.png,01.png)")
    p.add_argument("--only-seeds", help="comma-separated seeds to keep")
    args = p.parse_args(argv)
    parts = []
    for spec in args.runs:
        path, _, rename = spec.partition(":")
        part = json.loads(Path(path).read_text())
        if rename:
            old, _, new = rename.partition("=")
            part = rename_method(part, old, new)
        if args.only_targets or args.only_seeds:
            targets = set(args.only_targets.split(",")) if args.only_targets else None
            seeds = {int(x) for x in args.only_seeds.split(",")} if args.only_seeds else None
            rows = [r for r in part["rows"] if (targets is None or r["target"] in targets)
                    and (seeds is None or r["seed"] in seeds)]
            kept = sorted({r["seed"] for r in rows})
            part = {**part, "rows": rows, "settings": {**part["settings"], "seeds": kept}}
        parts.append(part)
    result = merge(parts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    args.out.with_suffix(".md").write_text(header("baselines", result) + markdown(result))
    plot(result, args.out.with_suffix(".png"))
    print(args.out.with_suffix(".md").read_text())
    return 0



def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    plugins = (f"network {s.get('network', 'siren')}, encoding {s.get('encoding', 'siren')}, the aire rows' "
               f"schedule {s.get('aire_schedule') or 'the default'}; ")
    lines = [f"Budgets {s['budgets']} of the large network's parameters, seeds {s['seeds']}, precision "
             f"{s['precision']}; {plugins}every method trains the same steps with Adam lr -> lr_final (exponential; the "
             "pruning methods restart it at their last cut, as AIRe does). Difference = AIRe - method, paired "
             "over (target, seed), mean ± standard error: dB for PSNR (positive: AIRe better), percent of the "
             "method's Chamfer L1 for SDFs (negative: AIRe better). Seconds are wall time of the whole fit "
             "(evaluations included) on a shared machine.", ""]
    for kind in s["signals"]:
        c = s[kind]
        summary = [g for g in result["summary"] if g["signal"] == kind]
        if not summary:
            continue
        label = QUALITY[kind][1]
        targets = list(dict.fromkeys(r["target"] for r in result["rows"] if r["signal"] == kind))
        lines += [f"## {kind}", "", f"{len(targets)} target(s): {', '.join(targets)}; settings {c}.", "",
                  f"| budget | method | runs | mean {label} | parameters | seconds | AIRe - method |",
                  "|---|---|---|---|---|---|---|"]
        for g in summary:
            budget = "-" if g["budget"] is None else f"{g['budget']:.0%}"
            diff = ""
            if g["aire_minus_method"] is not None:
                unit = " %" if kind == "sdf" else " dB"
                se = "n/a" if g["se"] is None else f"{g['se']:.2f}"
                diff = f"{g['aire_minus_method']:+.2f} ± {se}{unit} ({g['pairs']} pair{'s' if g['pairs'] != 1 else ''})"
            lines.append(f"| {budget} | {g['method']} | {g['runs']} | {_fmt(g['quality_mean'], kind)} | "
                         f"{g['params_mean']:,} | {g['seconds_mean']} | {diff} |")
        lines.append("")
    lines += ["Not run: " + "; ".join(f"{k}: {v}" for k, v in result["skipped"].items()), ""]
    for part in result.get("parts", []):
        load = f", machine load {part['load']}" if part.get("load") else ""
        lines.append(f"* run of {part['date']} ({part['wall_seconds']:.0f} s{load}): options {part['options']}")
    if result.get("parts"):
        lines.append("")
    if result.get("interrupted"):
        lines.append("**Interrupted or incomplete: the rows above are the runs that finished.**\n")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Per signal: mean quality against mean parameters (one curve per method over the budgets) and
    against mean wall seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in result["settings"]["signals"] if any(g["signal"] == k for g in result["summary"])]
    fig, axes = plt.subplots(len(kinds), 2, figsize=(11, 4 * len(kinds)), constrained_layout=True, squeeze=False)
    for (ax, ax2), kind in zip(axes, kinds):
        summary = [g for g in result["summary"] if g["signal"] == kind and g["quality_mean"] is not None]
        for method in dict.fromkeys(g["method"] for g in summary):
            pts = sorted((g["params_mean"], g["seconds_mean"], g["quality_mean"]) for g in summary
                         if g["method"] == method)
            style = dict(marker="*", ms=12) if method == "large" else dict(marker="o", lw=2 if method == "aire" else 1)
            colour = f"C{METHODS.index(method) % 10}" if method in METHODS else None  # the same in every panel
            ax.plot([p for p, _, _ in pts], [q for _, _, q in pts], label=method, color=colour, **style)
            ax2.plot([t for _, t, _ in pts], [q for _, _, q in pts], ls="", label=method, color=colour,
                     marker="*" if method == "large" else "o")
        for a, xlabel in ((ax, "mean parameters"), (ax2, "mean wall seconds per fit")):
            a.set_xlabel(xlabel)
            a.set_ylabel(f"mean {QUALITY[kind][1]}")
            a.set_title(kind)
            a.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
