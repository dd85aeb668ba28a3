"""The `aire` command line: a thin layer over the Python API.

Every user error (missing file, corrupt input, bad setting, unknown or ambiguous plugin name: an
InputError, ConfigError or ComponentError) ends as one line on stderr and exit status 2, with nothing
written to the output folder. Anything else is a bug, in aire or in a plugin: its traceback is
printed, then one line naming the plugin it came from, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from aire import __version__
from aire.atomic import check_out_file, one_writer
from aire.config import ConfigError
from aire.errors import InputError
from aire.plugins import ComponentError

#: OpenMP threads that wait for work sleep instead of spinning, unless the user chose otherwise. Set
#: before torch loads its OpenMP runtime (this module imports no torch). Measured (benchmarks/results/
#: threads-cpu.md): `aire demo` on 2 cores beside two busy processes fitted in 85.6 s with spinning
#: threads, 15.3 s with sleeping ones (6.6 s on one thread); on the idle machine the sleeping threads
#: cost 5 % (a 300-step image fit: 32.9 s against 31.2 s; one thread 50.4 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EXIT_USAGE = 2
EXIT_BUG = 1

def parse_settings(pairs: Sequence[str] | None) -> dict[str, Any]:
    """KEY=VALUE strings to keyword arguments; values are read as JSON when they parse (numbers,
    true/false, lists), else kept as strings."""
    from aire.options import parse_setting

    settings: dict[str, Any] = {}
    for pair in pairs or ():
        try:
            key, value = parse_setting(pair)
        except argparse.ArgumentTypeError as exc:
            raise InputError(f"--set {exc}") from None
        settings[key] = value
    return settings


#: options of `aire fit` that `--resume` honours; every other one is refused
RESUME_OPTIONS = {("train", "device"), ("train", "progress")}


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    from aire.options import add_fit_options

    p.add_argument("signal", nargs="?", help="signal plugin: image, sdf, nerf (more with plugins; see `aire plugins`)")
    p.add_argument("path", nargs="?", help="input file or folder")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (an existing one must be empty, or aire's with --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder that aire wrote")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="start from a resolved specification (a run's config.json); options given here override it")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the interrupted fit whose checkpoint is in DIR (only --device and --quiet may change)")
    add_fit_options(p)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2) like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"aire: error: {message} (see `{self.prog} --help`)\n")


def component_settings_help(kind: str, name: str) -> str:
    """The settings of component `name` of `kind` with type and default, read from its factory's signature
    (aire.settings); a signal's also say what its default preset sets. One line when it is unknown."""
    from aire.plugins import get_registry
    from aire.presets import default_presets
    from aire.settings import RESERVED, describe_settings

    component = get_registry().find(kind, name)
    if component is None:
        return f"  (no {kind} plugin called {name!r}; see `aire plugins`)"
    preset = default_presets().get(name, {}).get("signal_settings") if kind == "signal" else None
    return describe_settings(component.factory, RESERVED.get(kind, ()), preset)


def _fit_epilog(signal: str | None) -> str:
    if signal is None:
        return ("`aire fit SIGNAL --help` lists the signal's --set settings with their types and defaults;\n"
                "`aire plugins --settings` lists every plugin's.")
    try:
        listing = component_settings_help("signal", signal)
    except Exception as exc:  # an ambiguous name or a broken plugin: the help itself must still print
        listing = f"  (cannot list them: {' '.join(str(exc).split())})"
    return f"settings of signal {signal!r} (--set KEY=VALUE):\n{listing}"


