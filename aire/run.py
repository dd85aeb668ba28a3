"""Run a fit specification end to end: build the parts, fit, write the run folder.

`aire fit`, `aire fit --config`, `aire fit --resume` and every `fit-many` job go through
`run_spec`, so they build signals, networks and components in exactly one way.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import attrs

from aire.errors import InputError
from aire.spec import FitSpec

#: the file a run folder holds its resolved specification in
CONFIG_FILE = "config.json"


def fingerprint(path: str | Path) -> str:
    """sha256 of an input's content: a file's bytes, or every non-hidden file of a folder (relative
    path and bytes, in sorted order). Recorded in checkpoints so a resume can tell a changed input."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    for file in files:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _check(kind: str, name: str, settings: dict[str, Any], reserved: tuple[str, ...] = ()) -> None:
    """Settings of a component checked by name and type (aire.settings) before anything is built; an
    unknown component name is left to `create`, which suggests close names."""
    from aire.plugins import get_registry
    from aire.settings import check_settings

    component = get_registry().find(kind, name)  # None when unknown; an ambiguous name raises here
    if component is not None:
        check_settings(f"{kind} {name!r}", component.factory, settings, reserved=reserved)


def check_spec(spec: FitSpec) -> None:
    """Everything about `spec` that can be checked without reading data: the device, the input's
    existence, every component's settings by name and type. One-line InputError otherwise."""
    from aire.devices import resolve_device

    resolve_device(spec.train.device)
    if not Path(spec.path).exists():
        raise InputError(f"input not found: {spec.path}")
    net, comps = spec.network, spec.components
    if net.start and not Path(str(net.start.get("model", ""))).exists():
        raise InputError(f"model to start from not found: {net.start.get('model')}")
    _check("criterion", spec.schedule.criterion, comps.criterion_settings)
    _check("policy", spec.schedule.policy, comps.policy_settings)
    _check("encoding", net.encoding, net.encoding_settings)
    _check("backend", comps.backend, comps.backend_settings)
    from aire.settings import RESERVED

    _check("signal", spec.signal, spec.signal_settings, reserved=RESERVED["signal"])
    _check("schedule", spec.schedule.kind, spec.schedule.settings, reserved=RESERVED["schedule"])


def build_parts(spec: FitSpec) -> dict[str, Any]:
    """The signal, network, criterion, policy and backend of `spec`; every setting is checked before
    the first (possibly slow) component is built."""
    import aire
    from aire.plugins import create

    check_spec(spec)
    net, comps = spec.network, spec.components
    criterion = create("criterion", spec.schedule.criterion, **comps.criterion_settings)
    policy = create("policy", spec.schedule.policy, **comps.policy_settings)
    backend = aire.get_backend(comps.backend, **comps.backend_settings)
    signal = create("signal", spec.signal, spec.path, **spec.signal_settings)
    if net.start:
        network = start_network(spec, signal)
    else:
        network = aire.build_network(signal, net.widths, omega0=net.omega0, omega0_hidden=net.omega0_hidden,
                                     network=net.network, encoding=net.encoding, seed=spec.train.seed,
                                     **net.encoding_settings)
    return {"signal": signal, "network": network, "criterion": criterion, "policy": policy, "backend": backend}


def start_network(spec: FitSpec, signal: Any) -> Any:
    """The trained network `spec.network.start` names (aire.nn.importers.load_start), after checking
    that it maps the signal's inputs to its outputs (one-line InputError otherwise)."""
    from aire.nn.importers import load_start

    start = dict(spec.network.start)
    model = start.pop("model", None)
    if not model:
        raise InputError("network.start needs a model path")
    network, _ = load_start(model, start.get("layout"), omega0=start.get("omega0"),
                            omega0_hidden=start.get("omega0_hidden"))
    n_in, n_out = int(network.weights[0].shape[1]), int(network.weights[-1].shape[0])
    if (n_in, n_out) != (signal.in_features, signal.out_features):
        raise InputError(f"{model} maps {n_in} inputs to {n_out} outputs, but the {spec.signal} signal "
                         f"{spec.path} needs {signal.in_features} -> {signal.out_features}")
    arch, net = network.architecture(), spec.network
    declared = (list(net.widths), net.omega0, net.omega0 if net.omega0_hidden is None else net.omega0_hidden)
    if (arch["widths"], arch["omega0_first"], arch["omega0_hidden"], arch["network"]) != (*declared, net.network):
        raise InputError(f"{model} is a {arch['network']} network with widths {arch['widths']} and omega_0 "
                         f"{arch['omega0_first']:g}/{arch['omega0_hidden']:g}, but the specification says "
                         f"{net.network} {declared[0]} {declared[1]:g}/{declared[2]:g}; `aire compress` takes "
                         "them from the model")
    return network


