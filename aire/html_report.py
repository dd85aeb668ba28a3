"""report.html: one self-contained page per run (every picture embedded as a base64 data URL, no
external URL, script or style sheet), to open in any browser or attach to a message.

Sections: summary (signal, input, size, quality), metrics, the signal's description, the training plot,
pictures with captions
(image: fitted | reference | error map; NeRF: labelled test views and the turntable; SDF: slices of the
distance and the extracted mesh's views coloured by the distance to the ground truth; any other
signal: the run folder's PNG files), structural events (prune, densify, ...: a table) and the
settings the run was made with (config.json). `aire fit` writes it into every run folder at the end;
`aire report RUN` writes it again from the folder (the image reference is read from the recorded input).
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import warnings
from pathlib import Path
from typing import Any, Sequence

import attrs
import numpy as np

from aire.errors import InputError

REPORT_FILE = "report.html"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.92em; color: #444; margin-top: 0.3em; } code { background: #f6f6f6; }
"""


@attrs.frozen
class Picture:
    """A picture for the report: encoded bytes, their MIME type and a caption saying what it shows."""

    data: bytes
    caption: str
    mime: str = "image/png"
    alt: str = ""
    #: show a narrower picture at least this wide (CSS pixels, square pixels kept sharp): small renders
    min_width: int = 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`aire report` on the subcommand set `sub`."""
    p = sub.add_parser("report", help="write a run's self-contained report.html again (pictures embedded)")
    p.add_argument("run", type=Path, help="a fit's output folder")
    p.add_argument("--out", type=Path, help=f"the HTML file (default: RUN/{REPORT_FILE}, replaced)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    return p


def cmd_report(args: argparse.Namespace) -> int:
    """`aire report`: write report.html of the run folder `args.run` (module docstring)."""
    from aire.atomic import check_out_file, is_aire_folder, one_writer
    from aire.devices import resolve_device
    from aire.saved_run import open_run

    if not (args.run / "metrics.json").is_file():
        raise InputError(f"{args.run} is not a finished run (no metrics.json)")
    run = open_run(args.run, device=str(resolve_device(args.device)))
    out = args.out or args.run / REPORT_FILE
    # the default file inside a folder aire wrote is aire's own; anything else needs --overwrite
    check_out_file(out, args.overwrite or (args.out is None and is_aire_folder(args.run)), inputs=run.protected())
    with one_writer(out):
        write_report(args.run, out=out, model=run.model, kind=run.kind)
    print(f"report: {out}")
    return 0


# ---------------------------------------------------------------- pictures
def _file_picture(path: Path, caption: str, min_width: int = 0) -> Picture | None:
    if not path.is_file():
        return None
    mime = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(
        path.suffix.lower(), "application/octet-stream")
    return Picture(path.read_bytes(), caption, mime, alt=path.name, min_width=min_width)


def image_pictures(run_dir: Path, model: Any, signal: Any, metrics: dict[str, Any], config: dict[str, Any]) -> list[Picture]:
    """Fitted | reference | absolute error of an image run; without a reference (the input is gone), the
    reconstruction alone, saying so."""
    from aire.figures import figure_png, image_grid
    from aire.signals.image import ImageSignal

    path = (metrics.get("signal") or {}).get("path")
    if signal is None and model is not None and path and Path(path).is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fit already warned (a downscale, translucent pixels)
            signal = ImageSignal(path, **(config.get("signal_settings") or {}))
    if signal is None or model is None:
        picture = _file_picture(run_dir / "reconstruction.png", f"The fitted image (reconstruction.png); no reference "
                                f"to compare: the input {path} is not available.", min_width=320)
        return [picture] if picture else []
    fitted, reference = signal.preview(model), signal.image
    error = np.abs(fitted - reference).mean(axis=-1)
    channel = (lambda a: a[..., 0]) if fitted.shape[-1] == 1 else (lambda a: a)
    h, w = reference.shape[:2]
    fig = image_grid([[channel(fitted), channel(reference), error]],
                     ["fitted", "reference", "absolute error"], [f"{w}x{h} pixels"],
                     error_columns=(2,), error_label="|fitted - reference|")
    psnr = metrics.get("psnr")
    quality = f" PSNR {psnr:.2f} dB." if isinstance(psnr, (int, float)) else ""
    return [Picture(figure_png(fig), f"The fitted image (left) beside the reference it was fitted to (middle, "
                                     f"{Path(path).name if path else 'the input'}) and their absolute difference "
                                     f"(right; brighter is worse).{quality}", alt="fitted, reference and error map")]


def nerf_pictures(run_dir: Path) -> list[Picture]:
    pictures = [_file_picture(run_dir / "test_views.png", "Held-out test views: rendered by the fitted radiance field "
                              "(left), the reference photograph (middle) and their absolute difference (right), "
                              "with each view's PSNR."),
                _file_picture(run_dir / "turntable.gif", "A turntable: the fitted field rendered from cameras circling "
                              "the scene (animated; a small render is shown enlarged).", min_width=320)]
    return [p for p in pictures if p is not None]


def sdf_pictures(run_dir: Path, model: Any) -> list[Picture]:
    from aire.figures import figure_png
    from aire.geometry.slices import plot_slices, sdf_slices

    pictures = []
    if model is not None:
        fig = plot_slices(sdf_slices(model, 200), title="signed distance on the planes x = 0, y = 0, z = 0")
        pictures.append(Picture(figure_png(fig), "Slices of the fitted signed distance through the centre of the "
                                "normalised cube (blue inside, red outside); the black line is the surface (zero level "
                                "set).", alt="SDF slices"))
    views = _file_picture(run_dir / "distance.png", "The extracted mesh (mesh.ply) from three sides, coloured by each "
                          "point's distance to the ground-truth surface (blue: on it; dark red: at least the colour "
                          "bar's maximum).")
    return pictures + ([views] if views else [])


def other_pictures(run_dir: Path) -> list[Picture]:
    """Every PNG of a run folder of another signal (the training plot has its own section)."""
    found = [_file_picture(p, p.name) for p in sorted(run_dir.glob("*.png")) if p.name != "training.png"]
    return [p for p in found if p is not None]


def pictures_of(kind: str, run_dir: Path, *, model: Any = None, signal: Any = None,
                metrics: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> list[Picture]:
    """The pictures of a run of signal `kind` (module docstring)."""
    if kind == "image":
        return image_pictures(run_dir, model, signal, metrics or {}, config or {})
    if kind == "nerf":
        return nerf_pictures(run_dir)
    if kind == "sdf":
        return sdf_pictures(run_dir, model)
    return other_pictures(run_dir)


# ---------------------------------------------------------------- HTML
def _esc(value: Any) -> str:
    return html.escape(str(value))


def _value(value: Any) -> tuple[str, bool]:
    """(text, is a number) of a table cell."""
    if isinstance(value, bool) or value is None:
        return ("-" if value is None else str(value).lower()), False
    if isinstance(value, float):
        return f"{value:.6g}", True
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": ")), False
    return str(value), False


def _table(rows: Sequence[Sequence[Any]], head: Sequence[str] = ()) -> str:
    out = ["<table>"] + (["<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>"] if head else [])
    for row in rows:
        cells = []
        for value in row:
            text, number = _value(value)
            cells.append(('<td class="num">' if number else "<td>") + f"{_esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out + ["</table>"])


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), value)]


def _width(picture: Picture) -> int | None:
    """The pixel width a PNG or GIF header declares (None for anything else)."""
    data = picture.data
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big")
    if data[:4] == b"GIF8" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little")
    return None


def _figure(picture: Picture) -> str:
    data = base64.b64encode(picture.data).decode("ascii")
    width = _width(picture)
    style = (f' style="width: {picture.min_width}px; image-rendering: pixelated"'
             if picture.min_width and width is not None and width < picture.min_width else "")
    return (f'<figure><img src="data:{picture.mime};base64,{data}" alt="{_esc(picture.alt or picture.caption)}"'
            f"{style}><figcaption>{_esc(picture.caption)}</figcaption></figure>")


def build_html(name: str, metrics: dict[str, Any], config: dict[str, Any], events: Sequence[dict[str, Any]],
               training_plot: Picture | None, pictures: Sequence[Picture]) -> str:
    """The report page (module docstring) as one HTML string."""
    from aire import __version__

    signal = metrics.get("signal") if isinstance(metrics.get("signal"), dict) else {}
    kind = signal.get("kind", config.get("signal", "?"))
    summary = [("signal", kind), ("input", signal.get("path", config.get("path", "-"))),
               ("parameters", f"{metrics.get('params_initial', '?')} -> {metrics.get('params_final', '?')}"),
               ("architecture", f"{metrics.get('architecture_initial', '?')} -> {metrics.get('architecture_final', '?')}"),
               ("steps", metrics.get("steps_completed", metrics.get("steps"))),
               ("seconds (fit / in all)", " / ".join(
                   f"{v:.1f}" if isinstance(v, (int, float)) else "-"
                   for v in (metrics.get("seconds_fit", metrics.get("seconds")), metrics.get("seconds_total"))))]
    scalar = [row for k, v in metrics.items() if k not in ("signal", "settings")
              for row in (_flatten(v, f"{k}.") if isinstance(v, dict) else [(k, v)])]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>aire report: {_esc(name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>aire report: {_esc(name)}</h1>",
        f"<p>Signal: {_esc(kind)}. Written by aire {_esc(__version__)} from this run folder; every picture is "
        "embedded in this file.</p>",
        "<h2>Summary</h2>", _table(summary),
        "<h2>Metrics</h2>", _table(scalar, ["metric", "value"]),
    ]
    if signal:
        parts += ["<h2>Signal</h2>", "<p>What the fit read (the signal's own description).</p>",
                  _table(_flatten(signal), ["property", "value"])]
    if training_plot is not None:
        parts += ["<h2>Training</h2>", _figure(training_plot)]
    if pictures:
        parts += ["<h2>Pictures</h2>", *(_figure(p) for p in pictures)]
    parts.append("<h2>Structural events</h2>")
    if events:
        rows = [(e.get("step"), e.get("event"), e.get("params"), e.get("architecture"),
                 {k: v for k, v in e.items() if k not in ("step", "event", "params", "architecture")} or None)
                for e in events]
        parts.append(_table(rows, ["step", "event", "parameters after", "architecture after", "details"]))
    else:
        parts.append("<p>None: the architecture did not change.</p>")
    parts += ["<h2>Settings</h2>", "<p>The resolved specification (config.json); "
              "<code>aire fit --config config.json --out DIR</code> replays it.</p>",
              _table(_flatten(config) if config else [("-", "no config.json")], ["setting", "value"]),
              "</body></html>"]
    return "\n".join(parts) + "\n"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_report(run_dir: str | Path, *, out: str | Path | None = None, metrics: dict[str, Any] | None = None,
                 config: dict[str, Any] | None = None, history: dict[str, Any] | None = None, model: Any = None,
                 signal: Any = None, kind: str | None = None, name: str | None = None) -> Path:
    """Write report.html (or `out`) for the run folder `run_dir`, atomically. What is not given is read
    from the folder (metrics.json, config.json, history.json); `model` (and for an image, `signal`)
    draws the pictures computed from the model (image error map, SDF slices); `name` titles the page
    (default: the folder's name)."""
    from aire.atomic import atomic_file

    run_dir = Path(run_dir)
    metrics = metrics if metrics is not None else _read(run_dir / "metrics.json")
    config = config if config is not None else (_read(run_dir / "config.json") or metrics.get("settings") or {})
    history = history if history is not None else _read(run_dir / "history.json")
    kind = kind or (metrics.get("signal") or {}).get("kind") or config.get("signal") or "?"
    plot = _file_picture(run_dir / "training.png", "Quality and loss (top) and parameter count (bottom) against the "
                         "training step; red lines mark pruning, purple lines densification.")
    pictures = pictures_of(kind, run_dir, model=model, signal=signal, metrics=metrics, config=config)
    page = build_html(name or run_dir.resolve().name, metrics, config,
                      history.get("events") or [], plot, pictures)
    out = Path(out) if out is not None else run_dir / REPORT_FILE
    with atomic_file(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
