"""The collection's summary: one row per job, as summary.json, summary.md, summary.csv and a plot of
quality against parameters (summary.png), each written atomically."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any, Sequence

from aire.many.spec import Job

#: a row's status when the job's fit finished without holding its quality target (metrics.json: target.held
#: false; `aire fit` writes that run and exits 2)
MISSED = "missed-target"
#: the statuses of jobs whose fit finished (metrics.json exists): their numbers count in the grid cells and plot
FINISHED = ("done", MISSED)

COLUMNS = ("id", "input", "signal", "status", "this_run", "quality_key", "quality", "params_initial", "params_final",
           "params_fraction", "architecture_final", "steps", "seconds", "error")


def quality_key(signal: str) -> tuple[str, bool]:
    """The metric a signal ranks fits by, and whether higher is better (from the signal class)."""
    from aire.plugins import get_registry

    component = get_registry().find("signal", signal)
    factory = getattr(component, "factory", None)
    return getattr(factory, "quality_key", "psnr"), getattr(factory, "higher_is_better", True)


def job_row(out: Path, job: Job, record: dict[str, Any] | None) -> dict[str, Any]:
    """The summary row of a job: its settings, status, and metrics.json's numbers when finished. A finished
    job whose quality target was not held has status `MISSED` and the reason (aire.targets.missed_reason)
    as its error."""
    key, higher = quality_key(job.signal)
    row: dict[str, Any] = {"id": job.id, "input": job.input, "signal": job.signal,
                           "settings": {**job.options, **{f"set.{k}": v for k, v in job.settings.items()}},
                           "varied": {name: _varied_value(job, name) for name in job.varied},
                           "quality_key": key, "higher_is_better": higher}
    metrics_file = out / job.id / "metrics.json"
    error_file = out / f"{job.id}.error.json"
    if metrics_file.is_file():
        m = json.loads(metrics_file.read_text())
        row.update(status="done", quality=m.get(key), params_initial=m.get("params_initial"),
                   params_final=m.get("params_final"), architecture_final=m.get("architecture_final"),
                   steps=m.get("steps_completed", m.get("steps")), seconds=m.get("seconds"),
                   diverged=bool(m.get("diverged", False)))
        if row["params_initial"]:
            row["params_fraction"] = row["params_final"] / row["params_initial"]
        from aire.targets import missed_reason

        missed = missed_reason(m)
        if missed is not None:
            row.update(status=MISSED, error=missed)
    elif record is not None and record.get("status") == "failed":
        row.update(status="failed", error=record.get("error"), error_type=record.get("error_type"))
    elif error_file.is_file():  # failed in an earlier run; retried by this one
        earlier = json.loads(error_file.read_text())
        row.update(status="failed", error=earlier.get("error"), error_type=earlier.get("error_type"))
    else:
        row["status"] = "pending"
    return row


def write_summary(out: Path, rows: Sequence[dict[str, Any]], state: dict[str, Any], *, plot: bool = True) -> dict[str, Any]:
    """Write out/summary.{json,md,csv} (and summary.png when `plot`); returns the JSON document."""
    ran, skipped = set(state["ran"]), set(state["skipped"])
    for row in rows:
        row["this_run"] = "skipped" if row["id"] in skipped else "ran" if row["id"] in ran else "not yet"
    counts = {"total": len(rows), **{s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "pending")},
              "missed_target": sum(r["status"] == MISSED for r in rows), "running": state.get("running", 0)}
    document = {"counts": counts,
                "run": {"executor": state["executor"], "slots": state["slots"],
                        "seconds": time.time() - state["started"], "interrupted": state.get("interrupted", False),
                        "ran": list(state["ran"]), "skipped": list(state["skipped"])},
                "cells": grid_cells(rows),
                "jobs": list(rows)}
    write_atomic(out / "summary.json", json.dumps(document, indent=2, default=str))
    write_atomic(out / "summary.md", to_markdown(document))
    write_atomic(out / "summary.csv", to_csv(rows))
    if plot:
        plot_summary(rows, out / "summary.png")
    return document


#: the numbers a grid cell aggregates over its finished jobs
CELL_VALUES = ("quality", "params_final", "params_fraction", "seconds")


def grid_cells(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per grid cell (jobs with the same grid values, over all inputs), in first-seen order:
    {"varied", "jobs", "done", "missed_target", and for each of CELL_VALUES "<name>_mean" and "<name>_std"} over
    the finished jobs (done, or missed their quality target: leaving those out would flatter the cell). The
    standard deviation is the sample one (n - 1 in the denominator; None below two jobs), as a
    paper's "mean ± std over images" reports; a cell with no finished job has None for both."""
    import statistics

    cells: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = json.dumps(r["varied"], sort_keys=True)
        cell = cells.setdefault(key, {"varied": r["varied"], "jobs": 0, "done": 0, "missed_target": 0, "_values": []})
        cell["jobs"] += 1
        if r["status"] in FINISHED:
            cell["done" if r["status"] == "done" else "missed_target"] += 1
            cell["_values"].append(r)
    out = []
    for cell in cells.values():
        done = cell.pop("_values")
        for name in CELL_VALUES:
            values = [float(r[name]) for r in done if isinstance(r.get(name), (int, float))]
            cell[f"{name}_mean"] = statistics.fmean(values) if values else None
            cell[f"{name}_std"] = statistics.stdev(values) if len(values) >= 2 else None
        out.append(cell)
    return out


