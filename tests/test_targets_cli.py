"""`aire fit --target-psnr` and `aire compress --target-psnr` end to end: the kept network holds the target, and an
unreachable target is one line before the run ends."""

from __future__ import annotations

import json

import pytest

import aire
from aire.cli import main
from aire.signals.image import ImageSignal

RUN = ["--hidden", "24", "24", "--steps", "160", "--eval-every", "20", "--lr", "3e-3", "--lr-final", "3e-4", "--quiet",
       "--warmup", "0.2", "--cycles", "3",
       "--twd-length", "0.05", "--cycle-gap", "0.15", "--prune-fraction", "0.3"]


def test_fit_to_a_reachable_target_ends_with_a_network_that_holds_it(image_path, tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--target-psnr", "17"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    target = metrics["target"]
    assert target["metric"] == "psnr" and target["value"] == 17.0 and target["held"] is True
    assert metrics["psnr"] >= 17.0
    assert ImageSignal(image_path).evaluate(aire.load(out))["psnr"] == pytest.approx(metrics["psnr"], abs=1e-4)
    params = [a["params"] for a in target["accepted"]]
    assert params and params == sorted(params, reverse=True) and all(a["psnr"] >= 17.0 for a in target["accepted"])
    assert metrics["params_final"] <= params[0]
    events = json.loads((out / "history.json").read_text())["events"]
    if any(e["event"] == "target_undo" for e in events):  # a broken cut was undone: the last kept network stays
        assert metrics["params_final"] == params[-1]


def test_an_unreachable_target_is_one_line_before_the_end(image_path, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--target-psnr", "60"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("aire: error: target_psnr 60 is out of reach of the starting network: psnr ")
    step = int(err[0].split(" at step ")[1].split(",")[0])
    assert step < 160
    assert not out.exists()
