"""Fit a small collection serially, on the local process pool and on a local Ray instance; time each.

Every run is the same jobs (generated images, one `aire fit` each) into a fresh folder, timed from
before the executor starts to the last summary write, so start-up costs (spawning workers, starting
Ray) count. Per-job PSNRs are compared across executors (they must be identical: same seed, one
thread per job). Writes benchmarks/results/fit_many-cpu.{json,md}.

    python benchmarks/fit_many.py                       # 8 images of 32 px, 300 steps, 3 repeats
    python benchmarks/fit_many.py --executors local ray --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from aire.many import load_jobs, make_executor, run_collection
from aire.many.executors import available_cpus
from aire.signals.image import synthetic_image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--hidden", type=int, nargs="+", default=[32, 32, 32])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--executors", nargs="+", default=["serial-1", "serial", "local", "ray"],
                   help="serial-1 (one thread), serial (torch's default threads), local, ray")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/fit_many-cpu"), help="results file stem")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aire-fit-many-bench-"))
    try:
        for i in range(args.images):
            iio.imwrite(work / f"img{i}.png", (synthetic_image(args.size, seed=i) * 255).round().astype(np.uint8))
        jobs = load_jobs([work], defaults={"steps": args.steps, "hidden": args.hidden, "target_params": 0.5,
                                           "eval_every": args.steps})
        default_threads = torch.get_num_threads()
        runs, psnr = [], {}
        for repeat in range(args.repeats):
            for name in args.executors:
                out = work / f"{name}-{repeat}"
                torch.set_num_threads(1 if name == "serial-1" else default_threads)
                load = os.getloadavg()[0]
                start = time.perf_counter()
                with make_executor("serial" if name.startswith("serial") else name) as executor:
                    summary = run_collection(jobs, out, executor, progress=False)
                seconds = time.perf_counter() - start
                done = [r for r in summary["jobs"] if r["status"] == "done"]
                psnr[name] = {r["id"]: r["quality"] for r in done}
                runs.append({"executor": name, "repeat": repeat, "seconds": seconds, "done": len(done),
                             "slots": summary["run"]["slots"], "load_before": load})
                print(f"{name:9s} repeat {repeat}: {seconds:6.2f} s, {len(done)}/{len(jobs)} done, "
                      f"load average {load:.1f}", flush=True)
                shutil.rmtree(out)
        torch.set_num_threads(default_threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    reference = psnr[args.executors[0]]
    identical = {name: values == reference for name, values in psnr.items()}
    result = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": {"cpus": available_cpus(), "processor": platform.processor() or platform.machine(),
                          "torch": torch.__version__, "python": sys.version.split()[0]},
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "runs": runs, "psnr_identical_to_" + args.executors[0]: identical,
              "mean_psnr": float(np.mean(list(reference.values())))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [f"# fit-many: {args.images} generated {args.size}-px images, widths {args.hidden}, {args.steps} steps, "
             f"budget 0.5", "",
             f"{available_cpus()} CPUs, torch {torch.__version__}, {result['date']}; wall-clock seconds from executor "
             f"start to the last summary write (start-up included). The machine is shared with other agents: the "
             f"load average before each run is listed, and timings move with it.", "",
             "| executor | jobs at once | seconds (each repeat) | min | load average before |", "|---|---|---|---|---|"]
    for name in args.executors:
        mine = [r for r in runs if r["executor"] == name]
        seconds = ", ".join(f"{r['seconds']:.1f}" for r in mine)
        loads = ", ".join(f"{r['load_before']:.1f}" for r in mine)
        lines.append(f"| {name} | {mine[0]['slots']} | {seconds} | {min(r['seconds'] for r in mine):.1f} | {loads} |")
    lines += ["", f"Per-job PSNR identical to {args.executors[0]}: "
              + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in identical.items())
              + f" (mean {result['mean_psnr']:.2f} dB)."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