def run_spec(spec: FitSpec, out: str | Path, *, overwrite: bool = False, resume: dict[str, Any] | None = None,
             extra_files: dict[str, Path] | None = None, say: Callable[[str], None] | None = None,
             input_as: str | Path | None = None) -> tuple[Path, Any]:
    """Fit `spec` into the run folder `out`; returns (out, FitResult).

    `input_as`: the path config.json and metrics.json name as the input instead of `spec.path` (a copy of a
    temporary input kept in the run folder through `extra_files`, so the outputs never name a deleted file).

    `resume` is a checkpoint state (aire.train.state.load_checkpoint) of this same spec. `out`'s
    one-writer lock (aire.lock) is held from the first check to the final swap, checkpoints included,
    so a second writer of `out` is refused in one line naming this one. The folder gets config.json
    (the resolved spec; `aire fit --config` replays it) besides the usual outputs.

    Live logs (history.jsonl, tensorboard/) are written as the fit goes into the sibling folder `<out>.live`
    (aire.loggers.live_dir) and moved into `out` with the rest at the end; an unfinished fit leaves them there.
    """
    import aire
    from aire.atomic import one_writer
    from aire.status import reporting

    # seconds_total counts this command from here, plus the fitting time of earlier processes when resumed
    started = time.perf_counter() - (float(resume.get("elapsed", 0.0)) if resume is not None else 0.0)
    out = Path(out)
    # the inputs a replace must never delete: the signal's file and the trained network a fit starts from
    inputs = [p for p in (spec.path, spec.network.start.get("model")) if p is not None]
    if resume is None:
        aire.check_out_dir(out, overwrite, inputs=inputs)  # before taking the lock: a refusal writes nothing
    if "tensorboard" in spec.train.log:  # refuse a missing extra before minutes of sampling, not after
        from aire.loggers.tensorboard import summary_writer_class

        summary_writer_class()
    with one_writer(out):  # one writer for the whole fit: checkpoints and the final swap included
        if resume is None:
            aire.check_out_dir(out, overwrite, inputs=inputs)  # again: a killed swap may just have been completed
        else:  # the finished run replaces the checkpoint folder: make sure it may, before the fit
            from aire.atomic import check_replaceable

            check_replaceable(out, inputs=inputs)
        with reporting(spec.train.progress):
            return _run(spec, out, overwrite, resume, extra_files, say, input_as, started)


