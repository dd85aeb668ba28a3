"""The collection's summary files: csv cells hold grid values as a spreadsheet reads them."""

from __future__ import annotations

import csv
import io

from aire.many.summary import csv_value, to_csv


def row(job_id: str, varied: dict) -> dict:
    return {"id": job_id, "input": f"{job_id}.png", "signal": "image", "status": "done", "varied": varied}


def test_summary_csv_writes_text_grid_values_without_json_quotes():
    rows = [row("a", {"set.activation": "finer", "lr": 0.001, "hidden": [8, 8], "set.flag": True}),
            row("b", {"set.activation": "siren", "lr": 0.01, "hidden": [16, 16], "set.flag": False})]
    read = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["set.activation"] for r in read] == ["finer", "siren"]
    assert [r["lr"] for r in read] == ["0.001", "0.01"]
    assert [r["hidden"] for r in read] == ["[8, 8]", "[16, 16]"]
    assert [r["set.flag"] for r in read] == ["true", "false"]


def test_csv_value_keeps_text_and_numbers_and_writes_the_rest_as_json():
    assert csv_value("a,b") == "a,b"
    assert csv_value(3) == 3
    assert csv_value(None) == "null"
    assert csv_value({"k": 1}) == '{"k": 1}'


def done(job_id: str, varied: dict, quality: float, params: int, seconds: float) -> dict:
    return {**row(job_id, varied), "quality_key": "psnr", "higher_is_better": True, "quality": quality,
            "params_initial": 100, "params_final": params, "params_fraction": params / 100, "seconds": seconds}


def test_grid_cells_aggregate_mean_and_sample_std_over_inputs():
    from aire.many.summary import grid_cells

    rows = [done("a1", {"lr": 0.01}, 30.0, 50, 1.0), done("b1", {"lr": 0.01}, 32.0, 60, 3.0),
            done("c1", {"lr": 0.01}, 34.0, 70, 2.0),
            done("a2", {"lr": 0.1}, 20.0, 40, 1.0), {**row("b2", {"lr": 0.1}), "status": "failed"}]
    cells = grid_cells(rows)
    assert [c["varied"] for c in cells] == [{"lr": 0.01}, {"lr": 0.1}]
    first, second = cells
    assert (first["jobs"], first["done"]) == (3, 3)
    assert first["quality_mean"] == 32.0 and first["quality_std"] == 2.0  # sqrt(((-2)^2 + 0 + 2^2) / 2)
    assert first["params_final_mean"] == 60.0 and first["params_final_std"] == 10.0
    assert abs(first["params_fraction_mean"] - 0.6) < 1e-12 and first["seconds_mean"] == 2.0
    assert (second["jobs"], second["done"]) == (2, 1)
    assert second["quality_mean"] == 20.0 and second["quality_std"] is None  # one finished job: no spread


def test_summary_markdown_has_a_per_cell_table():
    from aire.many.summary import grid_cells, to_markdown

    rows = [done("a1", {"lr": 0.01}, 30.0, 50, 1.0), done("b1", {"lr": 0.01}, 32.0, 60, 3.0)]
    for r in rows:
        r["this_run"] = "ran"
    document = {"counts": {"total": 2, "done": 2, "failed": 0, "pending": 0, "running": 0},
                "run": {"executor": "serial", "slots": 1, "ran": ["a1", "b1"], "skipped": [], "interrupted": False},
                "cells": grid_cells(rows), "jobs": rows}
    text = to_markdown(document)
    assert "| lr=0.01 | 2 of 2 | 31.000 ± 1.414 | 55 ± 7 | 55.0% ± 7.1% | 2.0 ± 1.4 |" in text


def test_summary_plot_labels_the_quality_with_its_unit(monkeypatch, tmp_path):
    import aire.figures

    figures = []
    monkeypatch.setattr(aire.figures, "save_figure", lambda fig, path, dpi=110: figures.append(fig) or path)
    from aire.many.summary import plot_summary

    done = [{**row(name, {"lr": lr}), "quality": q, "params_final": p, "quality_key": "psnr",
             "higher_is_better": True} for name, lr, q, p in (("a", 0.1, 20.0, 100), ("b", 0.2, 25.0, 80))]
    plot_summary(done, tmp_path / "summary.png")
    ax = figures[0].axes[0]
    assert ax.get_ylabel() == "PSNR (dB)" and ax.get_xlabel() == "parameters after the fit"
    assert [list(c.get_offsets()[0]) for c in ax.collections] == [[100.0, 20.0], [80.0, 25.0]]


def test_summary_plot_shows_a_job_that_missed_its_target_and_counts_it_apart(monkeypatch, tmp_path):
    import aire.figures

    figures = []
    monkeypatch.setattr(aire.figures, "save_figure", lambda fig, path, dpi=110: figures.append(fig) or path)
    from aire.many.summary import plot_summary

    rows = [{**row(name, {}), "status": status, "quality": q, "params_final": p, "quality_key": "psnr",
             "higher_is_better": True}
            for name, status, q, p in (("a", "done", 30.0, 100), ("b", "missed-target", 25.0, 120),
                                       ("c", "failed", None, None))]
    plot_summary(rows, tmp_path / "summary.png")
    ax = figures[0].axes[0]
    assert ax.get_title() == "1 of 3 jobs done, 1 missed the quality target, 1 failed"
    assert [list(p) for p in ax.collections[0].get_offsets()] == [[100.0, 30.0], [120.0, 25.0]]