def build_parser(fit_signal: str | None = None) -> argparse.ArgumentParser:
    """The `aire` parser; `fit_signal` (the SIGNAL of `aire fit SIGNAL --help`) adds that signal's --set
    settings to the help of `fit`."""
    parser = OneLineParser(prog="aire", description="Adaptive implicit neural representations (AIRe).")
    parser.add_argument("--version", action="version", version=f"aire {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    fit = sub.add_parser("fit", help="fit a signal adaptively and write a report", epilog=_fit_epilog(fit_signal),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_fit_options(fit)
    from aire.many.command import add_parser as add_fit_many

    add_fit_many(sub)
    from aire.compress import add_parser as add_compress

    add_compress(sub)
    from aire.evaluate import add_parser as add_eval
    from aire.html_report import add_parser as add_report
    from aire.render import add_parser as add_render

    add_render(sub)
    add_eval(sub)
    add_report(sub)
    # the defaults are sized so the command takes ~15 s of CPU time (measured: docs/quickstart.md) and still
    # shows AIRe halving the network at about 35 dB
    demo = sub.add_parser("demo", help="adaptive fit of a generated 64 px image to half its parameters "
                                       "(~15 s of CPU time, under a minute on 2 cores)")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), metavar="DIR",
                      help="output folder (default runs/demo; an existing one must be empty, or aire's with --overwrite)")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing output folder that aire wrote")
    demo.add_argument("--size", type=int, default=64, metavar="N", help="side of the generated image in pixels (default 64)")
    demo.add_argument("--steps", type=int, default=600, metavar="N", help="optimizer steps (default 600)")
    demo.add_argument("--target-params", type=float, default=0.5, metavar="FLOAT",
                      help="end with at most this fraction of the starting parameters (default 0.5)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    verify = sub.add_parser("verify", help="check the AIRe paper's theorems (harmonic expansion, pruning stability) on random networks and a fitted model")
    verify.add_argument("model", nargs="?", type=Path, help="a fit's output folder or model.safetensors")
    verify.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the random networks and inputs the checks use (default 0)")
    verify.add_argument("--budget", type=float, default=45.0, metavar="SECONDS",
                        help="seconds the certified (tight) bounds of a model may take (default 45); more converges further")
    spectrum = sub.add_parser("spectrum", help="plot and list the strongest frequencies a fitted network expresses")
    spectrum.add_argument("model", type=Path, help="a fit's output folder or model.safetensors")
    spectrum.add_argument("--resolution", type=int, metavar="N", help="FFT grid points per axis (default 1024/256/48 for 1/2/3-D)")
    spectrum.add_argument("--channel", type=int, default=0, metavar="N",
                          help="output channel to analyse, from 0 (image: 0 red, 1 green, 2 blue; default 0)")
    spectrum.add_argument("--top", type=int, default=10, metavar="N", help="how many of the strongest frequencies to list (default 10)")
    spectrum.add_argument("--out", type=Path, metavar="FILE", help="plot file (default: MODEL_DIR/spectrum.png)")
    spectrum.add_argument("--overwrite", action="store_true", help="replace an existing plot file (--out or the default one)")
    export = sub.add_parser("export-mesh", help="extract the zero level set of a fitted SDF model as a mesh")
    export.add_argument("model", type=Path, help="a `fit sdf` output folder or its model.safetensors")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="mesh file: .ply, .obj, .off, .stl or .glb")
    export.add_argument("--resolution", type=int, default=256, metavar="N",
                        help="grid points per axis (default 256; 512 works: chunked)")
    export.add_argument("--normalised", action="store_true", help="keep the unit-cube frame instead of the mesh's original one")
    export.add_argument("--device", default="cpu", metavar="NAME", help="torch device: cpu, cuda, ... (default cpu)")
    export.add_argument("--keep-largest-component", action="store_true",
                        help="write only the connected piece with the most faces (drops small blobs in free space)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    bench = sub.add_parser("bench", help="run a benchmark suite (source checkout only): image, prune-ablation, speed, ...",
                           add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments of `python -m benchmarks`")
    scene = sub.add_parser("make-scene", help="render a mesh into a NeRF scene (Blender or nerfstudio format)")
    scene.add_argument("mesh", type=Path, help="a mesh file trimesh reads (.off, .ply, .obj, .stl, ...)")
    scene.add_argument("--out", type=Path, required=True, metavar="DIR", help="scene folder to write")
    scene.add_argument("--views", type=int, default=50, metavar="N", help="training views (default 50)")
    scene.add_argument("--size", type=int, default=100, metavar="N", help="image side in pixels (default 100)")
    scene.add_argument("--val-views", type=int, default=0, metavar="N",
                       help="validation views (default 0: aire fits on train and evaluates on test; give some for "
                            "tools that want a val split)")
    scene.add_argument("--test-views", type=int, default=8, metavar="N",
                       help="test views, on which `aire fit nerf` reports PSNR/SSIM (default 8)")
    scene.add_argument("--supersample", type=int, default=2, metavar="N", help="rays per pixel side, box-filtered (default 2)")
    scene.add_argument("--seed", type=int, default=0, metavar="N", help="rotation of the camera spheres (default 0)")
    scene.add_argument("--format", choices=("blender", "nerfstudio"), default="blender",
                       help="blender: transforms_{train,val,test}.json (default); nerfstudio: one transforms.json "
                            "with fl_x, fl_y, cx, cy, w, h and split lists")
    scene.add_argument("--overwrite", action="store_true", help="replace an existing scene folder that aire wrote")
    scene.add_argument("--quiet", action="store_true", help="no status lines while the views are ray cast")
    plugins = sub.add_parser("plugins", help="list plugins: what each provides and hooks, clashes, failures")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument("--settings", action="store_true",
                         help="list each component's settings (--set, --criterion-set, ...) with type and default")
    return parser


def _fit_spec(args: argparse.Namespace) -> tuple[Any, Path, dict[str, Any] | None]:
    """(the FitSpec, the output folder, the checkpoint state to resume or None) of `aire fit` options;
    a bad value the user typed is refused naming its flag (``--target-params must lie in (0, 1]``)."""
    from aire.options import flags_in_errors

    with flags_in_errors(args, config=args.config):
        return _fit_spec_of(args)


def _fit_spec_of(args: argparse.Namespace) -> tuple[Any, Path, dict[str, Any] | None]:
    """:func:`_fit_spec` without the flag naming."""
    from aire.options import overrides_from_args
    from aire.run import spec_of_checkpoint
    from aire.spec import FitSpec, merge, read_config, resolve

    overrides = overrides_from_args(args)
    if args.resume is not None:
        from aire.options import generated_options

        given = {o.path: o.flag for o in generated_options() if "spec." + o.key in vars(args)}
        refused = [flag for path, flag in given.items() if path not in RESUME_OPTIONS]
        refused += [name for name, value in (("SIGNAL", args.signal), ("PATH", args.path), ("--out", args.out),
                                             ("--config", args.config), ("--overwrite", args.overwrite)) if value]
        if refused:
            raise InputError(f"--resume continues the saved fit and cannot honour {', '.join(refused)}; "
                             "only --device and --quiet may change (start a new fit with --config DIR/config.json)")
        from aire.train.state import CHECKPOINT_FILE, load_checkpoint

        if (args.resume / "metrics.json").is_file() and not (args.resume / CHECKPOINT_FILE).exists():
            raise InputError(f"{args.resume} is a finished run (it has metrics.json); there is nothing to resume")
        state = load_checkpoint(args.resume)
        saved = spec_of_checkpoint(state, args.resume)
        spec = FitSpec.from_dict(merge(saved.to_dict(), overrides), where="--resume")
        from aire.run import check_spec

        check_spec(spec)
        print(f"aire: resuming {args.resume} at step {state['step']} with architecture "
              f"{[w.shape[0] for w in state['weights']]}", file=sys.stderr)
        return spec, args.resume, state
    config = read_config(args.config) if args.config is not None else None
    if config is not None and "preset" in overrides:
        raise InputError("--preset cannot be combined with --config: the config file is already a resolved specification")
    if args.signal is not None:
        overrides["signal"] = args.signal
    if args.path is not None:
        overrides["path"] = str(Path(args.path).resolve())
    if args.out is None or (config is None and (args.signal is None or args.path is None)):
        raise InputError("fit needs SIGNAL PATH --out DIR, --config FILE --out DIR, or --resume DIR")
    return resolve(overrides, config=config), args.out, None


def cmd_fit(args: argparse.Namespace, extra_files: dict[str, Path] | None = None,
            input_as: Path | None = None) -> int:
    from contextlib import nullcontext

    from aire.atomic import one_writer
    from aire.options import flags_in_errors
    from aire.run import report_line, run_spec, summary_line

    # the output's lock from before the checkpoint is read (--resume) to the final swap
    with one_writer(args.resume) if args.resume is not None else nullcontext():
        spec, out, state = _fit_spec(args)
        try:
            with flags_in_errors(args, config=getattr(args, "config", None)):  # a setting refused once the network exists
                out, result = run_spec(spec, out, overwrite=args.overwrite, resume=state, extra_files=extra_files,
                                       say=lambda line: print(line, file=sys.stderr), input_as=input_as)
        except InputError as exc:
            from aire.train.state import CHECKPOINT_FILE

            kept = (state is not None or spec.train.checkpoint_every) and (Path(out) / CHECKPOINT_FILE).is_file()
            if str(exc).startswith("cannot write") and kept:
                raise InputError(f"{exc}; the last checkpoint is kept: make room, then `aire fit --resume {out}`") from exc
            raise
    print(summary_line(result, spec.schedule.kind))
    print(report_line(out))
    from aire.targets import exit_status

    return exit_status(result.metrics, out)  # 2 and one line when a quality target was not held


def cmd_make_scene(args: argparse.Namespace) -> int:
    from aire.atomic import one_writer
    from aire.scenes.make_scene import make_scene
    from aire.status import reporting

    with one_writer(args.out), reporting(not args.quiet):  # one writer from the first check to the swap
        out = make_scene(args.mesh, args.out, views=args.views, size=args.size, val_views=args.val_views,
                         test_views=args.test_views, supersample=args.supersample, seed=args.seed,
                         overwrite=args.overwrite, format=args.format)
    counts = ", ".join(f"{n} {split}" for split, n in (("train", args.views), ("val", args.val_views),
                                                         ("test", args.test_views)) if n)
    print(f"scene: {out} ({args.format} format; {counts} views of {args.size}x{args.size}); "
          f"fit it with `aire fit nerf {out} --out DIR`")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from aire.plugins import get_registry

    if args.settings:
        return _print_settings()
    report = get_registry().report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = [{"plugin": p["name"], "distribution": p["distribution"], "version": p["version"] or "-",
             "status": p["status"],
             "provides": "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p["provides"].items()) or "-",
             "hooks": ", ".join(f"{h} (wrapper)" if h in p["wrappers"] else h for h in p["hooks"]) or "-",
             "error": p["error"]} for p in report["plugins"]]
    cols = ("plugin", "distribution", "version", "status", "provides", "hooks")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols[:-1]}
    print(f"aire {__version__}, plugin API {report['api_version']}")
    print("  ".join(c.upper().ljust(widths.get(c, 0)) for c in cols).rstrip())
    for r in rows:
        print("  ".join(r[c].ljust(widths.get(c, 0)) for c in cols).rstrip())
        if r["error"]:
            print(f"    {'unavailable' if r['status'] == 'unavailable' else 'error'}: {r['error']}")
    for clash in report["clashes"]:
        print(f"clash: {clash['message']}")
    return 0


