"""The command line: a fit on a generated image end to end, and one clear line for each bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import aire
from aire.cli import main
from aire.signals.image import ImageSignal

FAST = ["--hidden", "12", "12", "12", "--steps", "60", "--eval-every", "30", "--quiet"]


def test_fit_image_writes_the_full_report(image_path, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "aire", "fit", "image", str(image_path), "--out", str(out), *FAST,
                           "--target-params", "0.5"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"report: {out / 'metrics.json'}" in done.stdout
    for name in ("metrics.json", "model.safetensors", "model.json", "reconstruction.png", "comparison.png",
                 "training.png", "history.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    env = metrics["environment"]  # what a paper's table needs beside the numbers (aire.environment)
    assert env["aire"] == aire.__version__ and env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert env["python"] == ".".join(map(str, sys.version_info[:3])) and env["torch_threads"] >= 1
    for key in ("psnr", "params_initial", "params_final", "steps", "seconds", "architecture_initial",
                "architecture_final"):
        assert key in metrics, key
    assert metrics["architecture_initial"] == [12, 12, 12, 3]
    assert metrics["params_final"] <= 0.5 * metrics["params_initial"]
    assert metrics["steps"] == 60
    net = aire.load(out)
    assert isinstance(net, torch.nn.Module)
    assert sum(p.numel() for p in net.parameters()) == metrics["params_final"]
    assert net.widths() == metrics["architecture_final"]
    signal = ImageSignal(image_path)
    assert signal.evaluate(net)["psnr"] == pytest.approx(metrics["psnr"], abs=1e-4)
    y = net(torch.zeros(5, 2))
    assert y.shape == (5, 3) and y.dtype == torch.float32


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


@pytest.mark.parametrize("content", [None, b"", b"not an image", b"\x89PNG\r\n\x1a\n"])
def test_bad_image_files_give_one_line_and_no_output(tmp_path, capsys, content):
    path = tmp_path / "input.png"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "out"
    code, err = _run(capsys, "fit", "image", path, "--out", out, *FAST)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("aire: error:")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_tiny_image_is_rejected(tmp_path, capsys):
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "tiny.png", np.zeros((1, 1), dtype=np.uint8))
    code, err = _run(capsys, "fit", "image", tmp_path / "tiny.png", "--out", tmp_path / "o", *FAST)
    assert code == 2 and "too small" in err[-1]


@pytest.mark.parametrize("extra, message", [
    (["--steps", "-5"], "steps"),
    (["--target-params", "1.5"], "--target-params must lie in (0, 1]"),  # the flag the user typed, not the field
    (["--target-params", "0"], "--target-params must lie in (0, 1]"),
    (["--hidden", "12", "0"], "--hidden must be integers >= 1"),
    (["--criterion", "colum-l1"], "did you mean 'column-l1'"),
    (["--network", "sirne"], "did you mean 'siren'"),
    (["--alpha-max", "1.0"], "--alpha-max must lie in [0, 1)"),
    (["--prune-layers", "7"], "--prune-layers [7] do not exist"),
])
def test_invalid_settings_give_one_line(image_path, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, *extra)
    assert code == 2, err
    assert message in err[-1] and err[-1].startswith("aire: error:")
    assert not out.exists()


def test_existing_output_is_refused_unless_overwrite(image_path, tmp_path, capsys):
    out = tmp_path / "out"
    code, _ = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, "--schedule", "none")
    assert code == 0
    first = (out / "model.safetensors").read_bytes()
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST)
    assert code == 2 and "--overwrite" in err[-1]
    assert (out / "model.safetensors").read_bytes() == first
    code, _ = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, "--overwrite", "--seed", "1")
    assert code == 0 and (out / "model.safetensors").read_bytes() != first


def test_overwrite_never_replaces_a_folder_aire_did_not_write(image_path, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, "--overwrite")
    assert code == 2 and len(err) == 1 and "aire did not write" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_plugins_json(capsys):
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["api_version"] == aire.API_VERSION and report["clashes"] == []
    plugin = next(p for p in report["plugins"] if p["name"] == "column-l1")
    assert plugin == {"name": "column-l1", "distribution": "aire-inr", "version": aire.__version__,
                      "value": "aire.pruning.column_l1", "status": "loaded", "error": "",
                      "provides": {"criterion": ["column-l1"]}, "hooks": ["aire_add_pruning_criteria"], "wrappers": []}
    assert {"kind": "criterion", "name": "column-l1", "plugin": "column-l1", "distribution": "aire-inr",
            "selector": "aire-inr:column-l1", "clash": False} in report["components"]


def test_an_unknown_signal_setting_is_one_line_naming_the_settings(image_path, tmp_path, capsys):
    code, err = _run(capsys, "fit", "image", image_path, "--out", tmp_path / "o", *FAST, "--set", "sise=8")
    assert code == 2 and len(err) == 1
    assert "signal 'image'" in err[0] and "'sise'" in err[0] and "valid settings: lpips (bool), max_size (int or null), orientation (one of 'apply', 'ignore'), size (int or null)" in err[0]


_BUGGY = ("aire-buggy", "[aire]\nbuggy-signal = aire_buggy_signal\nbuggy-hook = aire_buggy_hook\n", {
    "aire_buggy_signal": """\
        import aire
        from aire.signals.image import ImageSignal

        def make(path, **settings):
            return ImageSignal(path, **settings).no_such_method()

        @aire.hookimpl
        def aire_add_signals():
            return {"buggy": make}
        """,
    "aire_buggy_hook": """\
        import os
        import aire

        @aire.hookimpl
        def aire_fit_start(trainer):
            if os.environ.get("AIRE_TEST_BUG"):
                len(trainer.step)
        """})


def test_a_bug_in_a_plugin_prints_its_traceback_and_names_the_plugin(image_path, tmp_path):
    from tests.plugin_fixtures import fake_distribution

    fake_distribution(tmp_path / "site", *_BUGGY)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-m", "aire", "fit", "buggy", str(image_path), "--out", str(tmp_path / "a"),
                           *FAST], capture_output=True, text=True, env=env)
    assert done.returncode == 1 and not (tmp_path / "a").exists()
    err = done.stderr.splitlines()
    assert err[0] == "Traceback (most recent call last):" and "aire_buggy_signal.py" in done.stderr
    assert err[-2] == "aire: error: 'ImageSignal' object has no attribute 'no_such_method'"
    assert err[-1] == ("aire: error: this is a bug in plugin 'buggy-signal' (aire-buggy 0.1): report it to its "
                       "authors with the traceback above")
    env["AIRE_TEST_BUG"] = "1"
    done = subprocess.run([sys.executable, "-m", "aire", "fit", "image", str(image_path), "--out", str(tmp_path / "b"),
                           *FAST], capture_output=True, text=True, env=env)
    assert done.returncode == 1 and not (tmp_path / "b").exists()
    assert "TypeError: object of type 'int' has no len()" in done.stderr
    assert "The above exception was the direct cause of the following exception" in done.stderr
    err = done.stderr.splitlines()
    assert err[-2] == ("aire: error: plugin 'buggy-hook' failed in aire_fit_start: TypeError: object of type 'int' "
                       "has no len()")
    assert err[-1].startswith("aire: error: this is a bug in plugin 'buggy-hook' (aire-buggy 0.1)")


def test_a_bug_in_aire_itself_is_reported_as_such(monkeypatch, capsys):
    import aire.cli

    def broken(args):
        raise AttributeError("not a user error")

    monkeypatch.setitem(aire.cli.COMMANDS, "plugins", broken)
    code = main(["plugins"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and err[0] == "Traceback (most recent call last):"
    assert err[-2:] == ["aire: error: not a user error",
                        "aire: error: this is a bug in aire: please report it with the traceback above"]


def test_lattice_fit_then_spectrum_and_verify(image_path, tmp_path, capsys):
    out = tmp_path / "lat"
    code, err = _run(capsys, "fit", "image", image_path, "--out", out, *FAST, "--encoding", "lattice",
                     "--policy", "residual-spectrum", "--target-params", "0.8", "--backend", "torch")
    assert code == 0, err
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["network"]["encoding"] == "lattice" and settings["schedule"]["policy"] == "residual-spectrum"
    code = main(["spectrum", str(out), "--top", "3"])
    printed = capsys.readouterr().out
    assert code == 0 and "periodic" in printed and (out / "spectrum.png").is_file()
    assert len([line for line in printed.splitlines() if line.strip() and line.strip()[0].isdigit()]) == 3
    assert main(["verify", str(out), "--budget", "5"]) == 0
    printed = capsys.readouterr().out
    assert "layer 0 perturbed 1%" in printed and "TIGHT" in printed and "0 failed" in printed


def test_unusable_backend_is_one_line(image_path, tmp_path, capsys):
    code, err = _run(capsys, "fit", "image", image_path, "--out", tmp_path / "o", *FAST, "--backend", "cupy")
    assert code == 2 and len(err) == 1 and "cupy" in err[0]
    code, err = _run(capsys, "fit", "image", image_path, "--out", tmp_path / "o", *FAST, "--backend", "cpuy")
    assert code == 2 and "did you mean 'cupy'" in err[0]


@pytest.mark.parametrize("argv, message", [
    (["spectrum", "{tmp}/nothing"], "no fitted model"),
    (["verify", "{tmp}/nothing"], "no fitted model"),
    (["demo", "--out", "{tmp}/d", "--size", "2"], "--size"),
    (["demo", "--out", "{tmp}/d", "--steps", "0"], "steps"),
    (["fit", "image"], "fit needs SIGNAL PATH"),
    (["fit", "--resume", "{tmp}"], "no checkpoint"),
    (["frobnicate"], "invalid choice"),
])
def test_every_command_validates_its_input(tmp_path, capsys, argv, message):
    code, err = _run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "d").exists()


def test_demo_outputs_name_the_input_copy_in_the_run_folder_not_a_deleted_temporary_file(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "16", "--steps", "10", "--quiet"]) == 0
    kept = str((out / "input.png").resolve())
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert metrics["signal"]["path"] == kept and metrics["settings"]["path"] == kept and config["path"] == kept
    assert (out / "input.png").is_file() and metrics["signal"]["height"] == 16
    # the recorded input is real: the run replays from its own config.json
    assert main(["fit", "--config", str(out / "config.json"), "--out", str(tmp_path / "replay"), "--quiet"]) == 0
    assert json.loads((tmp_path / "replay" / "metrics.json").read_text())["signal"]["path"] == kept
