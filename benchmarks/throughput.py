"""The throughput suite: many small image fits serially, on the local process pool, and batched.

The same crops (`images` crops of `crop` x `crop` pixels cut from the DIV2K images at seeded random
places), the same spec (SIREN `widths`, `steps` steps, `schedule` (``--schedule``; default: what a fit
with a budget resolves to, aire-cubic) to `budget` of the parameters, `compile`
on (default) so that each mode's compile policy decides, crop n with seed n), three ways:

* serial: an in-process loop of single fits (aire.fit), one torch thread;
* pool: `aire fit-many` on the local process pool (one worker per CPU, one thread each; the crops as
  PNG files, worker start-up and run-folder writing included);
* batched: aire.many.fit_batched, one batched network, one torch thread.

Reported: seconds, images per second, each member's PSNR and the batched-minus-serial PSNR
differences (the bar: batched >= 3x serial at equal PSNR, within 0.05 dB per member on average).
`serial_images` (default: all) runs serial and pool on the first crops only (a rate in images/s either
way; PSNRs are compared on those crops), for machines where 64 single fits take too long. Because the
machine may be shared, a paired measurement follows: `pairs` times, a serial loop over
the first `pair_images` crops and the batched fit of the same crops, back to back, so both see the
same load; their ratio is listed per pair (with the load average before each).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import attrs
import imageio.v3 as iio
import numpy as np

import aire
from aire.signals.image import ImageSignal
from aire.spec import resolve
from benchmarks.suite import data_root

SIZES = {
    "cpu": dict(images=64, crop=64, widths=[32, 32, 32], steps=500, budget=0.5, pool=True, pairs=2, pair_images=16,
                serial_images=None),
    "gpu": dict(images=1024, crop=64, widths=[32, 32, 32], steps=500, budget=0.5, pool=False, pairs=1,
                pair_images=64, serial_images=64),
}


def crops(count: int, size: int) -> list[np.ndarray]:
    """`count` crops of size x size in [0, 1], cut at seeded random places, spread over the DIV2K images."""
    files = sorted((data_root() / "div2k").glob("*.png"))
    if not files:
        raise SystemExit(f"benchmarks: error: no DIV2K images in {data_root() / 'div2k'} (set AIRE_DATA)")
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        image = np.asarray(iio.imread(files[i % len(files)]), dtype=np.float64)[..., :3] / 255.0
        top, left = rng.integers(0, image.shape[0] - size), rng.integers(0, image.shape[1] - size)
        out.append(image[top:top + size, left:left + size])
    return out


def default_schedule(budget: float) -> str:
    """The schedule a fit with a parameter budget and no --schedule resolves to (aire.spec.resolve:
    aire-cubic, aire.config.default_kind), so the suite measures what users run."""
    return resolve({"signal": "image", "path": ".", "schedule": {"target_params": budget}}).schedule.kind


def spec_for(options: dict[str, Any], device: str) -> Any:
    """The spec every mode fits; `compile` on lets each mode's compile policy decide (single fits of
    this size decline; the batch compiles after its last cut where that pays)."""
    return resolve({"signal": "image", "path": ".", "network": {"widths": list(options["widths"])},
                    "train": {"steps": options["steps"], "eval_every": options["steps"], "progress": False,
                              "device": device, "compile": bool(options.get("compile", True))},
                    "schedule": {"target_params": options["budget"],
                                 "kind": options.get("schedule") or default_schedule(options["budget"])}})


def serial(images: list[np.ndarray], spec: Any, compiles: list[int] | None = None) -> tuple[float, list[float]]:
    """Single fits one after another; appends each fit's compilation count to `compiles`."""
    from aire.many.batched import _build_network, _components

    start, psnrs = time.perf_counter(), []
    for n, image in enumerate(images):
        signal = ImageSignal(image=image)
        result = aire.fit(signal, _build_network(signal, spec, n), train=attrs.evolve(spec.train, seed=n),
                          schedule=spec.schedule, **_components(spec))
        psnrs.append(result.metrics["psnr"])
        if compiles is not None:
            compiles.append(result.metrics.get("compiles", 0))
    return time.perf_counter() - start, psnrs


def batched(images: list[np.ndarray], spec: Any, compiles: list[int] | None = None) -> tuple[float, list[float]]:
    """One batched fit; appends its compilation count to `compiles`."""
    from aire.many import fit_batched

    start = time.perf_counter()
    results = fit_batched([ImageSignal(image=im) for im in images], spec, seeds=list(range(len(images))))
    if compiles is not None:
        compiles.append(max(r.metrics.get("compiles", 0) for r in results))
    return time.perf_counter() - start, [r.metrics["psnr"] for r in results]