def to_markdown(document: dict[str, Any]) -> str:
    c, run = document["counts"], document["run"]
    lines = ["# fit-many summary", "",
             f"{c['done']} done, {c['failed']} failed, " + _missed(c) + f"{c['pending']} pending of {c['total']} jobs; this run "
             f"({run['executor']}, {run['slots']} at once): {len(run['ran'])} ran, {len(run['skipped'])} skipped "
             f"as finished{', interrupted' if run['interrupted'] else ''}.", "",
             "| job | status | quality | params | fraction | seconds | error |", "|---|---|---|---|---|---|---|"]
    for r in document["jobs"]:
        quality = f"{r['quality_key']} {r['quality']:.3f}" if isinstance(r.get("quality"), (int, float)) else ""
        params = f"{r['params_initial']} -> {r['params_final']}" if r.get("params_final") is not None else ""
        fraction = f"{r['params_fraction']:.0%}" if r.get("params_fraction") is not None else ""
        seconds = f"{r['seconds']:.1f}" if isinstance(r.get("seconds"), (int, float)) else ""
        error = (r.get("error") or "").replace("|", "\\|")
        lines.append(f"| {r['id']} | {r['status']} | {quality} | {params} | {fraction} | {seconds} | {error} |")
    cells = document.get("cells", [])
    if cells and document["jobs"]:
        key = document["jobs"][0]["quality_key"]
        lines += ["", "## per grid cell (mean ± sample std over its finished jobs)", "",
                  f"| grid cell | done | {key} | params | fraction | seconds |", "|---|---|---|---|---|---|"]
        for c in cells:
            label = ", ".join(f"{k}={v}" for k, v in c["varied"].items()) or "all jobs"
            lines.append(f"| {label} | {c['done']} of {c['jobs']}{_missed(c, ', ')} | {_mean_std(c, 'quality', '.3f')} | "
                         f"{_mean_std(c, 'params_final', '.0f')} | {_mean_std(c, 'params_fraction', '.1%')} | "
                         f"{_mean_std(c, 'seconds', '.1f')} |")
    return "\n".join(lines) + "\n"


def _missed(counts: dict[str, Any], lead: str = "") -> str:
    """``1 missed its quality target, `` (led by `lead`) when a job did, else nothing."""
    n = counts.get("missed_target", 0)
    if not n:
        return ""
    return f"{lead}{n} missed {'its' if n == 1 else 'their'} quality target" + ("" if lead else ", ")


def _mean_std(cell: dict[str, Any], name: str, spec: str) -> str:
    mean, std = cell[f"{name}_mean"], cell[f"{name}_std"]
    if mean is None:
        return ""
    return f"{mean:{spec}}" + ("" if std is None else f" ± {std:{spec}}")


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    varied = list(dict.fromkeys(name for r in rows for name in r["varied"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*COLUMNS, *varied], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**{k: r.get(k) for k in COLUMNS}, **{k: csv_value(v) for k, v in r["varied"].items()}})
    return buffer.getvalue()


def csv_value(value: Any) -> Any:
    """A grid value as a spreadsheet reads it: text and numbers as they are (no JSON quotes), lists, tables,
    booleans and null as JSON (`[8, 8]`, `true`), as `--set` and the TOML spec would write them."""
    if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    return json.dumps(value)


def plot_summary(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Quality against final parameter count, one point per finished job (done or missed its quality target),
    coloured by grid setting."""
    from aire.figures import new_figure, save_figure

    done = [r for r in rows if r["status"] in FINISHED and isinstance(r.get("quality"), (int, float))]
    fig, ax = new_figure(figsize=(6.4, 4.4))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in done:
        label = ", ".join(f"{k}={v}" for k, v in r["varied"].items()) or "all jobs"
        groups.setdefault(label, []).append(r)
    for label, members in groups.items():
        ax.scatter([m["params_final"] for m in members], [m["quality"] for m in members], label=label, s=24)
    if len(done) <= 12:
        for r in done:
            ax.annotate(Path(r["input"]).stem, (r["params_final"], r["quality"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    key = done[0]["quality_key"] if done else (rows[0]["quality_key"] if rows else "quality")
    ax.set_xlabel("parameters after the fit")
    from aire.report import quality_label

    ax.set_ylabel(quality_label(key) + ("" if not rows or rows[0]["higher_is_better"] else " (lower is better)"))
    failed = sum(r["status"] == "failed" for r in rows)
    missed = sum(r["status"] == MISSED for r in done)  # plotted too, counted apart
    ax.set_title(f"{len(done) - missed} of {len(rows)} jobs done" + (f", {missed} missed the quality target" if missed
                                                                     else "") + (f", {failed} failed" if failed else ""))
    if 1 < len(groups) <= 12:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=110)


def _varied_value(job: Job, name: str) -> Any:
    return job.settings[name[4:]] if name.startswith("set.") else job.options[name]


def write_atomic(path: Path, text: str) -> None:
    """Write text to a temp sibling and rename it into place (aire.atomic.atomic_file)."""
    from aire.atomic import atomic_file

    with atomic_file(path) as tmp:
        tmp.write_text(text)
