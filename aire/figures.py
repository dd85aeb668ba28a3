"""Figures without global state: matplotlib's object API (no pyplot, no backend switch), so importing
or calling aire never changes the backend or the figure registry of a user's session."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (6.4, 4.8), **subplot_kw: Any) -> tuple[Any, Any]:
    """(figure, axes) of a fresh matplotlib Figure with constrained layout; axes as fig.subplots gives them."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, constrained_layout=True)
    return fig, fig.subplots(nrows, ncols, **subplot_kw)


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Render `fig` with the Agg canvas into `path` (format from the suffix), atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from aire.atomic import atomic_file

    FigureCanvasAgg(fig)
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".").lower() or "png")
    return path
