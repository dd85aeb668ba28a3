"""The `aire` command line: a thin layer over the Python API.

Every user error (missing file, corrupt input, bad setting, unknown plugin) ends as one line on
stderr and exit status 2, with nothing written to the output folder.
"""

from __future__ import annotations

import argparse

import attrs
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from aire import __version__
from aire.atomic import check_out_file, check_replaceable, is_aire_folder
from aire.config import ConfigError, ScheduleConfig, TrainConfig, to_dict
from aire.errors import InputError
from aire.plugins import PluginError, UnknownComponentError

EXIT_USAGE = 2

#: defaults of the network/training options for a signal that declares none
FALLBACK_DEFAULTS: dict[str, Any] = {
    "hidden": [256, 256, 256], "omega0": 30.0, "steps": 2000, "lr": 5e-4, "lr_final": 5e-5,
    **{k: v for k, v in attrs.asdict(ScheduleConfig()).items() if k not in ("kind", "criterion", "policy")},
}


def signal_defaults(name: str, preset: str | None) -> dict[str, Any]:
    """The option defaults a signal class declares (`cli_defaults`), overlaid with a named preset
    (`presets[preset]`); keys are option names with underscores (hidden, omega0, steps, prune_layers...)."""
    from aire.plugins import get_registry

    component = get_registry().components("signal").get(name)
    factory = getattr(component, "factory", None)
    defaults = {**FALLBACK_DEFAULTS, **getattr(factory, "cli_defaults", {})}
    if preset is not None:
        presets = getattr(factory, "presets", {})
        if preset not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise InputError(f"--preset {preset!r}: signal {name!r} has no such preset (known: {known})")
        defaults.update(presets[preset])
    return defaults


