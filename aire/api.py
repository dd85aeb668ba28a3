"""The Python API: build the parts (signal, network, criterion, policy, backend) and fit.

    import aire
    signal = aire.create("signal", "image", "photo.png")
    net = aire.build_network(signal, widths=[96, 96, 96, 96])
    result = aire.fit(signal, net, steps=2000, schedule=aire.ScheduleConfig(target_params=0.5))
    aire.save_run(result, signal, "runs/photo")
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from aire.backends import get_backend
from aire.atomic import atomic_folder, check_out_dir
from aire.config import ConfigError, NetworkConfig, ScheduleConfig, TrainConfig, to_dict
from aire.errors import InputError
from aire.interfaces import Backend, DensificationPolicy, PruningCriterion, Signal, join_metrics
from aire.io import jsonable as _jsonable
from aire.io import save_model
from aire.loggers import move_live_logs, remove_live_dir
from aire.nn.factory import network_from_config
from aire.nn.sine_mlp import SineMLP
from aire.plugins import create, get_registry
from aire.report import plot_training
from aire.train.trainer import FitResult, Trainer


def build_network(signal: Signal, widths: Sequence[int], *, omega0: float = 30.0, omega0_hidden: float | None = None,
                  network: str = "siren", encoding: str = "siren", seed: int = 0,
                  first_bias_scale: float | None = None, **encoding_settings: Any) -> SineMLP:
    """A network plugin instance sized for `signal` (sine-layer widths, input frequencies first),
    initialised from its own generator seeded by `seed` (torch's global RNG is left alone)."""
    config = NetworkConfig(in_features=signal.in_features, out_features=signal.out_features, widths=tuple(widths),
                           omega0_first=omega0, omega0_hidden=omega0 if omega0_hidden is None else omega0_hidden,
                           network=network, encoding=encoding, first_bias_scale=first_bias_scale)
    return network_from_config(config, seed=seed, **encoding_settings)


def fit(signal: Signal, network: SineMLP, *, train: TrainConfig | None = None, schedule: ScheduleConfig | None = None,
        criterion: PruningCriterion | str | None = None, policy: DensificationPolicy | str | None = None,
        backend: Backend | str | None = None, resume: dict[str, Any] | None = None,
        checkpoint_dir: str | Path | None = None, checkpoint_extra: dict[str, Any] | None = None,
        log_dir: str | Path | None = None, **train_settings: Any) -> FitResult:
    """Fit `network` to `signal` with the AIRe schedule (or `ScheduleConfig(kind='none')`).

    `resume` is a state from `aire.train.state.load_checkpoint(DIR)`; with `checkpoint_dir` and
    `train.checkpoint_every`, checkpoints are written there as the fit goes. Random draws come from
    the trainer's generators seeded by `train.seed` (torch's global RNG is left alone), so one seed
    gives one result on the CPU. With `log_dir`, event plugins write live logs there as the fit goes
    (history.jsonl; tensorboard/ with ``train.log=("tensorboard",)``).
    """
    train = train or TrainConfig(**train_settings)
    schedule = schedule or ScheduleConfig()
    if isinstance(criterion, str):
        criterion = create("criterion", criterion)
    if isinstance(policy, str):
        policy = create("policy", policy)
    if isinstance(backend, str):
        backend = get_backend(backend)
    device = torch.device(train.device)
    signal.to(device)
    network.to(device)
    trainer = Trainer(signal, network, train, schedule, criterion=criterion, policy=policy, backend=backend)
    return trainer.fit(resume=resume, checkpoint_dir=checkpoint_dir, checkpoint_extra=checkpoint_extra,
                       log_dir=log_dir)


def save_run(result: FitResult, signal: Signal, out: str | Path, *, overwrite: bool = False,
             settings: dict[str, Any] | None = None, extra_files: dict[str, Path] | None = None,
             config: dict[str, Any] | None = None, input_as: str | Path | None = None,
             started: float | None = None, live: str | Path | None = None,
             export_precision: str | None = None) -> Path:
    """Write metrics.json, the model, the signal's exports and training.png into `out`, atomically.

    `input_as` is the path metrics.json names as the signal's input instead of the file the fit read (the demo
    fits a temporary file and keeps its copy, an `extra_files` entry, in the run folder).
    `started` is the time.perf_counter() at which the command began (less the fitting time of earlier
    processes, when resumed): metrics.json (and ``result.metrics``) then get ``seconds_total``, the wall-clock
    seconds of loading, fitting, final metrics and exports, beside ``seconds_fit`` (the fitting loop alone).
    `live` is the fit's live-log folder (``aire.fit(log_dir=...)``): its files (history.jsonl, tensorboard/)
    join the run folder, and it is removed once the run folder is in place.

    Everything is written to a temporary sibling folder first and renamed into place at the end,
    so an error never leaves a half-written run behind. An existing `out` is replaced only with
    `overwrite`, and only when aire wrote it and it holds none of the signal's inputs
    (`aire.atomic.check_replaceable`); otherwise InputError is raised before anything is deleted.
    `export_precision` (fp16, bf16, int8) adds a compact copy of the model, whose quality and size go
    into metrics.json under "export" (`compact_export`).
    """
    out = Path(out)
    inputs = [*signal.sources(), *(extra_files or {}).values()]
    check_out_dir(out, overwrite, inputs)
    with atomic_folder(out, kind="run", overwrite=overwrite, inputs=inputs) as tmp:
        model = result.fitted  # the network itself, or a model holding it (NeRF's field + colour head)
        model.eval()
        save_model(model, tmp)
        signal.export(model, tmp)
        quality = getattr(signal, "quality_key", "psnr")
        aim = result.metrics.get("target") or {}
        target = aim.get("value") if aim.get("metric") == quality else None  # a quality target's line, on its axis
        plot_training(result.history, result.events, tmp / "training.png", quality_key=quality, target=target)
        history = {"history": result.history, "events": result.events}
        (tmp / "history.json").write_text(json.dumps(_jsonable(history), indent=1, allow_nan=False))
        if config is not None:  # the resolved fit specification: `aire fit --config` replays it
            (tmp / "config.json").write_text(json.dumps(_jsonable(config), indent=2, allow_nan=False) + "\n")
        for name, source in (extra_files or {}).items():
            shutil.copyfile(source, tmp / name)
        if live is not None:
            move_live_logs(Path(live), tmp)
        described = signal.describe()
        if input_as is not None:
            described = {**described, "path": str(Path(input_as).resolve())}
        if started is not None:  # measured here, after the exports: everything but writing metrics.json
            result.metrics["seconds_total"] = time.perf_counter() - started
        from aire.environment import environment

        metrics = {**result.metrics, "signal": described, "settings": settings or {},
                   "environment": environment(result.network.weights[0].device)}
        if export_precision is not None:
            metrics["export"] = compact_export(model, signal, tmp, export_precision)
        write_run_report(tmp, out.name, metrics, config, history, model, signal)
        # last: a folder with metrics.json is a finished run (fit-many's test), even the temporary one
        (tmp / "metrics.json").write_text(json.dumps(_jsonable(metrics), indent=2, allow_nan=False))
    if live is not None:
        remove_live_dir(Path(live))
    return out


def write_run_report(folder: Path, name: str, metrics: dict[str, Any], config: dict[str, Any] | None,
                     history: dict[str, Any], model: torch.nn.Module, signal: Signal) -> None:
    """report.html (aire.html_report) into the run folder being written. A report that fails does not
    fail the fit it describes: one warning says so and how to retry (`aire report RUN`)."""
    import warnings

    from aire.html_report import write_report
    from aire.status import phase

    try:
        with phase("report.html: pictures and tables"):
            write_report(folder, metrics=_jsonable(metrics), config=config or metrics.get("settings") or {},
                         history=_jsonable(history), model=model, signal=signal, name=name)
    except InputError:  # a full disk: the run folder cannot be written either
        raise
    except Exception as exc:  # noqa: BLE001 - the fit is done; its report is a convenience
        warnings.warn(f"report.html not written ({type(exc).__name__}: {exc}); `aire report RUN` writes it "
                      "later", stacklevel=2)


def compact_export(model: torch.nn.Module, signal: Signal, out_dir: Path, precision: str) -> dict[str, Any]:
    """Write model.<precision>.safetensors beside model.safetensors and measure it (`model`: the fitted
    network, or the whole model around it, e.g. NeRF's field + colour head): the signal's
    metrics of the dequantised copy (evaluate + final_metrics: PSNR, Chamfer, ...), its size in bytes,
    and for signals with a pixel grid (height x width) its bits per pixel."""
    from aire.io import FORMAT_VERSION, MODEL_FILE, load
    from aire.quantize import save_quantized

    path = save_quantized(model, out_dir, precision, format_version=FORMAT_VERSION)
    device = next(model.parameters()).device
    copy = load(path, device=str(device))
    with torch.no_grad():
        quality = {**signal.evaluate(copy), **signal.final_metrics(copy)}
    size = path.stat().st_size
    described = signal.describe()
    pixels = described.get("height", 0) * described.get("width", 0) if isinstance(described, dict) else 0
    export = {"precision": precision, "file": path.name, "bytes": size,
              "bytes_fp32": (out_dir / MODEL_FILE).stat().st_size,
              "bits_per_pixel": 8 * size / pixels if pixels else None}
    return join_metrics(signal, quality, export, "the compact export's own fields")


__all__ = ["build_network", "fit", "get_backend", "save_run", "check_out_dir", "NetworkConfig", "ScheduleConfig",
           "TrainConfig", "ConfigError", "get_registry", "to_dict"]
