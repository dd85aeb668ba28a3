"""Plots a person would rather look at than read: quality, loss and parameter count over steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from aire.figures import new_figure, save_figure


def plot_training(history: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]], path: str | Path,
                  quality_key: str = "psnr", title: str = "", target: float | None = None) -> Path:
    """Quality and loss (left) and parameter count (right) against the step, prune/densify marked;
    `target` (a quality target) is drawn as a dashed line."""
    steps = [h["step"] for h in history]
    fig, (ax_q, ax_p) = new_figure(2, 1, figsize=(7, 6), sharex=True)
    if any(quality_key in h for h in history):
        ax_q.plot(steps, [h.get(quality_key) for h in history], color="tab:blue", label=quality_key)
        ax_q.set_ylabel(quality_key)
    if target is not None:
        ax_q.axhline(target, color="tab:orange", ls="--", lw=1, label=f"target {target:g}")
    loss_rows = [(h["step"], h["loss"]) for h in history if h.get("loss")]
    if loss_rows:
        ax_l = ax_q.twinx()
        ax_l.semilogy(*zip(*loss_rows), color="tab:gray", alpha=0.6, label="loss")
        ax_l.set_ylabel("loss")
    # the count changes only at events, recorded in the order they happened
    counts = [(history[0]["step"], history[0]["params"])]
    counts += [(e["step"], e["params"]) for e in events if e["event"] in ("prune", "densify", "rollback")]
    counts.append((history[-1]["step"], history[-1]["params"]))
    ax_p.step([s for s, _ in counts], [p for _, p in counts], where="post", color="tab:green")
    ax_p.set_ylabel("parameters")
    ax_p.set_xlabel("step")
    for e in events:
        color = {"prune": "tab:red", "densify": "tab:purple"}.get(e["event"])
        if color:
            for ax in (ax_q, ax_p):
                ax.axvline(e["step"], color=color, alpha=0.3, lw=1)
    ax_q.set_title(title or "training (red: prune, purple: densify)")
    return save_figure(fig, path, dpi=110)
