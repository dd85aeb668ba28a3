"""The suite framework: a registry of named suites, one protocol for metadata and result files.

A suite is a module with a function ``run(size: str, device: str, options: dict) -> dict``:

* ``size`` is ``"cpu"`` (fits in 30 minutes on 2 cores) or ``"gpu"`` (fits in 8 minutes on one H100);
* ``device`` a torch device string (``"cpu"``, ``"cuda"``);
* ``options`` the suite's overrides from the command line (``--set KEY=VALUE``, e.g. ``images=1``),
  which the suite reads with ``options.get(KEY, default)``;
* it returns a JSON-ready dict with at least ``"settings"`` and ``"rows"`` (a list of flat dicts).

The module may also define ``markdown(result) -> str`` (else the rows become a generic table) and
``plot(result, path)`` (a PNG). The framework adds the device name, torch version, date, size and
wall time, and writes ``benchmarks/results/<suite>-<size>-<device>.{json,md,png}``.

Register a suite by adding ``"name": "benchmarks.module"`` to SUITES.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import re
import time
import traceback
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SIZES = ("cpu", "gpu")

#: suite name -> module implementing run(size, device, options) (and optionally markdown, plot)
SUITES: dict[str, str] = {
    "image": "benchmarks.image_suite",
    "prune-ablation": "benchmarks.prune_ablation",
    "speed": "benchmarks.speed",
    "sdf": "benchmarks.sdf_tradeoff",
    "nerf": "benchmarks.nerf_tradeoff",
    "throughput": "benchmarks.throughput",
    "baselines": "benchmarks.baselines",
    "target": "benchmarks.target_suite",
}


def data_root() -> Path:
    """Where the standard data lives: $AIRE_DATA, else ../shared/data beside the checkout, else ./.data."""
    env = os.environ.get("AIRE_DATA")
    if env:
        return Path(env).resolve()
    shared = ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else ROOT / ".data"


def device_name(device: str) -> str:
    """The GPU's name, or the CPU model with the thread count."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({_threads()})"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({_threads()})"


def _threads() -> str:
    n = torch.get_num_threads()
    return f"{n} thread" + ("s" if n > 1 else "")


def device_slug(device: str) -> str:
    """A short file-name tag for the device: cpu, h100, a100, ... or cuda."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return dev.type
    found = re.search(r"\b([a-z]\d{2,4})\b", torch.cuda.get_device_name(dev).lower())
    return found.group(1) if found else "cuda"


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"benchmarks: error: --device {device}: no CUDA device is available")
    return device


def load(name: str) -> Any:
    if name not in SUITES:
        raise SystemExit(f"benchmarks: error: unknown suite {name!r} (known: {', '.join(SUITES)})")
    return importlib.import_module(SUITES[name])


def generic_markdown(result: dict) -> str:
    """A table of the rows' scalar columns."""
    rows = result.get("rows", [])
    cols = [k for k in rows[0] if not isinstance(rows[0][k], (list, dict))] if rows else []
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def header(suite: str, result: dict) -> str:
    return (f"# {suite} ({result['size']})\n\ndevice: {result['device_name']}; torch {result['torch']}; "
            f"{result['date']}; suite wall time {result['wall_seconds']:.0f} s\n\n")


def run_suite(name: str, size: str, device: str, options: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    """Run one suite and write its JSON, markdown and (if it plots) PNG; returns the JSON path."""
    module = load(name)
    device = resolve_device(device)
    if torch.device(device).type == "cpu":
        # one thread unless told otherwise: on a shared machine a second spinning thread costs more than it gives
        torch.set_num_threads(int(options.get("threads", 1)))
    start = time.perf_counter()
    result = module.run(size, device, options)
    result = {"suite": name, "size": size, "device": device, "device_name": device_name(device),
              "torch": torch.__version__, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "wall_seconds": round(time.perf_counter() - start, 1), "options": options, **result}
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{name}-{size}-{device_slug(device)}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    body = module.markdown(result) if hasattr(module, "markdown") else generic_markdown(result)
    stem.with_suffix(".md").write_text(header(name, result) + body)
    if hasattr(module, "plot"):
        try:
            module.plot(result, stem.with_suffix(".png"))
        except ImportError as exc:  # matplotlib missing: the tables still count
            print(f"benchmarks: no plot for {name}: {exc}", flush=True)
        except Exception:
            traceback.print_exc()
    print(stem.with_suffix(".md").read_text(), flush=True)
    return stem.with_suffix(".json")
