"""`python -m benchmarks SUITE [SUITE ...] --size cpu|gpu`: run named suites, write results/.

    python -m benchmarks --list
    python -m benchmarks image prune-ablation speed --size cpu
    python -m benchmarks image --size gpu --device cuda --set images=1
    python -m benchmarks baselines --size cpu --signals image --set budgets='[0.5]'
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from pathlib import Path
from typing import Sequence

from benchmarks.suite import RESULTS, SIZES, SUITES, run_suite


def parse_set(pairs: Sequence[str], prog: str = "benchmarks") -> dict:
    """--set KEY=VALUE options, read like `aire fit --set` (JSON values where they parse)."""
    from aire.cli import parse_settings
    from aire.errors import InputError

    try:
        return parse_settings(pairs)
    except InputError as exc:
        raise SystemExit(f"{prog}: error: {exc}") from None


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None, prog: str = "python -m benchmarks") -> int:
    """Run the named suites; `prog` is the command the usage and errors name (`aire bench` through aire)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.replace("python -m benchmarks", prog),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suites", nargs="*", metavar="SUITE", help=f"one or more of: {', '.join(SUITES)}")
    p.add_argument("--size", choices=SIZES, default="cpu", help="cpu: 30 min on 2 cores; gpu: 8 min on one H100")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:1, ...")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a suite option (repeatable)")
    p.add_argument("--signals", metavar="LIST", help="comma-separated signals, for suites covering several "
                   "(baselines: image,sdf,nerf)")
    p.add_argument("--schedule", metavar="NAME", help="the schedule, for suites that take one (throughput; default: "
                   "what a fit with a budget resolves to)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    p.add_argument("--list", action="store_true", help="list the suites and exit")
    args = p.parse_args(argv)
    if args.list or not args.suites:
        for name, module in SUITES.items():
            print(f"{name:16} {module}")
        return 0
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        p.error(f"unknown suite {', '.join(map(repr, unknown))} (known: {', '.join(SUITES)})")
    options = parse_set(args.set, prog)
    if args.schedule:
        options["schedule"] = args.schedule
    if args.signals:
        options["signals"] = [x.strip() for x in args.signals.split(",") if x.strip()]
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` stops a suite: it still writes what it has
    failed = []
    for name in args.suites:
        print(f"== suite {name} ({args.size})", flush=True)
        try:
            run_suite(name, args.size, args.device, options, args.out)
        except SystemExit:
            raise
        except Exception:  # one broken suite must not cost the others' results
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"benchmarks: failed suites: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