#: component kind -> the `aire fit` option that passes its settings
SETTING_FLAGS = {"signal": "--set", "encoding": "--encoding-set", "criterion": "--criterion-set",
                 "policy": "--policy-set", "backend": "--backend-set", "schedule": "--schedule-set"}


def _print_settings() -> int:
    """`aire plugins --settings`: every component's settings, by kind, from the factories' signatures."""
    from aire.plugins import get_registry

    registry = get_registry()
    for kind, flag in SETTING_FLAGS.items():
        for name in sorted(registry.components(kind)):
            print(f"{kind} {name} ({flag} KEY=VALUE):")
            try:
                print(component_settings_help(kind, name))
            except Exception as exc:  # one broken plugin must not hide the others
                print(f"  (cannot list them: {' '.join(str(exc).split())})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate an image, fit it with AIRe to a budget, write the usual report."""
    import tempfile

    import imageio.v3 as iio
    import numpy as np

    from aire.signals.image import synthetic_image

    if args.size < 8:
        raise InputError(f"--size must be at least 8 pixels, got {args.size}")
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "input.png"
        iio.imwrite(image, (synthetic_image(args.size) * 255).round().astype(np.uint8))
        print(f"aire demo: fitting a generated {args.size}x{args.size} image, SIREN [48, 48, 48, 48], "
              f"{args.steps} steps, budget {args.target_params:.0%} of the parameters")
        argv = ["image", str(image), "--out", str(args.out), "--hidden", "48", "48", "48", "48",
                "--steps", str(args.steps), "--target-params", str(args.target_params)]
        fit_args = build_parser().parse_args(["fit", *argv, *(["--overwrite"] if args.overwrite else []),
                                              *(["--quiet"] if args.quiet else [])])
        # the outputs name the copy kept in the run folder, not the temporary file deleted after the fit
        return cmd_fit(fit_args, extra_files={"input.png": image}, input_as=args.out / "input.png")


def cmd_verify(args: argparse.Namespace) -> int:
    """Run the theorem checks; with a model, also print Theorem 2's bound, the tight one and the observed change."""
    import torch

    import aire
    from aire.backends import get_backend
    from aire.io import field_of
    from aire.theory.boundprop import device_for
    from aire.theory.verify import bound_rows, format_bounds, format_checks, run_checks

    if args.budget < 0:
        raise InputError(f"--budget must be >= 0 seconds, got {args.budget}")
    torch.set_num_threads(1)  # small tensors: as fast as two threads when idle, 4x faster on a busy machine (measured)
    model = field_of(aire.load(args.model)) if args.model is not None else None  # a NeRF run: its field
    backend = get_backend("auto")  # cupy (a plugin) when it and a GPU are present: Bessel values and bounds there
    device = device_for(backend)
    print(f"backend: {backend.name} (bound propagation on {device})")
    results = run_checks(model, seed=args.seed, backend=backend)
    print(format_checks(results))
    rows = bound_rows(model, seed=args.seed, budget=args.budget, device=device) if model is not None else []
    if rows:
        print("\n" + format_bounds(rows))
    failed = [r.name for r in [*results, *rows] if not r.passed]
    print(f"{len(results) + len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_spectrum(args: argparse.Namespace) -> int:
    from aire.io import CONFIG_FILE, MODEL_FILE, run_inputs

    if args.resolution is not None and args.resolution < 8:
        raise InputError(f"--resolution must be at least 8, got {args.resolution}")
    if args.top < 1:
        raise InputError(f"--top must be at least 1, got {args.top}")
    run_dir = args.model.parent if args.model.suffix else args.model
    out = args.out or run_dir / "spectrum.png"
    # the default file follows the rule of --out: an existing one is replaced only with --overwrite (a user
    # may have kept an earlier run's plot, at another --resolution or channel)
    check_out_file(out, args.overwrite, inputs=[*run_inputs(run_dir), run_dir / MODEL_FILE, run_dir / CONFIG_FILE])
    with one_writer(out):
        return _spectrum(args, out)


def _spectrum(args: argparse.Namespace, out: Path) -> int:
    import aire
    from aire.io import field_of
    from aire.theory.spectrum import network_spectrum, plot_spectrum

    net = field_of(aire.load(args.model))  # a NeRF run: the spectrum of its field (density + features)
    if not 0 <= args.channel < net.widths()[-1]:
        raise InputError(f"--channel {args.channel}: the model has {net.widths()[-1]} output channels")
    spec = network_spectrum(net, resolution=args.resolution, channel=args.channel)
    plot_spectrum(spec, str(out), title=f"{args.model} channel {args.channel} ({spec.method})")
    print(f"method: {spec.method}" + (f" (period {spec.period})" if spec.period else " (Hann window on [-1, 1]^d)")
          + f"; energy in the outer band {spec.aliasing:.1e}")
    print(f"{'FREQUENCY (rad/unit)':>32}  {'CYCLES/UNIT':>20}  AMPLITUDE")
    for freq, amp in spec.strongest(args.top):
        rad = ", ".join(f"{v:8.2f}" for v in freq)
        cyc = ", ".join(f"{v / (2 * math.pi):6.2f}" for v in freq)
        print(f"{rad:>32}  {cyc:>20}  {amp:.4g}")
    print(f"plot: {out}")
    return 0


def cmd_compress(args: argparse.Namespace) -> int:
    from aire.compress import cmd_compress as run

    return run(args)


def cmd_render(args: argparse.Namespace) -> int:
    from aire.render import cmd_render as run

    return run(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from aire.evaluate import cmd_eval as run

    return run(args)


def cmd_report(args: argparse.Namespace) -> int:
    from aire.html_report import cmd_report as run

    return run(args)


def cmd_fit_many(args: argparse.Namespace) -> int:
    from aire.many.command import cmd_fit_many as run

    return run(args)


def cmd_export_mesh(args: argparse.Namespace) -> int:
    """Grid evaluation (chunked), marching cubes, back to the original frame, written atomically."""
    from aire.devices import resolve_device
    from aire.geometry.mesh_io import MESH_SUFFIXES
    from aire.io import run_inputs

    device = resolve_device(args.device)
    if not 8 <= args.resolution <= 2048:
        raise InputError(f"--resolution must be in [8, 2048], got {args.resolution}")
    if args.out.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(f"--out {args.out}: use one of {', '.join(MESH_SUFFIXES)}")
    run_dir = args.model.parent if args.model.suffix else args.model
    check_out_file(args.out, args.overwrite, inputs=run_inputs(run_dir), records=run_dir)
    with one_writer(args.out):  # one writer from the check to the rename
        return _export_mesh(args, device, run_dir)


def _export_mesh(args: argparse.Namespace, device: Any, run_dir: Path) -> int:
    import aire
    from aire.mesh_export import export_sdf_mesh

    print(export_sdf_mesh(aire.load(args.model, device=device), run_dir, args.out, resolution=args.resolution,
                          normalised=args.normalised, keep_largest_component=args.keep_largest_component,
                          progress=not args.quiet, name=args.model))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """`python -m benchmarks ...` of the source checkout this package was imported from."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").is_file():
        raise InputError("aire bench needs a source checkout (benchmarks/ next to the aire package); "
                         "run it from a git clone, or use `python -m benchmarks` there")
    sys.path.insert(0, str(root))
    from benchmarks.__main__ import main as bench_main

    return bench_main(args.bench_args, prog="aire bench")


COMMANDS = {"compress": cmd_compress, "export-mesh": cmd_export_mesh, "fit": cmd_fit, "fit-many": cmd_fit_many, "make-scene": cmd_make_scene, "bench": cmd_bench, "plugins": cmd_plugins, "demo": cmd_demo, "verify": cmd_verify, "spectrum": cmd_spectrum,
            "render": cmd_render, "eval": cmd_eval, "report": cmd_report}


def _os_error(exc: OSError) -> str:
    """An OSError as one line: `cannot write PATH: REASON` for a full or read-only disk, else `PATH: REASON`."""
    from aire.atomic import FULL_ERRNOS

    text = str(exc).strip()
    reason = exc.strerror or (text.splitlines()[0] if text else type(exc).__name__)
    if exc.filename is None:
        return reason
    return f"{'cannot write ' if exc.errno in FULL_ERRNOS else ''}{exc.filename}: {reason}"


def _live_log(out: Path) -> Path | None:
    """The live-log folder an interrupted fit into `out` left (aire.loggers.live_dir), or None."""
    from aire.loggers import live_dir

    folder = live_dir(out)
    return folder if folder.is_dir() else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after `bench` belongs to the benchmarks' own parser
        try:
            return cmd_bench(argparse.Namespace(bench_args=argv[1:]))
        except InputError as exc:
            print(f"aire: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    asks_help = "-h" in argv or "--help" in argv
    fit_signal = argv[1] if asks_help and argv[:1] == ["fit"] and len(argv) > 1 and not argv[1].startswith("-") else None
    parser = build_parser(fit_signal)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return int(exc.code or 0)
    warnings.formatwarning = lambda message, category, *_a, **_k: f"aire: warning: {message}\n"
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # libraries' notices are not the user's business
    try:
        return COMMANDS[args.command](args)
    except (InputError, ConfigError, ComponentError) as exc:  # the user's to fix: one line
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"aire: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `aire plugins | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # the environment (disk, permissions) where no writer said more
        print(f"aire: error: {_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        if out is not None and (Path(out) / "checkpoint.pt").exists():
            print(f"aire: interrupted; resume with `aire fit --resume {out}`", file=sys.stderr)
        elif out is not None and (log := _live_log(Path(out))) is not None:  # the log of the fit so far, kept
            print(f"aire: interrupted; nothing was written to {out} (the log so far is in {log})", file=sys.stderr)
        else:
            print("aire: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, in a plugin or in aire: the traceback, then whose it is
        import traceback

        from aire.plugins import loaded_registry

        traceback.print_exception(exc)
        message = " ".join(str(exc).split()) or type(exc).__name__
        try:
            registry = loaded_registry()
            record = registry.blame(exc) if registry is not None else None
        except Exception:  # the report of a bug must not raise a second one
            record = None
        if record is not None:
            origin = f"plugin {record.name!r} ({record.distribution} {record.version})".replace(" )", ")")
            print(f"aire: error: {message}\naire: error: this is a bug in {origin}: report it to its authors "
                  "with the traceback above", file=sys.stderr)
        else:
            print(f"aire: error: {message}\naire: error: this is a bug in aire: please report it with the "
                  "traceback above", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