def _run(spec: FitSpec, out: Path, overwrite: bool, resume: dict[str, Any] | None,
         extra_files: dict[str, Path] | None, say: Callable[[str], None] | None, input_as: str | Path | None,
         started: float) -> tuple[Path, Any]:
    import aire
    from aire.loggers import live_dir, prepare_live_dir

    parts = build_parts(spec)
    checkpoint_extra = {"spec": spec.to_dict(), "input": {"path": str(Path(spec.path).resolve()),
                                                          "sha256": fingerprint(spec.path)}}
    fresh = [p for p in out.absolute().parents if not p.exists()]  # folders this run will create
    logs = live_dir(out)
    try:
        from aire.atomic import write_errors

        with write_errors(out, places=[logs]):  # a full disk here names the run folder, like every writer
            logs = prepare_live_dir(logs, resume=resume is not None)
        if say is not None and spec.train.progress:
            say(f"live log: {logs / 'history.jsonl'}" + (f" and {logs / 'tensorboard'}" if spec.train.log else "")
                + f" (moved into {out} at the end)")
        result = aire.fit(parts["signal"], parts["network"], train=spec.train, schedule=spec.schedule,
                          criterion=parts["criterion"], policy=parts["policy"], backend=parts["backend"],
                          resume=resume, checkpoint_dir=out if spec.train.checkpoint_every else None,
                          checkpoint_extra=checkpoint_extra, log_dir=logs)
        config = spec.to_dict()
        if input_as is not None:
            config["path"] = str(Path(input_as).resolve())
        # with checkpoints the folder holds only our own checkpoint (it was checked to be new at the start)
        aire.save_run(result, parts["signal"], out,
                      overwrite=overwrite or bool(spec.train.checkpoint_every) or resume is not None,
                      settings=config, extra_files=extra_files, config=config, input_as=input_as,
                      started=started, live=logs, export_precision=spec.train.export_precision)
    except Exception:
        # a fit that failed (a full disk, bad data) leaves nothing behind, unless a checkpoint is kept
        # for a resume, which continues its live log; an interrupt or a kill leaves the log to read
        from aire.train.state import CHECKPOINT_FILE

        if not (out / CHECKPOINT_FILE).is_file():
            shutil.rmtree(logs, ignore_errors=True)
            for folder in fresh:  # deepest first; one that holds anything now stays
                try:
                    folder.rmdir()
                except OSError:
                    break
        raise
    m = result.metrics
    if m.get("diverged") and say is not None:
        say(f"aire: warning: training diverged; stopped at step {m['steps_completed']} with the last good model")
    return out, result


def spec_of_checkpoint(state: dict[str, Any], where: Path) -> FitSpec:
    """The specification a checkpoint was written with, after checking that its input is unchanged."""
    extra = state.get("extra", {})
    saved = extra.get("spec")
    if not isinstance(saved, dict):
        raise InputError(f"checkpoint in {where} was not written by `aire fit` of this version; "
                         "resume it with aire.fit(resume=...)")
    spec = FitSpec.from_dict(saved, where=f"{where}/checkpoint.pt")
    recorded = extra.get("input", {})
    path = Path(recorded.get("path", spec.path))
    if not path.exists():
        raise InputError(f"cannot resume {where}: its input {path} is gone")
    if recorded.get("sha256") and fingerprint(path) != recorded["sha256"]:
        raise InputError(f"cannot resume {where}: its input {path} changed since the checkpoint; "
                         "start a new fit instead")
    return attrs.evolve(spec, path=str(path))


def summary_line(result: Any, schedule: str | None = None) -> str:
    """The one-line result `aire fit` prints: quality, parameters, architecture, `schedule` (the kind that
    ran, ``spec.schedule.kind``: ``auto`` is already resolved to aire-cubic or aire there), time."""
    m = result.metrics
    quality = "  ".join(f"{k} {m[k]:.4g}" for k in ("psnr", "chamfer_l1", "iou_grid", "psnr_test")
                        if isinstance(m.get(k), (int, float)))
    kind = schedule
    return (f"{quality}  params {m['params_initial']} -> {m['params_final']} "
            f"({100 * m['params_final'] / m['params_initial']:.0f} %)  {m['architecture_initial']} -> "
            f"{m['architecture_final']}" + (f"  schedule {kind}" if kind else "") + f"  {m['seconds']:.1f} s"
            + (f" fitting, {m['seconds_total']:.1f} s in all" if isinstance(m.get("seconds_total"), (int, float)) else ""))



#: the pictures a run folder may hold, in the order the report line names them
REPORT_PICTURES = ("training.png", "comparison.png", "distance.png", "test_views.png")


def report_line(out: str | Path) -> str:
    """The `report:` line `aire fit` and `aire compress` print: metrics.json, then the model, every picture
    the run folder holds (training.png always; comparison.png, distance.png ... by signal) and config.json."""
    out = Path(out)
    plots = ", ".join(str(out / name) for name in REPORT_PICTURES if (out / name).is_file())
    page = f", page {out / 'report.html'}" if (out / "report.html").is_file() else ""
    return (f"report: {out / 'metrics.json'}  (model {out / 'model.safetensors'}"
            + (f", plot {plots}" if plots else "") + f", config {out / 'config.json'}{page})")
