"""Helpers the suites share: images of the standard data, one fit as a result row."""

from __future__ import annotations

import warnings
from typing import Any

import torch

import aire
from aire.signals.image import ImageSignal
from benchmarks.suite import data_root


def div2k(count: int, size: int | None) -> list[tuple[str, ImageSignal]]:
    """The first `count` DIV2K images of the data folder (00.png, 01.png, ...), resized to `size`."""
    folder = data_root() / "div2k"
    files = sorted(folder.glob("*.png"))[:count]
    if len(files) < count:
        raise SystemExit(f"benchmarks: error: need {count} images in {folder}, found {len(files)} "
                         "(set AIRE_DATA to the folder holding div2k/)")
    return [(f.name, ImageSignal(f, size=size)) for f in files]


def sweep_schedule(settings: dict[str, Any]) -> aire.ScheduleConfig:
    """The ScheduleConfig of a sweep's variant: settings that name the paper's cycle options (warmup, cycles,
    twd_length, cycle_gap) and no kind measure the ``aire`` schedule they belong to; others get the default
    (``aire-cubic`` under a budget, see aire.config.default_kind)."""
    from aire.config import CYCLE_OPTIONS

    if "kind" not in settings and CYCLE_OPTIONS.keys() & settings.keys():
        settings = {"kind": "aire", **settings}
    return aire.ScheduleConfig(**settings)


def fit_row(signal: ImageSignal, widths: list[int], schedule: aire.ScheduleConfig, *, steps: int, device: str,
            precision: str = "fp32", network: str = "siren", omega0: float = 30.0, seed: int = 0,
            eval_every: int = 100, lr: float = 5e-4, lr_final: float = 5e-5) -> dict[str, Any]:
    """Fit and return PSNR, parameters, architecture, seconds and the PSNR history."""
    net = aire.build_network(signal, widths, omega0=omega0, network=network, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aire.fit(signal, net, steps=steps, lr=lr, lr_final=lr_final, seed=seed, eval_every=eval_every,
                          progress=False, device=device, precision=precision, schedule=schedule)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    m = result.metrics
    return {"psnr": round(m["psnr"], 3), "params": m["params_final"], "params_initial": m["params_initial"],
            "architecture": m["architecture_final"], "seconds": round(m["seconds"], 2),
            "history": [(h["step"], round(h["psnr"], 3), round(h["seconds"], 2), h["params"]) for h in result.history]}