def pool(images: list[np.ndarray], options: dict[str, Any]) -> tuple[float, list[float], int]:
    from aire.many import load_jobs, make_executor, run_collection

    work = Path(tempfile.mkdtemp(prefix="aire-throughput-"))
    try:
        names = []
        for n, image in enumerate(images):
            names.append(work / f"crop{n:04d}.png")
            iio.imwrite(names[-1], (image * 255).round().astype(np.uint8))
        jobs = [load_jobs([p], defaults={"steps": options["steps"], "hidden": list(options["widths"]),
                                         "target_params": options["budget"], "eval_every": options["steps"],
                                         "schedule": options["schedule"], "compile": bool(options["compile"]),
                                         "seed": n})[0] for n, p in enumerate(names)]
        start = time.perf_counter()
        with make_executor("local", threads=1) as executor:
            summary = run_collection(jobs, work / "runs", executor, progress=False)
            slots = executor.slots
        seconds = time.perf_counter() - start
        quality = {r["id"]: r.get("quality") for r in summary["jobs"]}
        return seconds, [quality[j.id] for j in jobs], slots
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(size: str, device: str, options: dict[str, Any]) -> dict[str, Any]:
    from aire.train.allocator import retain_freed_memory

    o = {**SIZES[size], **options}
    o["schedule"] = o.get("schedule") or default_schedule(o["budget"])
    o.setdefault("compile", True)
    # fit_batched keeps freed memory in the process (aire.train.allocator); set here first so that the
    # serial fits run with the same allocator settings as the batched ones
    retained = retain_freed_memory()
    images = crops(int(o["images"]), int(o["crop"]))
    spec = spec_for(o, device)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the budget's stubborn-target note, once per fit
        measured = {}
        for name in ("serial", "pool", "batched"):
            if name == "pool" and (not o["pool"] or device != "cpu"):
                continue
            load = os.getloadavg()[0]
            mine = images if name == "batched" or not o["serial_images"] else images[:int(o["serial_images"])]
            compiles: list[int] = []
            if name == "pool":
                seconds, psnrs, slots = pool(mine, o)
            else:
                seconds, psnrs = (serial if name == "serial" else batched)(mine, spec, compiles)
                slots = 1
            print(f"throughput: {name}: {len(mine)} images in {seconds:.1f} s (load {load:.1f})", flush=True)
            measured[name] = psnrs
            rows.append({"mode": name, "images": len(mine), "processes": slots, "seconds": seconds,
                         "images_per_s": len(mine) / seconds, "mean_psnr": statistics.fmean(psnrs),
                         "load_before": load, "compiled_fits": sum(1 for c in compiles if c), "psnr": psnrs})
        pairs = []
        subset = images[:int(o["pair_images"])]
        for _ in range(int(o["pairs"])):
            load = os.getloadavg()[0]
            s_seconds, _ = serial(subset, spec)
            b_seconds, _ = batched(subset, spec)
            pairs.append({"images": len(subset), "serial_s": s_seconds, "batched_s": b_seconds,
                          "speedup": s_seconds / b_seconds, "load_before": load})
            print(f"throughput: pair of {len(subset)}: serial {s_seconds:.1f} s, batched {b_seconds:.1f} s", flush=True)
    base = {r["mode"]: r for r in rows}["serial"]
    for row in rows:
        row["speedup"] = row["images_per_s"] / base["images_per_s"]
        k = min(len(row["psnr"]), len(measured["serial"]))
        diff = np.asarray(row["psnr"][:k], dtype=float) - np.asarray(measured["serial"][:k], dtype=float)
        row["psnr_diff_mean_abs"] = float(np.mean(np.abs(diff)))
        row["psnr_diff_max_abs"] = float(np.max(np.abs(diff)))
    return {"settings": o, "rows": rows, "pairs": pairs, "cpus": os.cpu_count(), "retain_freed_memory": retained}


def markdown(result: dict[str, Any]) -> str:
    o = result["settings"]
    lines = [f"{o['images']} crops of {o['crop']} px from DIV2K, SIREN {o['widths']}, {o['steps']} steps, schedule "
             f"{o.get('schedule', 'aire')} to {100 * o['budget']:.0f} % of the parameters, compile "
             f"{'on (each mode' + chr(39) + 's compile policy decides)' if o.get('compile') else 'off'}; one torch "
             "thread per process. Load average of the "
             "(shared) machine before each run listed. glibc keeps freed memory (aire.train.allocator) for every "
             f"mode: {result.get('retain_freed_memory')}.", "",
             "| mode | images | processes | seconds | images/s | speedup vs serial | mean PSNR (dB) | "
             "mean abs PSNR diff vs serial (dB) | max abs diff (dB) | load before | compiled fits |",
             "|---" * 11 + "|"]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['images']} | {r['processes']} | {r['seconds']:.1f} | "
                     f"{r['images_per_s']:.2f} | {r['speedup']:.2f}x | {r['mean_psnr']:.3f} | "
                     f"{r['psnr_diff_mean_abs']:.2e} | {r['psnr_diff_max_abs']:.2e} | {r['load_before']:.1f} | "
                     f"{r.get('compiled_fits', '')} |")
    if result.get("pairs"):
        lines += ["", "Paired (serial then batched on the same crops, back to back):", "",
                  "| images | serial s | batched s | speedup | load before |", "|---|---|---|---|---|"]
        lines += [f"| {p['images']} | {p['serial_s']:.1f} | {p['batched_s']:.1f} | {p['speedup']:.2f}x | "
                  f"{p['load_before']:.1f} |" for p in result["pairs"]]
    return "\n".join(lines) + "\n"
