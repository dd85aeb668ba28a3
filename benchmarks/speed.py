"""The speed suite: our trainer against the plain PyTorch SIREN loop, in the same process, at equal
architecture, for each precision mode (fp32, TF32, bf16 autocast, torch.compile where available).

Three measurements per mode:

* ms per step: synchronised clock after `warmup` steps (compilation, allocator warm-up) and again
  `timing` steps later; ours and plain interleaved, median of `repeats`;
* time to the target PSNR and PSNR after `accuracy_steps` (the accuracy check of each mode against
  fp32): a full run evaluating every `eval_every` steps, wall time counted from the start
  (compilation and evaluations included, as a user sees it);
* peak GPU memory of the timed runs (CUDA only).

Plus the pruned-step check: an AIRe fit to a budget, timed in windows, shows the step time
falling with the parameter count (and, with compile, how often surgery recompiles).

Plus the whole-run check of ``--compile`` (aire.train.compile_policy: compile only where it pays, one
dynamic-shape compilation that survives surgery): the same AIRe fit eager and with compile on,
interleaved, `whole_repeats` times, each compiled run cold (torch.compiler.reset, a fresh inductor
cache, the policy's priors), wall time of the whole fit and PSNR.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings
from contextlib import nullcontext
from typing import Any

import torch

import aire
from aire.train import compile_policy
from benchmarks.common import div2k
from benchmarks.plain_siren import plain_siren, plain_train

SIZES = {
    "cpu": dict(size=96, width=64, warmup=10, timing=30, repeats=3, accuracy_steps=400, eval_every=25, target=25.0,
                modes=["fp32", "bf16", "fp32+compile"], budget=0.4, aire_steps=400, aire_compile=False, whole_repeats=3,
                whole_forced=True),
    # one H100: ~3 min. aire_compile=true adds a compiled AIRe fit: 5 more compilations (~1-2 min); its
    # recompile count (1 + 2 per cycle) is checked on CPU by tests/train/test_precision.py (slow)
    "gpu": dict(size=512, width=256, warmup=30, timing=150, repeats=2, accuracy_steps=1500, eval_every=50, target=30.0,
                modes=["fp32", "tf32", "bf16", "bf16+compile"], budget=0.4, aire_steps=1500, aire_compile=False,
                whole_repeats=1, whole_forced=False),
}


class StepTimer:
    """A plugin stamping a synchronised clock after chosen steps (and every `every` steps)."""

    def __init__(self, at: frozenset[int] = frozenset(), every: int = 0) -> None:
        self.at, self.every, self.stamps = at, every, []

    @aire.hookimpl
    def aire_step_end(self, trainer, step, loss):
        if step + 1 in self.at or (self.every and (step + 1) % self.every == 0):
            _sync(trainer.network.weights[0].device)
            self.stamps.append((step + 1, time.perf_counter(), trainer.network.num_parameters()))


def _sync(device: torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _with_plugin(plugin: Any, fn, *args, **kwargs):
    reg = aire.get_registry()
    reg.pm.register(plugin, name="bench-step-timer")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    finally:
        reg.pm.unregister(name="bench-step-timer")


def _mode(mode: str) -> tuple[str, bool]:
    precision, _, extra = mode.partition("+")
    return precision, extra == "compile"


def _peak_reset(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.device(device).type == "cuda" else None


def ours_ms(signal, widths: list[int], mode: str, s: dict, device: str) -> tuple[float, float | None]:
    precision, compile = _mode(mode)
    w, n = int(s["warmup"]), int(s["timing"])
    timer = StepTimer(at=frozenset({w, w + n}))
    net = aire.build_network(signal, widths)
    _peak_reset(device)
    with compile_policy.forced() if compile else nullcontext():  # the compiled step itself, however short the run
        _with_plugin(timer, aire.fit, signal, net, steps=w + n, eval_every=10**9, progress=False, device=device,
                     precision=precision, compile=compile, schedule=aire.ScheduleConfig(kind="none"))
    (_, t0, _), (_, t1, _) = timer.stamps
    return (t1 - t0) / n * 1e3, _peak(device)


def plain_ms(signal, widths: list[int], mode: str, s: dict, device: str) -> tuple[float, float | None]:
    precision, compile = _mode(mode)
    w, n = int(s["warmup"]), int(s["timing"])
    net = plain_siren(2, widths, signal.out_features).to(device)
    _peak_reset(device)
    out = plain_train(net, signal.coords, signal.values, w + n, precision=precision, compile=compile,
                      time_at=frozenset({w, w + n}))
    (_, t0), (_, t1) = out["stamps"]
    return (t1 - t0) / n * 1e3, _peak(device)


def accuracy(signal, widths: list[int], mode: str, s: dict, device: str) -> dict:
    """PSNR after accuracy_steps and the wall time to the target, ours and plain."""
    precision, compile = _mode(mode)
    steps, every, target = int(s["accuracy_steps"]), int(s["eval_every"]), float(s["target"])
    net = aire.build_network(signal, widths)
    with warnings.catch_warnings(), compile_policy.forced() if compile else nullcontext():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=steps, eval_every=every, progress=False, device=device,
                          precision=precision, compile=compile, schedule=aire.ScheduleConfig(kind="none"))
    hit = next((h for h in result.history if h["psnr"] >= target), None)
    plain = plain_train(plain_siren(2, widths, signal.out_features).to(device), signal.coords, signal.values, steps,
                        precision=precision, compile=compile, eval_every=every, psnr_target=target)
    return {"ours_psnr": round(result.metrics["psnr"], 3), "plain_psnr": plain["evals"][-1][1],
            "ours_to_target_s": None if hit is None else round(hit["seconds"], 2),
            "ours_to_target_step": None if hit is None else hit["step"],
            "plain_to_target_s": None if plain["reached"] is None else plain["reached"][2],
            "plain_to_target_step": None if plain["reached"] is None else plain["reached"][0]}


def pruned_steps(signal, widths: list[int], precision: str, compile: bool, s: dict, device: str) -> dict:
    """An AIRe fit to the budget, timed in windows: ms/step against the parameter count."""
    steps = int(s["aire_steps"])
    every = max(1, steps // 20)
    timer = StepTimer(every=every)
    net = aire.build_network(signal, widths)
    with compile_policy.forced() if compile else nullcontext():
        result = _with_plugin(timer, aire.fit, signal, net, steps=steps, eval_every=max(every, steps // 4),
                              progress=False, device=device, precision=precision, compile=compile,
                              schedule=aire.ScheduleConfig(target_params=float(s["budget"])))
    windows = [{"steps": f"{a}-{b}", "params": pb, "ms": round((tb - ta) / (b - a) * 1e3, 3)}
               for (a, ta, pa), (b, tb, pb) in zip(timer.stamps, timer.stamps[1:]) if pa == pb]
    first, last = windows[0], windows[-1]
    return {"precision": precision, "compile": compile, "compiles": result.metrics["compiles"],
            "architecture": result.metrics["architecture_final"], "psnr": round(result.metrics["psnr"], 3),
            "large_ms": first["ms"], "large_params": first["params"], "pruned_ms": last["ms"],
            "pruned_params": last["params"], "time_ratio": round(last["ms"] / first["ms"], 3),
            "params_ratio": round(last["params"] / first["params"], 3), "windows": windows}


def whole_run(signal, widths: list[int], precision: str, compile: bool | str, s: dict, device: str) -> dict:
    """One AIRe fit to the budget as a user runs it: eager, or with compile on and the policy deciding,
    or ("forced") compiled at the first decision whatever it costs; a compiled run starts cold (no graph,
    no inductor cache, no costs learned by earlier fits)."""
    steps = int(s["aire_steps"])
    cache = tempfile.TemporaryDirectory(prefix="aire-inductor-") if compile else None
    old = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if cache is not None:
        torch.compiler.reset()
        compile_policy.forget_costs()
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache.name
    try:
        net = aire.build_network(signal, widths)
        _sync(device)
        start = time.perf_counter()
        with warnings.catch_warnings(), compile_policy.forced() if compile == "forced" else nullcontext():
            warnings.simplefilter("ignore")
            result = aire.fit(signal, net, steps=steps, eval_every=max(1, steps // 4), progress=False, device=device,
                              precision=precision, compile=bool(compile),
                              schedule=aire.ScheduleConfig(target_params=float(s["budget"])))
        _sync(device)
        wall = time.perf_counter() - start
    finally:
        if cache is not None:
            if old is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = old
            torch.compiler.reset()
            compile_policy.forget_costs()
            cache.cleanup()
    m = result.metrics
    info = m.get("compile", {})
    return {"compile": compile, "seconds": round(wall, 2), "psnr": round(m["psnr"], 4),
            "architecture": m["architecture_final"], "load": round(os.getloadavg()[0], 2),
            "decision": info.get("decisions", [None])[0] if compile else None,
            "compiled": bool(info.get("compiled_at") is not None and not info.get("reverted")),
            "compile_s": info.get("compile_s"), "speedup": info.get("speedup")}


def whole_runs(signal, widths: list[int], precision: str, s: dict, device: str) -> dict:
    """`whole_repeats` rounds of eager / compile on (and, with `whole_forced`, compile forced), interleaved
    (the order rotating), medians and each run."""
    runs = []
    variants = [False, True] + (["forced"] if s.get("whole_forced") else [])
    for r in range(int(s["whole_repeats"])):
        for compile in variants[r % len(variants):] + variants[:r % len(variants)]:
            runs.append(whole_run(signal, widths, precision, compile, s, device))
            runs[-1]["round"] = r + 1
            print(f"  whole run {str(compile):6}: {runs[-1]['seconds']:.1f} s, PSNR {runs[-1]['psnr']:.3f}, "
                  f"compiled {runs[-1]['compiled']}, load {runs[-1]['load']}", flush=True)
    eager = [x for x in runs if x["compile"] is False]
    compiled = [x for x in runs if x["compile"] is True]
    forced = [x for x in runs if x["compile"] == "forced"]
    by_round = {(x["round"], x["compile"]): x for x in runs}
    pairs = [by_round[r, True]["seconds"] / by_round[r, False]["seconds"] for r in range(1, int(s["whole_repeats"]) + 1)]
    return {"precision": precision, "steps": int(s["aire_steps"]), "runs": runs,
            "eager_s": statistics.median(x["seconds"] for x in eager),
            "compile_s": statistics.median(x["seconds"] for x in compiled),
            "ratio_median": round(statistics.median(pairs), 3), "ratio_max": round(max(pairs), 3),
            "psnr_diff_max": round(max(abs(x["psnr"] - eager[0]["psnr"]) for x in runs), 4),
            "compiled_runs": sum(x["compiled"] for x in compiled),
            "forced_s": statistics.median(x["seconds"] for x in forced) if forced else None}


def compile_available(device: str) -> bool:
    """Does torch.compile work here (inductor needs a C++ compiler on CPU, Triton on GPU)?"""
    try:
        f = torch.compile(lambda t: torch.sin(t) * 2)
        f(torch.ones(4, device=device))
        return True
    except Exception as exc:  # noqa: BLE001 - any backend failure means "not available"
        print(f"  torch.compile unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}", flush=True)
        return False
    finally:
        torch.compiler.reset()


def run(size: str, device: str, options: dict[str, Any]) -> dict:
    s = {**SIZES[size], **options}
    name, signal = div2k(1, int(s["size"]))[0]
    signal.to(device)
    widths = [int(s["width"])] * 4
    can_compile = compile_available(device)
    rows: list[dict] = []
    pruned: list[dict] = []
    whole: list[dict] = []
    try:
        _measure(signal, widths, s, device, can_compile, rows, pruned)
        if can_compile and int(s.get("whole_repeats", 0)) > 0:
            whole.append(whole_runs(signal, widths, "tf32" if torch.device(device).type == "cuda" else "fp32", s,
                                    device))
    except KeyboardInterrupt:  # stopped by a time limit: keep what was measured
        print(f"  interrupted after {len(rows)} modes", flush=True)
    base = next((r for r in rows if r["mode"] == "fp32" and "ours_ms" in r), None)
    for r in rows:
        if base and "ours_ms" in r:
            r["speedup_vs_fp32"] = round(base["ours_ms"] / r["ours_ms"], 3)
            r["psnr_vs_fp32"] = round(r["ours_psnr"] - base["ours_psnr"], 3)
    return {"settings": {**{k: s[k] for k in SIZES[size]}, "image_name": name, "widths": widths,
                         "threads": torch.get_num_threads()},
            "rows": rows, "pruned": pruned, "whole": whole,
            "interrupted": len(rows) < len(s["modes"]) or not pruned}


def _measure(signal, widths: list[int], s: dict, device: str, can_compile: bool, rows: list[dict],
             pruned: list[dict]) -> None:
    for mode in s["modes"]:
        precision, compile = _mode(mode)
        if compile and not can_compile:
            rows.append({"mode": mode, "skipped": "torch.compile unavailable"})
            continue
        if precision == "tf32" and torch.device(device).type != "cuda":
            rows.append({"mode": mode, "skipped": "TF32 is CUDA-only"})
            continue
        ours_all, plain_all, peaks = [], [], {}
        try:
            for _ in range(int(s["repeats"])):
                p, peaks["plain"] = plain_ms(signal, widths, mode, s, device)
                o, peaks["ours"] = ours_ms(signal, widths, mode, s, device)
                plain_all.append(p)
                ours_all.append(o)
            acc = accuracy(signal, widths, mode, s, device)
        except Exception as exc:  # noqa: BLE001 - a mode this torch cannot run is reported, not fatal
            rows.append({"mode": mode, "skipped": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
            print(f"  {mode}: failed: {rows[-1]['skipped']}", flush=True)
            continue
        finally:
            torch.compiler.reset()
        o, p = statistics.median(ours_all), statistics.median(plain_all)
        row = {"mode": mode, "ours_ms": round(o, 3), "plain_ms": round(p, 3), "ratio": round(o / p, 3),
               "ours_steps_per_s": round(1e3 / o, 1), "plain_steps_per_s": round(1e3 / p, 1),
               "ours_peak_mib": peaks["ours"], "plain_peak_mib": peaks["plain"],
               "ours_all": [round(v, 3) for v in ours_all], "plain_all": [round(v, 3) for v in plain_all], **acc}
        if acc["ours_to_target_s"] and acc["plain_to_target_s"]:
            row["to_target_ratio"] = round(acc["ours_to_target_s"] / acc["plain_to_target_s"], 3)
        rows.append(row)
        print(f"  {mode:14} ours {o:8.2f} ms  plain {p:8.2f} ms  ratio {o / p:.3f}  psnr ours {acc['ours_psnr']} "
              f"plain {acc['plain_psnr']}  to {s['target']} dB: {acc['ours_to_target_s']} s vs {acc['plain_to_target_s']} s",
              flush=True)
    fast = "tf32" if torch.device(device).type == "cuda" else "fp32"
    pruned.append(pruned_steps(signal, widths, fast, False, s, device))
    if s["aire_compile"] and can_compile:
        try:
            pruned.append(pruned_steps(signal, widths, fast, True, s, device))
        except Exception as exc:  # noqa: BLE001
            pruned.append({"precision": fast, "compile": True, "skipped": f"{type(exc).__name__}: {exc}"[:200]})
        finally:
            torch.compiler.reset()
    for pr in pruned:
        if "windows" in pr:
            print(f"  AIRe {pr['precision']}{' +compile' if pr['compile'] else ''}: {pr['large_ms']} ms at "
                  f"{pr['large_params']} params -> {pr['pruned_ms']} ms at {pr['pruned_params']} "
                  f"(time x{pr['time_ratio']}, params x{pr['params_ratio']}), compiles {pr['compiles']}", flush=True)


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"{s['image_name']} at {s['size']} px, SIREN widths {s['widths']}, full batch, Adam. Ours = aire's trainer "
             "(schedule none); plain = benchmarks/plain_siren.py, same process, same architecture. ms/step: median of "
             f"{s['repeats']} interleaved runs of {s['timing']} steps after {s['warmup']} warm-up steps. Accuracy: PSNR "
             f"after {s['accuracy_steps']} steps; time to {s['target']} dB counts compilation and evaluations every "
             f"{s['eval_every']} steps.", ""]
    if "cpu" in result.get("device", ""):
        lines += [f"CPU: {s['threads']} thread(s) on a machine shared with other jobs; seconds are disturbed, ratios "
                  "(interleaved) less so, PSNR not at all.", ""]
    lines += ["| mode | ours ms/step | plain ms/step | ours/plain | speed-up vs fp32 | ours PSNR | plain PSNR | "
              "PSNR vs fp32 | ours to target (s) | plain to target (s) | ratio | peak MiB ours / plain |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if "skipped" in r:
            lines.append(f"| {r['mode']} | skipped: {r['skipped']} |" + " |" * 10)
            continue
        peak = "" if r["ours_peak_mib"] is None else f"{r['ours_peak_mib']} / {r['plain_peak_mib']}"
        lines.append(f"| {r['mode']} | {r['ours_ms']:.2f} | {r['plain_ms']:.2f} | {r['ratio']:.3f} | "
                     f"{r.get('speedup_vs_fp32', 0):.2f} | {r['ours_psnr']:.2f} | {r['plain_psnr']:.2f} | "
                     f"{r.get('psnr_vs_fp32', 0):+.2f} | {_s(r['ours_to_target_s'], r['ours_to_target_step'])} | "
                     f"{_s(r['plain_to_target_s'], r['plain_to_target_step'])} | {r.get('to_target_ratio', '')} | {peak} |")
    lines += ["", f"Pruned steps (AIRe to {s['budget']:.0%} of the parameters, {s['aire_steps']} steps, timed in windows):", "",
              "| precision | compile | large ms/step (params) | pruned ms/step (params) | time ratio | params ratio | "
              "compilations | final PSNR |", "|---|---|---|---|---|---|---|---|"]
    for p in result["pruned"]:
        if "skipped" in p:
            lines.append(f"| {p['precision']} | {p['compile']} | skipped: {p['skipped']} | | | | | |")
            continue
        lines.append(f"| {p['precision']} | {p['compile']} | {p['large_ms']:.2f} ({p['large_params']:,}) | "
                     f"{p['pruned_ms']:.2f} ({p['pruned_params']:,}) | {p['time_ratio']:.2f} | {p['params_ratio']:.2f} | "
                     f"{p['compiles']} | {p['psnr']:.2f} |")
    for w in result.get("whole", []):
        lines += ["", f"Whole AIRe runs ({w['steps']} steps to {s['budget']:.0%}, {w['precision']}), eager and with "
                  "`compile` on (the policy decides; each compiled run cold), interleaved; load = 1-min load average "
                  "at the end of the run:", "",
                  "| run | compile | seconds | PSNR | compiled | decision (saving vs predicted compile, s) | "
                  "measured compile s | measured speed-up | load |", "|---|---|---|---|---|---|---|---|---|"]
        for i, x in enumerate(w["runs"]):
            d = x["decision"]
            why = "" if not d else f"{d['saving_s']:.1f} vs {d['predicted_compile_s']:.1f} at step {d['step']}"
            lines.append(f"| {x.get('round', '')} | {x['compile']} | {x['seconds']:.1f} | {x['psnr']:.3f} | {x['compiled']} | "
                         f"{why} | {x['compile_s'] if x['compile_s'] is not None else ''} | "
                         f"{x['speedup'] if x['speedup'] is not None else ''} | {x['load']} |")
        lines += ["", f"Median {w['eager_s']:.1f} s eager, {w['compile_s']:.1f} s with compile on: compile/eager "
                  f"{w['ratio_median']:.3f} (worst round {w['ratio_max']:.3f}); PSNRs differ by at most "
                  f"{w['psnr_diff_max']} dB; {w['compiled_runs']} of {len(compiled_rows(w))} runs with compile on compiled."
                  + ("" if w.get("forced_s") is None else f" Compiled whatever the cost (forced): median {w['forced_s']:.1f} s.")]
    if result.get("interrupted"):
        lines.append("\n**Interrupted by its time limit: the tables hold what was measured before.**")
    return "\n".join(lines) + "\n"


def compiled_rows(whole: dict) -> list[dict]:
    return [x for x in whole["runs"] if x["compile"] is True]


def _s(seconds: float | None, step: int | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.1f} (step {step})"


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if "ours_ms" in r]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["ours_ms"] for r in rows], 0.4, label="ours")
    ax.bar([i + 0.2 for i in x], [r["plain_ms"] for r in rows], 0.4, label="plain loop")
    ax.set_xticks(list(x), [r["mode"] for r in rows], fontsize=8)
    ax.set_ylabel("ms per step")
    ax.legend()
    for p in result["pruned"]:
        if "windows" in p:
            ax2.plot([w["params"] for w in p["windows"]], [w["ms"] for w in p["windows"]], "o",
                     label=f"AIRe {p['precision']}{' +compile' if p['compile'] else ''}")
    ax2.set_xlabel("parameters")
    ax2.set_ylabel("ms per step")
    ax2.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
