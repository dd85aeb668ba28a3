"""Plots a person would rather look at than read: quality, loss and parameter count over steps, and an
image fit beside its input with the error between them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aire.figures import new_figure, save_figure

#: axis labels of quality keys, with their units
QUALITY_LABELS = {"psnr": "PSNR (dB)", "psnr_test": "test-view PSNR (dB)", "ssim": "SSIM", "chamfer": "Chamfer distance", "iou": "IoU"}
#: event -> (colour, legend label) of the vertical lines the training plot draws at structural changes
EVENT_STYLES = {"prune": ("tab:red", "prune"), "densify": ("tab:purple", "densify")}
#: a small image is shown enlarged (nearest neighbour) to at least this many pixels on its shorter side
MIN_PICTURE_SIDE = 256
#: a large one is shown at most this many pixels on its longer side
MAX_PICTURE_SIDE = 512


def quality_label(key: str) -> str:
    """The axis label of a quality key: ``psnr`` -> ``PSNR (dB)``; unknown keys as they are."""
    return QUALITY_LABELS.get(key, key)


def _marker(points: int) -> str | None:
    """Dots on a curve of few evaluations (a short fit's line of two points, or a lone point that a line
    alone would not show at all); none on a dense one."""
    return "o" if points < 12 else None


def training_figure(history: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]],
                    quality_key: str = "psnr", title: str = "", target: float | None = None) -> Any:
    """The matplotlib Figure of `plot_training`: quality and loss (top; one legend for both axes, the events
    included) and parameter count (bottom) against the step, prune/densify marked by vertical lines."""
    from matplotlib.lines import Line2D

    steps = [h["step"] for h in history]
    fig, (ax_q, ax_p) = new_figure(2, 1, figsize=(7, 6), sharex=True)
    handles: list[Any] = []
    if any(quality_key in h for h in history):
        quality = [h.get(quality_key) for h in history]
        handles += ax_q.plot(steps, quality, color="tab:blue", label=quality_label(quality_key),
                             marker=_marker(sum(q is not None for q in quality)), ms=4)
        ax_q.set_ylabel(quality_label(quality_key))
    if target is not None:
        handles.append(ax_q.axhline(target, color="tab:orange", ls="--", lw=1, label=f"target {target:g}"))
    loss_rows = [(h["step"], h["loss"]) for h in history if h.get("loss")]
    if loss_rows:
        ax_l = ax_q.twinx()
        handles += ax_l.semilogy(*zip(*loss_rows), color="tab:gray", alpha=0.6, label="loss (right axis)",
                                 marker=_marker(len(loss_rows)), ms=4)
        ax_l.set_ylabel("training loss")
    # the count changes only at events, recorded in the order they happened
    counts = [(history[0]["step"], history[0]["params"])]
    counts += [(e["step"], e["params"]) for e in events if e["event"] in ("prune", "densify", "rollback")]
    counts.append((history[-1]["step"], history[-1]["params"]))
    ax_p.step([s for s, _ in counts], [p for _, p in counts], where="post", color="tab:green")
    ax_p.set_ylabel("parameters")
    ax_p.set_xlabel("step")
    for name, (color, label) in EVENT_STYLES.items():
        marked = [e["step"] for e in events if e["event"] == name]
        for step in marked:
            for ax in (ax_q, ax_p):
                ax.axvline(step, color=color, alpha=0.75, lw=1.5, ls=":")
        if marked:
            handles.append(Line2D([], [], color=color, alpha=0.75, lw=1.5, ls=":", label=label))
    if handles:
        ax_q.legend(handles=handles, fontsize=8, loc="best")
    ax_q.set_title(title or "training")
    return fig


def plot_training(history: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]], path: str | Path,
                  quality_key: str = "psnr", title: str = "", target: float | None = None) -> Path:
    """Write `training_figure` to `path` (training.png of every run); `target` (a quality target) is drawn
    as a dashed line."""
    return save_figure(training_figure(history, events, quality_key, title, target), path, dpi=110)


def display_scale(height: int, width: int) -> float:
    """Screen pixels per image pixel of a picture panel: an integer >= 1 that brings the shorter side to at
    least MIN_PICTURE_SIDE (nearest neighbour, so pixels stay visible squares), or < 1 for images whose
    longer side is over MAX_PICTURE_SIDE."""
    if min(height, width) < MIN_PICTURE_SIDE:
        return float(math.ceil(MIN_PICTURE_SIDE / min(height, width)))
    return min(1.0, MAX_PICTURE_SIDE / max(height, width))


def comparison_figure(target: np.ndarray, prediction: np.ndarray, dpi: int = 100) -> Any:
    """Input | fit | absolute error of an image fit, as a matplotlib Figure sized so each panel is
    `display_scale` screen pixels per image pixel (nearest neighbour) at `dpi`.

    `target`, `prediction`: (H, W, C) arrays in [0, 1] (C = 1 or 3). The error panel is
    |prediction - target| averaged over the channels, on the same [0, 1] intensity scale (a colour bar,
    from 0 to its largest value)."""
    target, prediction = np.asarray(target, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    if target.shape != prediction.shape or target.ndim != 3:
        raise ValueError(f"target and prediction must be the same (H, W, C) shape, got {target.shape}, {prediction.shape}")
    height, width, channels = target.shape
    scale = display_scale(height, width)
    panel_w, panel_h = width * scale / dpi, height * scale / dpi
    fig, axes = new_figure(1, 3, figsize=(3 * panel_w + 1.6, panel_h + 0.7))
    error = np.abs(prediction - target).mean(axis=2)
    show = (lambda a: a[:, :, 0]) if channels == 1 else (lambda a: a)
    kwargs = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0} if channels == 1 else {}
    axes[0].imshow(show(np.clip(target, 0, 1)), interpolation="nearest", **kwargs)
    axes[0].set_title(f"input ({width} x {height} px)", fontsize=9)
    axes[1].imshow(show(np.clip(prediction, 0, 1)), interpolation="nearest", **kwargs)
    axes[1].set_title("fit", fontsize=9)
    shown = axes[2].imshow(error, interpolation="nearest", cmap="magma", vmin=0.0, vmax=max(float(error.max()), 1e-6))
    axes[2].set_title("|fit - input|", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes[2], shrink=0.9, label="absolute error (intensity, 0-1 scale)")
    return fig


def plot_comparison(target: np.ndarray, prediction: np.ndarray, path: str | Path) -> Path:
    """Write `comparison_figure` to `path` (comparison.png of an image run)."""
    return save_figure(comparison_figure(target, prediction, dpi=100), path, dpi=100)
