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
