"""`aire verify RUN` end to end on a fitted SIREN [256]*4 image model: wall time and every row's tight/observed.

    python benchmarks/theory_verify.py                        # fit the model (24 px, 300 steps, ~1 min), verify it
    python benchmarks/theory_verify.py --run runs/wide        # verify an existing run instead
    python benchmarks/theory_verify.py --budget 120           # a larger certificate budget

The model is the slow test's (tests/theory/test_verify.py: synthetic 24 px image, [256]*4, 300 steps,
no schedule). `aire verify` runs as a subprocess, as a user runs it, with its default settings unless
--budget is given. The machine's load (`uptime`) is recorded before and after: the certificate's
speed, and so how far it converges within the budget, depends on it.

Writes JSON: wall seconds, the rows (Theorem 2, tight, observed, tight/observed), the worst ratio,
whether every row is within 10x and whether the run took under a minute.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def fit_model(out: Path) -> Path:
    """The slow test's fitted [256]*4 model, saved as a run folder."""
    import aire
    from aire.config import ScheduleConfig
    from aire.signals.image import ImageSignal, synthetic_image

    signal = ImageSignal(image=synthetic_image(24))
    net = aire.build_network(signal, [256] * 4, seed=0)
    result = aire.fit(signal, net, steps=300, schedule=ScheduleConfig(kind="none"), progress=False, eval_every=300)
    return Path(aire.save_run(result, signal, out))


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_rows(text: str) -> list[dict]:
    """The CHANGE table `aire verify` prints: name, Theorem 2, tight, observed, tight/observed, result."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("CHANGE"))
    rows = []
    for line in lines[start + 1:]:
        m = re.match(r"(.+?)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(pass|FAIL)$", line)
        if not m:
            break
        name, classical, tight, observed, ratio, result = m.groups()
        rows.append({"change": name.strip(), "theorem2": float(classical), "tight": float(tight),
                     "observed": float(observed), "tight_over_observed": float(ratio), "result": result})
    return rows


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, help="an existing run folder (default: fit the model into a temporary one)")
    p.add_argument("--budget", type=float, help="aire verify --budget (default: verify's own default)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "theory-verify-cpu.json")
    args = p.parse_args(argv)
    from benchmarks.suite import device_name

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            started = time.perf_counter()
            run = fit_model(Path(tmp) / "run")
            print(f"fitted [256]*4 in {time.perf_counter() - started:.0f} s", flush=True)
        cmd = [sys.executable, "-m", "aire", "verify", str(run)]
        if args.budget is not None:
            cmd += ["--budget", str(args.budget)]
        before = uptime()
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = uptime()
    print(done.stdout[done.stdout.find("CHANGE"):] if "CHANGE" in done.stdout else done.stdout + done.stderr)
    if done.returncode not in (0, 1):
        raise SystemExit(f"aire verify failed ({done.returncode}): {done.stderr.strip()}")
    rows = parse_rows(done.stdout)
    worst = max(r["tight_over_observed"] for r in rows)
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "device": device_name("cpu"), "cores": os.cpu_count(), "torch": torch.__version__,
              "model": "SIREN [256]*4, synthetic 24 px image, 300 steps", "command": " ".join(cmd[2:]),
              "budget": args.budget, "uptime_before": before, "uptime_after": after,
              "wall_seconds": round(wall, 1), "rows": rows, "worst_ratio": worst,
              "every_row_within_10x": worst <= 10, "under_a_minute": wall < 60}
    print(f"wall {wall:.1f} s; worst tight/observed {worst:.3g}; load before: {before}; after: {after}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
