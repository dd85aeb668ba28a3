"""J_n throughput: scipy, aire's torch backend (CPU, and CUDA when present) and the cupy backend, same inputs.

    python benchmarks/bessel.py                       # CPU size: 17 orders x 1e5 points
    python benchmarks/bessel.py --points 10000000     # the GPU size of issue 3

Writes JSON (points per second and the max deviation from scipy on a checked subset).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.special
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up (kernel compilation, caches)
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=17, help="orders 0..N-1")
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--xmax", type=float, default=100.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-scipy", action="store_true", help="scipy at 1e7 points takes ~30 s on 16 cores")
    p.add_argument("--out", type=Path, default=HERE / "results" / "bessel-cpu.json")
    args = p.parse_args(argv)
    from image_tradeoff import cpu_name

    rng = np.random.default_rng(0)
    x = rng.uniform(-args.xmax, args.xmax, args.points)
    n = np.arange(args.orders)[:, None]
    total = args.orders * args.points
    check = slice(0, min(args.points, 20_000))
    rows, subsets = [], {}

    def record(name: str, seconds: float, values) -> None:
        subsets[name] = np.asarray(values)[:, check]
        rows.append({"implementation": name, "seconds": round(seconds, 4), "values_per_second": round(total / seconds)})
        print(f"{name:<14} {seconds:9.4f} s  {total / seconds:12.4g} values/s", flush=True)

    # scipy runs last: its OpenMP threads spin for a while after a call and slow whatever runs next
    from aire.backends.torch_backend import bessel_j

    s, out = timed(lambda: bessel_j(n, x[None, :]), args.repeats)
    record("torch-cpu", s, out.numpy())
    if torch.cuda.is_available():
        xc, nc = torch.as_tensor(x, device="cuda"), torch.as_tensor(n, device="cuda")

        def torch_cuda():
            v = bessel_j(nc, xc[None, :], device="cuda")
            torch.cuda.synchronize()
            return v

        s, out = timed(torch_cuda, args.repeats)
        record("torch-cuda", s, out.cpu().numpy())
    try:
        from aire_cupy import CupyBackend

        if CupyBackend.available():
            import cupy

            backend = CupyBackend()
            xg, ng = cupy.asarray(x), cupy.asarray(n)

            def cupy_run():
                v = backend.bessel_j(ng, xg[None, :])
                cupy.cuda.Device().synchronize()
                return v

            s, out = timed(cupy_run, args.repeats)
            record("cupy", s, out.get())
    except ImportError:
        pass
    if not args.skip_scipy:
        s, out = timed(lambda: scipy.special.jv(n, x[None, :]), args.repeats)
        record("scipy", s, out)
    reference = scipy.special.jv(n, x[None, check])
    for row in rows:
        row["max_abs_error_vs_scipy"] = float(np.abs(subsets[row["implementation"]] - reference).max())
        print(f"{row['implementation']:<14} max |J_n - scipy| {row['max_abs_error_vs_scipy']:.2e}")
    result = {"benchmark": "bessel", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "device": cpu_name(), "torch": torch.__version__, "orders": args.orders, "points": args.points,
              "xmax": args.xmax, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
