"""Figures without global state: matplotlib's object API (no pyplot, no backend switch), so importing
or calling aire never changes the backend or the figure registry of a user's session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


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


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """`fig` rendered with the Agg canvas as PNG bytes (for pictures embedded in a report)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    return buffer.getvalue()


#: the side, in pixels at the figures' dpi (100), below which a picture's panel is enlarged to be readable
MIN_PANEL_PIXELS = 220
#: the side, in pixels, above which a panel is drawn smaller (the figure would get too large)
MAX_PANEL_PIXELS = 480


def image_grid(rows: list[list[Any]], column_titles: list[str], row_titles: list[str], *, title: str = "",
               error_columns: tuple[int, ...] = (), error_max: float | None = None,
               error_label: str = "error") -> Any:
    """A Figure of labelled image panels: `rows` of arrays, (H, W, 3) or (H, W) in [0, 1] (pixels drawn
    as squares, nearest neighbour: a small image is enlarged, never smoothed), a title over each column
    and a label left of each row. Columns in `error_columns` are drawn with the 'magma' colour map from 0
    to `error_max` (default: their largest value) and get a colour bar labelled `error_label`. Each panel
    is MIN_PANEL_PIXELS to MAX_PANEL_PIXELS wide at dpi 100, so a 24-pixel view is readable."""
    first = rows[0][0]
    h, w = first.shape[:2]
    side = min(max(max(h, w), MIN_PANEL_PIXELS), MAX_PANEL_PIXELS) / 100.0
    panel_w, panel_h = side * w / max(h, w), side * h / max(h, w)
    ncols = len(rows[0])
    fig, axes = new_figure(len(rows), ncols, figsize=(panel_w * ncols + 1.6 + (1.0 if error_columns else 0.0),
                                                      panel_h * len(rows) + 0.9), squeeze=False)
    vmax = error_max if error_max is not None else max(
        (float(np.nanmax(r[c])) for r in rows for c in error_columns), default=1.0) or 1.0
    mappable = None
    for i, row in enumerate(rows):
        for j, picture in enumerate(row):
            ax = axes[i][j]
            if j in error_columns:
                mappable = ax.imshow(picture, cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest")
            else:
                ax.imshow(np.clip(picture, 0.0, 1.0), cmap="gray" if picture.ndim == 2 else None, vmin=0.0, vmax=1.0,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(column_titles[j])
        axes[i][0].set_ylabel(row_titles[i])
    if mappable is not None:
        fig.colorbar(mappable, ax=[axes[i][c] for i in range(len(rows)) for c in error_columns], shrink=0.9,
                     label=error_label)
    if title:
        fig.suptitle(title)
    return fig
