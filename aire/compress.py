"""`aire compress`: run the AIRe schedule from a network trained elsewhere.

The model (an aire run folder, or a SIREN/FINER state dict in a layout of aire.nn.importers) becomes
``network.start`` of an ordinary fit specification, so the fit goes through aire.run.run_spec like
`aire fit` (same outputs, config.json replays it, --resume works).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: the layouts of aire.nn.importers.LAYOUTS (kept here so `aire --help` imports no torch; a test checks they agree)
LAYOUT_NAMES = ("siren-pytorch", "siren-bvp", "siren-notebook", "finer")

#: `aire fit` options compress leaves out: the network is the model's, not a fresh one
EXCLUDED = frozenset({"hidden", "network", "encoding", "encoding_set", "preset", "start"})


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `compress` on the `aire` sub-command parser."""
    from aire.options import add_fit_options

    p = sub.add_parser(
        "compress", help="shrink a network trained elsewhere (aire, siren-pytorch, SIREN, FINER) with the AIRe schedule",
        description="Start the AIRe schedule (densify, targeted weight decay, prune) from a trained network and "
                    "write an `aire fit` run folder. --omega0 / --omega0-hidden give the omega_0 the model was "
                    "trained with when its state dict does not record it (layout defaults otherwise).")
    p.add_argument("model", type=Path, help="an aire run folder, or a state dict (.pt, .pth, .safetensors)")
    p.add_argument("--signal", nargs=2, metavar=("SIGNAL", "PATH"), required=True,
                   help="the signal the model represents and its input, e.g. --signal image photo.png")
    p.add_argument("--layout", choices=(*LAYOUT_NAMES, "aire"),
                   help="the model's codebase (default: recognised by its parameter names)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (an existing one must be empty, or aire's with --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder that aire wrote")
    add_fit_options(p, exclude=EXCLUDED)
    return p


def compress_spec(args: argparse.Namespace) -> Any:
    """The FitSpec of `aire compress` options: the model's architecture, started from its weights."""
    from aire.nn.importers import load_start
    from aire.options import overrides_from_args
    from aire.spec import resolve

    overrides = overrides_from_args(args)
    given = overrides.setdefault("network", {})
    omega0, omega0_hidden = given.pop("omega0", None), given.pop("omega0_hidden", None)
    network, info = load_start(args.model, args.layout, omega0=omega0, omega0_hidden=omega0_hidden)
    arch = network.architecture()
    start = {"model": str(Path(args.model).resolve()), "layout": info["layout"]}
    if info["layout"] != "aire":
        start.update(omega0=info["omega0"], omega0_hidden=info["omega0_hidden"])
    given.update(widths=arch["widths"], omega0=arch["omega0_first"], omega0_hidden=arch["omega0_hidden"],
                 network=arch["network"], encoding=arch["encoding"], encoding_settings=network.encoding.settings(),
                 start=start)
    signal, path = args.signal
    overrides["signal"], overrides["path"] = signal, str(Path(path).resolve())
    return resolve(overrides)


def cmd_compress(args: argparse.Namespace) -> int:
    from aire.run import report_line, run_spec, summary_line

    from aire.options import flags_in_errors

    with flags_in_errors(args):
        spec = compress_spec(args)
    out, result = run_spec(spec, args.out, overwrite=args.overwrite, say=lambda line: print(line, file=sys.stderr))
    start = result.history[0] if result.history else {}
    key = next((k for k in ("psnr", "chamfer_l1", "psnr_test") if isinstance(start.get(k), (int, float))), None)
    if key is not None:
        print(f"start ({spec.network.start['layout']} model): {key} {start[key]:.4g} at step {start.get('step', 0)}")
    print(summary_line(result, spec.schedule.kind))
    print(report_line(out))
    from aire.targets import exit_status

    return exit_status(result.metrics, out)  # 2 and one line when a quality target was not held