def parse_settings(pairs: Sequence[str] | None) -> dict[str, Any]:
    """KEY=VALUE strings to keyword arguments; values are read as JSON when they parse (numbers,
    true/false, lists), else kept as strings."""
    settings: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            settings[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip().replace("-", "_")] = value
    return settings


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("signal", nargs="?", help="signal plugin: image, sdf, nerf (more with plugins; see `aire plugins`)")
    p.add_argument("path", nargs="?", help="input file or folder")
    p.add_argument("--out", type=Path, help="output folder (refused if it exists, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="write OUT/checkpoint.pt every N steps (atomically), for --resume")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the interrupted fit whose checkpoint is in DIR")
    p.add_argument("--preset", help="named settings of the signal (e.g. sdf: paper); explicit options still win")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="signal_settings",
                   help="a setting of the signal plugin, e.g. --set samples=200000 (repeatable)")
    net = p.add_argument_group("network")
    net.add_argument("--hidden", type=int, nargs="+", metavar="W",
                     help="widths of the sine layers, the first being the number of input frequencies (default per signal)")
    net.add_argument("--omega0", type=float, help="omega_0 of the first layer (image: 30, sdf: 30)")
    net.add_argument("--omega0-hidden", type=float, help="omega_0 of hidden layers (default: --omega0)")
    net.add_argument("--network", default="siren", help="network plugin: siren or finer")
    net.add_argument("--encoding", default="siren", help="input-layer encoding plugin: siren or lattice")
    net.add_argument("--backend", default="auto", help="backend for spectra and Bessel maths: auto, torch, cupy")
    tr = p.add_argument_group("training")
    tr.add_argument("--steps", type=int, help="optimizer steps (default per signal; image: 2000)")
    tr.add_argument("--lr", type=float, help="initial Adam learning rate (default 5e-4)")
    tr.add_argument("--lr-final", type=float, help="learning rate at the last step, exponential decay (default 5e-5)")
    tr.add_argument("--batch-size", type=int, help="samples per step (default: full batch)")
    tr.add_argument("--eval-every", type=int, default=100)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    tr.add_argument("--size", type=int, help="image, nerf: resize so the longer side has this many pixels")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--precision", choices=("fp32", "tf32", "bf16"), default="fp32",
                    help="fp32 (exact), tf32 (CUDA tensor cores) or bf16 autocast (first layer kept fp32)")
    tr.add_argument("--compile", action="store_true", help="torch.compile the training step (recompiled after surgery)")
    sc = p.add_argument_group("AIRe schedule (fractions are of --steps)")
    defaults = ScheduleConfig()
    sc.add_argument("--schedule", choices=("aire", "none"), default="aire")
    sc.add_argument("--target-params", type=float, help="end with at most this fraction of the starting parameters, in (0, 1]")
    sc.add_argument("--warmup", type=float, help=f"(default {defaults.warmup})")
    sc.add_argument("--cycles", type=int, help=f"(default {defaults.cycles})")
    sc.add_argument("--twd-length", type=float, help=f"(default {defaults.twd_length})")
    sc.add_argument("--cycle-gap", type=float, help=f"(default {defaults.cycle_gap})")
    sc.add_argument("--alpha-max", type=float, help=f"(default {defaults.alpha_max})")
    sc.add_argument("--epsilon", type=float, help=f"(default {defaults.epsilon})")
    sc.add_argument("--prune-fraction", type=float, help=f"(default {defaults.prune_fraction})")
    sc.add_argument("--prune-layers", type=int, nargs="+", help="sine layers to prune (0 = input frequencies; default: the hidden layers)")
    sc.add_argument("--densify-k", type=int,
                    help="input frequencies added per cycle (0 disables; default: --densify-fraction of the input width)")
    sc.add_argument("--densify-fraction", type=float, help=f"(default {defaults.densify_fraction})")
    sc.add_argument("--lr-rewind", action=argparse.BooleanOptionalAction,
                    help="restart the learning-rate decay after each cut")
    sc.add_argument("--compensate", action="store_true", help="least-squares refit of kept columns at each cut")
    sc.add_argument("--criterion", default=defaults.criterion, help="pruning criterion plugin")
    sc.add_argument("--policy", default=defaults.policy, help="densification policy plugin")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2) like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"aire: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="aire", description="Adaptive implicit neural representations (AIRe).")
    parser.add_argument("--version", action="version", version=f"aire {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    fit = sub.add_parser("fit", help="fit a signal adaptively and write a report")
    _add_fit_options(fit)
    from aire.many.command import add_parser as add_fit_many

    add_fit_many(sub)
    demo = sub.add_parser("demo", help="adaptive fit of a generated image: the two-minute tour")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--overwrite", action="store_true")
    demo.add_argument("--size", type=int, default=96, help="side of the generated image in pixels")
    demo.add_argument("--steps", type=int, default=1500)
    demo.add_argument("--target-params", type=float, default=0.5)
    demo.add_argument("--quiet", action="store_true")
    verify = sub.add_parser("verify", help="check the theorems of SPEC section 2 on random networks (and a fitted model)")
    verify.add_argument("model", nargs="?", type=Path, help="a fit's output folder or model.safetensors")
    verify.add_argument("--seed", type=int, default=0)
    verify.add_argument("--budget", type=float, default=30.0,
                        help="seconds the certified (tight) bounds of a model may take; more converges further")
    spectrum = sub.add_parser("spectrum", help="plot and list the strongest frequencies a fitted network expresses")
    spectrum.add_argument("model", type=Path, help="a fit's output folder or model.safetensors")
    spectrum.add_argument("--resolution", type=int, help="FFT grid points per axis (default 1024/256/48 for 1/2/3-D)")
    spectrum.add_argument("--channel", type=int, default=0)
    spectrum.add_argument("--top", type=int, default=10)
    spectrum.add_argument("--out", type=Path, help="plot file (default: MODEL_DIR/spectrum.png)")
    spectrum.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    export = sub.add_parser("export-mesh", help="extract the zero level set of a fitted SDF model as a mesh")
    export.add_argument("model", type=Path, help="a `fit sdf` output folder or its model.safetensors")
    export.add_argument("--out", type=Path, required=True, help="mesh file: .ply, .obj, .off, .stl or .glb")
    export.add_argument("--resolution", type=int, default=256, help="grid points per axis (512 works: chunked)")
    export.add_argument("--normalised", action="store_true", help="keep the unit-cube frame instead of the mesh's original one")
    export.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    bench = sub.add_parser("bench", help="run a benchmark suite (source checkout only): image, prune-ablation, speed, ...",
                           add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments of `python -m benchmarks`")
    scene = sub.add_parser("make-scene", help="render a mesh into a NeRF-synthetic (Blender-format) scene")
    scene.add_argument("mesh", type=Path, help="a mesh file trimesh reads (.off, .ply, .obj, .stl, ...)")
    scene.add_argument("--out", type=Path, required=True, help="scene folder to write")
    scene.add_argument("--views", type=int, default=50, help="training views (default 50)")
    scene.add_argument("--size", type=int, default=100, help="image side in pixels (default 100)")
    scene.add_argument("--val-views", type=int, default=4)
    scene.add_argument("--test-views", type=int, default=8)
    scene.add_argument("--supersample", type=int, default=2, help="rays per pixel side, box-filtered (default 2)")
    scene.add_argument("--seed", type=int, default=0, help="rotation of the camera spheres")
    scene.add_argument("--overwrite", action="store_true")
    plugins = sub.add_parser("plugins", help="list installed plugins and those that failed to load")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def cmd_fit(args: argparse.Namespace, extra_files: dict[str, Path] | None = None) -> int:
    import torch

    import aire
    from aire.plugins import create

    from aire.train.state import load_checkpoint

    resume_state = None
    if args.resume is not None:
        resume_state = load_checkpoint(args.resume)
        saved = resume_state.get("extra", {}).get("cli_args")
        if not saved:
            raise InputError(f"checkpoint in {args.resume} was not written by `aire fit`; resume it with aire.fit(resume=...)")
        args = argparse.Namespace(**{**saved, "out": args.resume, "overwrite": True, "resume": args.resume,
                                     "quiet": args.quiet or saved["quiet"]})
        print(f"aire: resuming {args.resume} at step {resume_state['step']} with architecture "
              f"{[w.shape[0] for w in resume_state['weights']]}", file=sys.stderr)
    elif args.signal is None or args.path is None or args.out is None:
        raise InputError("fit needs SIGNAL PATH --out DIR, or --resume DIR")
    defaults = signal_defaults(args.signal, getattr(args, "preset", None))
    for key, value in defaults.items():  # explicit options win over the preset and the signal's defaults
        if key != "signal_settings" and getattr(args, key, None) is None:
            setattr(args, key, value)
    if resume_state is None:
        aire.check_out_dir(args.out, args.overwrite, inputs=[args.path])
    else:  # the finished run replaces the checkpoint folder: make sure it may, before the fit
        check_replaceable(args.out, inputs=[args.path])
    steps = args.steps if args.steps is not None else defaults["steps"]
    train = TrainConfig(steps=steps, lr=args.lr, lr_final=args.lr_final, batch_size=args.batch_size,
                        eval_every=args.eval_every, seed=args.seed, device=args.device, progress=not args.quiet,
                        checkpoint_every=args.checkpoint_every,
                        precision=getattr(args, "precision", "fp32"), compile=getattr(args, "compile", False))
    schedule = ScheduleConfig(
        kind=args.schedule, warmup=args.warmup, cycles=args.cycles, twd_length=args.twd_length,
        cycle_gap=args.cycle_gap, alpha_max=args.alpha_max, epsilon=args.epsilon, target_params=args.target_params,
        prune_fraction=args.prune_fraction, prune_layers=args.prune_layers, densify_k=args.densify_k,
        densify_fraction=args.densify_fraction, lr_rewind=args.lr_rewind, compensate=args.compensate,
        criterion=args.criterion, policy=args.policy)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {args.device}: no CUDA device is available")
    if args.size is not None and args.size < 2:
        raise InputError(f"--size must be at least 2 pixels, got {args.size}")
    signal_settings = {**defaults.get("signal_settings", {}), **parse_settings(getattr(args, "signal_settings", None))}
    if args.size is not None:
        signal_settings["size"] = args.size
    signal = create("signal", args.signal, args.path, **signal_settings)
    criterion = create("criterion", schedule.criterion)
    policy = create("policy", schedule.policy)
    omega0 = args.omega0 if args.omega0 is not None else defaults["omega0"]
    network = aire.build_network(signal, args.hidden or defaults["hidden"], omega0=omega0,
                                 omega0_hidden=args.omega0_hidden, network=args.network, encoding=args.encoding,
                                 seed=args.seed)
    backend = aire.get_backend(args.backend)
    cli_args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    result = aire.fit(signal, network, train=train, schedule=schedule, criterion=criterion, policy=policy,
                      backend=backend, resume=resume_state,
                      checkpoint_dir=args.out if args.checkpoint_every else None,
                      checkpoint_extra={"cli_args": cli_args})
    settings = {"command": "fit", "signal": args.signal, "path": str(args.path), "preset": getattr(args, "preset", None),
                "signal_settings": signal_settings,
                "network": {"widths": list(args.hidden or defaults["hidden"]), "omega0": omega0,
                            "omega0_hidden": args.omega0_hidden or omega0, "network": args.network,
                            "encoding": args.encoding, "backend": backend.name},
                "train": to_dict(train), "schedule": to_dict(schedule)}
    # with checkpoints the folder holds only our checkpoint (it was checked to be new at the start)
    out = aire.save_run(result, signal, args.out, overwrite=args.overwrite or bool(args.checkpoint_every),
                        settings=settings, extra_files=extra_files)
    m = result.metrics
    if m.get("diverged"):
        print(f"aire: warning: training diverged; stopped at step {m['steps_completed']} with the last good model",
              file=sys.stderr)
    quality = "  ".join(f"{k} {m[k]:.4g}" for k in ("psnr", "chamfer_l1", "iou_grid", "psnr_test")
                        if isinstance(m.get(k), (int, float)))
    print(f"{quality}  params {m['params_initial']} -> {m['params_final']} "
          f"({100 * m['params_final'] / m['params_initial']:.0f} %)  {m['architecture_initial']} -> "
          f"{m['architecture_final']}  {m['seconds']:.1f} s")
    print(f"report: {out / 'metrics.json'}  (model {out / 'model.safetensors'}, plot {out / 'training.png'})")
    return 0


def cmd_make_scene(args: argparse.Namespace) -> int:
    from aire.scenes.make_scene import make_scene

    out = make_scene(args.mesh, args.out, views=args.views, size=args.size, val_views=args.val_views,
                     test_views=args.test_views, supersample=args.supersample, seed=args.seed,
                     overwrite=args.overwrite)
    print(f"scene: {out} ({args.views} train, {args.val_views} val, {args.test_views} test views of "
          f"{args.size}x{args.size}); fit it with `aire fit nerf {out} --out DIR`")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from aire.plugins import get_registry

    rows = get_registry().report()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = ("name", "kind", "distribution", "status")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        line = "  ".join(str(r[c]).ljust(widths[c]) for c in cols)
        print(line + (f"  {r['error']}" if r["error"] else ""))
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
        return cmd_fit(fit_args, extra_files={"input.png": image})


def cmd_verify(args: argparse.Namespace) -> int:
    """Run the theorem checks; with a model, also print Theorem 2's bound, the tight one and the observed change."""
    import torch

    import aire
    from aire.theory.verify import bound_rows, format_bounds, format_checks, run_checks

    if args.budget < 0:
        raise InputError(f"--budget must be >= 0 seconds, got {args.budget}")
    torch.set_num_threads(1)  # small tensors: as fast as two threads when idle, 4x faster on a busy machine (measured)
    model = aire.load(args.model) if args.model is not None else None
    results = run_checks(model, seed=args.seed)
    print(format_checks(results))
    rows = bound_rows(model, seed=args.seed, budget=args.budget) if model is not None else []
    if rows:
        print("\n" + format_bounds(rows))
    failed = [r.name for r in [*results, *rows] if not r.passed]
    print(f"{len(results) + len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_spectrum(args: argparse.Namespace) -> int:
    import aire
    from aire.io import CONFIG_FILE, MODEL_FILE, run_inputs
    from aire.theory.spectrum import network_spectrum, plot_spectrum

    if args.resolution is not None and args.resolution < 8:
        raise InputError(f"--resolution must be at least 8, got {args.resolution}")
    if args.top < 1:
        raise InputError(f"--top must be at least 1, got {args.top}")
    run_dir = args.model.parent if args.model.suffix else args.model
    out = args.out or run_dir / "spectrum.png"
    # the default file inside a folder aire wrote is aire's own; anything else needs --overwrite
    overwrite = args.overwrite or (args.out is None and is_aire_folder(run_dir))
    check_out_file(out, overwrite, inputs=[*run_inputs(run_dir), run_dir / MODEL_FILE, run_dir / CONFIG_FILE])
    net = aire.load(args.model)
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


def cmd_fit_many(args: argparse.Namespace) -> int:
    from aire.many.command import cmd_fit_many as run

    return run(args)


def cmd_export_mesh(args: argparse.Namespace) -> int:
    """Grid evaluation (chunked), marching cubes, back to the original frame, written atomically."""
    import trimesh

    import aire
    from aire.geometry.extract import extract_mesh
    from aire.geometry.mesh_io import MESH_SUFFIXES, write_mesh_atomic
    from aire.io import run_inputs
    from aire.signals.sdf import read_frame

    if not 8 <= args.resolution <= 2048:
        raise InputError(f"--resolution must be in [8, 2048], got {args.resolution}")
    if args.out.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(f"--out {args.out}: use one of {', '.join(MESH_SUFFIXES)}")
    run_dir = args.model.parent if args.model.suffix else args.model
    check_out_file(args.out, args.overwrite, inputs=run_inputs(run_dir))
    net = aire.load(args.model, device=args.device)
    in_features = net.weights[0].shape[1]
    if net.widths()[-1] != 1 or in_features != 3:
        raise InputError(f"{args.model} is not an SDF model (3 inputs, 1 output); it maps {in_features} -> {net.widths()[-1]}")
    frame = None if args.normalised else read_frame(run_dir)
    if frame is None and not args.normalised:
        print(f"aire: warning: no signal.json in {run_dir}; writing the mesh in the normalised frame", file=sys.stderr)
    mesh = extract_mesh(net, args.resolution, progress=not args.quiet)
    if len(mesh.faces) == 0:
        raise InputError(f"the model's zero level set does not cross the {args.resolution}^3 grid: no surface to export")
    if frame is not None:
        mesh = trimesh.Trimesh(frame.to_original(mesh.vertices), mesh.faces, process=False)
    write_mesh_atomic(mesh, args.out)
    print(f"mesh: {args.out}  ({len(mesh.vertices)} vertices, {len(mesh.faces)} faces, "
          f"{'watertight' if mesh.is_watertight else 'not watertight'}, "
          f"{'normalised' if frame is None else 'original'} frame)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """`python -m benchmarks ...` of the source checkout this package was imported from."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").is_file():
        raise InputError("aire bench needs a source checkout (benchmarks/ next to the aire package); "
                         "run it from a git clone, or use `python -m benchmarks` there")
    sys.path.insert(0, str(root))
    from benchmarks.__main__ import main as bench_main

    return bench_main(args.bench_args)


COMMANDS = {"export-mesh": cmd_export_mesh, "fit": cmd_fit, "fit-many": cmd_fit_many, "make-scene": cmd_make_scene, "bench": cmd_bench, "plugins": cmd_plugins, "demo": cmd_demo, "verify": cmd_verify, "spectrum": cmd_spectrum}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after `bench` belongs to the benchmarks' own parser
        try:
            return cmd_bench(argparse.Namespace(bench_args=argv[1:]))
        except InputError as exc:
            print(f"aire: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return int(exc.code or 0)
    warnings.formatwarning = lambda message, category, *_a, **_k: f"aire: warning: {message}\n"
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # libraries' notices are not the user's business
    try:
        return COMMANDS[args.command](args)
    except (InputError, ConfigError, UnknownComponentError, PluginError, FileNotFoundError, ValueError, TypeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"aire: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `aire plugins | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        if out is not None and (Path(out) / "checkpoint.pt").exists():
            print(f"aire: interrupted; resume with `aire fit --resume {out}`", file=sys.stderr)
        else:
            print("aire: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
