"""The command line: a fit on a generated image end to end, and one clear line for each bad input."""

from __future__ import annotations

import json
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
                           "--target-params", "0.5", "--twd-length", "0.2", "--warmup", "0.1", "--cycle-gap", "0.1"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"report: {out / 'metrics.json'}" in done.stdout
    for name in ("metrics.json", "model.safetensors", "model.json", "reconstruction.png", "training.png",
                 "history.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
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
    (["--target-params", "1.5"], "target_params"),
    (["--target-params", "0"], "target_params"),
    (["--hidden", "12", "0"], "widths"),
    (["--criterion", "colum-l1"], "did you mean 'column-l1'"),
    (["--network", "sirne"], "did you mean 'siren'"),
    (["--alpha-max", "1.0"], "alpha_max"),
    (["--prune-layers", "7"], "prune_layers"),
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
    rows = json.loads(capsys.readouterr().out)
    assert {"name", "kind", "distribution", "status", "error"} <= set(rows[0])


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
