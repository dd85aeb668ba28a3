"""`aire compress`: the AIRe schedule started from a model trained elsewhere, and one line for each bad model."""

from __future__ import annotations

import json
import re

import pytest
import torch

import aire
from aire.cli import main
from aire.nn.importers import load_start
from aire.signals.image import ImageSignal
from tests.nn.test_importers import LucidSirenNet, NotebookSiren
from tests.notices import notice_messages

# the paper's cycles, sized for 40 steps (the default under a budget, aire-cubic, has no cycle options)
FAST = ["--steps", "40", "--eval-every", "20", "--quiet", "--schedule", "aire", "--twd-length", "0.2",
        "--warmup", "0.1", "--cycle-gap", "0.1"]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


@pytest.fixture
def lucid_model(tmp_path):
    torch.manual_seed(0)
    net = LucidSirenNet(2, 16, 3, 3, w0=30.0)
    path = tmp_path / "siren.pt"
    torch.save(net.state_dict(), path)
    return path


def test_compress_a_siren_pytorch_model_to_a_budget(image_path, lucid_model, tmp_path, capsys):
    out = tmp_path / "small"
    code, stdout, err = _run(capsys, "compress", lucid_model, "--signal", "image", image_path, "--omega0-hidden", "30",
                             "--target-params", "0.5", "--out", out, *FAST)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["architecture_initial"] == [16, 16, 16, 3]
    assert metrics["params_initial"] == sum(p.numel() for p in torch.load(lucid_model).values())
    assert metrics["params_final"] <= 0.5 * metrics["params_initial"]
    # the run starts from the imported weights: its first evaluation is the imported model's PSNR
    network, _ = load_start(lucid_model, omega0_hidden=30.0)
    start_psnr = ImageSignal(image_path).evaluate(network)["psnr"]
    history = json.loads((out / "history.json").read_text())["history"]
    assert history[0]["step"] == 0 and history[0]["psnr"] == pytest.approx(start_psnr, abs=1e-3)
    shown = re.search(r"start \(siren-pytorch model\): psnr ([\d.]+)", stdout)
    assert shown and float(shown.group(1)) == pytest.approx(start_psnr, abs=0.01)
    config = json.loads((out / "config.json").read_text())
    assert config["network"]["start"] == {"model": str(lucid_model.resolve()), "layout": "siren-pytorch",
                                          "omega0": 30.0, "omega0_hidden": 30.0}
    assert config["network"]["widths"] == [16, 16, 16]
    # config.json replays the compression, from the same model
    again = tmp_path / "again"
    code, _, err = _run(capsys, "fit", "--config", out / "config.json", "--out", again)
    assert code == 0, err
    assert json.loads((again / "metrics.json").read_text())["psnr"] == pytest.approx(metrics["psnr"], abs=1e-4)


def test_compress_to_a_budget_defaults_to_the_cubic_ramp_and_refuses_cycle_options(image_path, lucid_model,
                                                                                    tmp_path, capsys):
    out = tmp_path / "small"
    code, _, err = _run(capsys, "compress", lucid_model, "--signal", "image", image_path, "--omega0-hidden", "30",
                        "--target-params", "0.5", "--out", out, "--steps", "40", "--eval-every", "20", "--quiet")
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["schedule"]["kind"] == "aire-cubic"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["params_initial"] == 643 and metrics["params_final"] <= 0.5 * 643  # LucidSirenNet(2, 16, 3, 3)
    code, _, err = _run(capsys, "compress", lucid_model, "--signal", "image", image_path, "--omega0-hidden", "30",
                        "--target-params", "0.5", "--out", tmp_path / "o", "--steps", "40", "--warmup", "0.2")
    assert code == 2 and len(err) == 1 and "--warmup" in err[0] and "--schedule aire" in err[0]


def test_compress_an_aire_run_folder(image_path, tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["fit", "image", str(image_path), "--out", str(first), "--hidden", "12", "12", *FAST]) == 0
    out = tmp_path / "second"
    code, stdout, err = _run(capsys, "compress", first, "--signal", "image", image_path, "--target-params", "0.6",
                             "--out", out, *FAST)
    assert code == 0, err
    before = json.loads((first / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())["history"]
    assert history[0]["psnr"] == pytest.approx(before["psnr"], abs=1e-4)
    assert "start (aire model)" in stdout
    # the report line names every file a reader looks at, the training plot included
    assert (f"report: {out / 'metrics.json'}  (model {out / 'model.safetensors'}, plot {out / 'training.png'}, "
            f"{out / 'comparison.png'}, config {out / 'config.json'}, page {out / 'report.html'})") in stdout
    assert (out / "training.png").is_file() and (out / "comparison.png").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["params_initial"] == before["params_final"]
    assert metrics["params_final"] <= 0.6 * metrics["params_initial"]


def test_unknown_layout_is_one_line(image_path, tmp_path, capsys):
    path = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(4, 2), "decoder.weight": torch.zeros(3, 4)}, path)
    code, _, err = _run(capsys, "compress", path, "--signal", "image", image_path, "--out", tmp_path / "o", *FAST)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("aire: error: unknown model layout") and "siren-pytorch" in err[0]
    assert not (tmp_path / "o").exists()


def test_ambiguous_layout_asks_for_it_and_named_layout_works(image_path, tmp_path, capsys):
    torch.manual_seed(0)
    path = tmp_path / "finer.pth"
    torch.save(NotebookSiren(2, 10, 1, 3, finer=True).state_dict(), path)
    code, _, err = _run(capsys, "compress", path, "--signal", "image", image_path, "--out", tmp_path / "o", *FAST)
    assert code == 2 and len(err) == 1 and "--layout finer" in err[0]
    code, _, err = _run(capsys, "compress", path, "--layout", "finer", "--signal", "image", image_path,
                        "--out", tmp_path / "o", *FAST)
    assert code == 0, err
    assert aire.load(tmp_path / "o").activation == "finer"


def test_model_that_does_not_match_the_signal_is_one_line(image_path, tmp_path, capsys):
    path = tmp_path / "sdf.pt"
    torch.save(LucidSirenNet(3, 8, 1, 2).state_dict(), path)
    code, _, err = _run(capsys, "compress", path, "--signal", "image", image_path, "--out", tmp_path / "o", *FAST)
    assert code == 2 and len(err) == 1
    assert "maps 3 inputs to 1 outputs" in err[0] and "needs 2 -> 3" in err[0]
    assert not (tmp_path / "o").exists()


def test_network_options_of_fit_are_not_compress_options(image_path, lucid_model, tmp_path, capsys):
    code, _, err = _run(capsys, "compress", lucid_model, "--signal", "image", image_path, "--hidden", "8",
                        "--out", tmp_path / "o")
    assert code == 2 and len(err) == 1 and "--hidden" in err[0]


def test_fit_start_must_match_the_declared_network(image_path, lucid_model, tmp_path, capsys):
    code, _, err = _run(capsys, "fit", "image", image_path, "--start", f"model={lucid_model}", "--hidden", "8", "8",
                        "--out", tmp_path / "o", *FAST)
    assert code == 2 and len(err) == 1
    assert "widths [16, 16, 16]" in err[0] and "[8, 8]" in err[0] and "aire compress" in err[0]
    code, _, err = _run(capsys, "fit", "image", image_path, "--start", f"model={lucid_model}", "--start",
                        "omega0_hidden=30", "--hidden", "16", "16", "16", "--out", tmp_path / "o", *FAST)
    assert code == 0, err


def test_the_command_lists_every_importable_layout():
    from aire.compress import LAYOUT_NAMES
    from aire.nn.importers import LAYOUTS

    assert LAYOUT_NAMES == tuple(LAYOUTS)


def test_compress_to_an_unreachable_target_is_said_early_and_the_run_is_kept(image_path, lucid_model, tmp_path, capsys,
                                                                             caplog):
    # (this replaces "one line and no run folder")
    out = tmp_path / "o"
    code, _, err = _run(capsys, "compress", lucid_model, "--signal", "image", image_path, "--omega0-hidden", "30",
                        "--target-psnr", "45", "--out", out, *FAST)
    assert code == 2 and len(err) == 1, err
    assert [m for m in notice_messages(caplog) if m.startswith("target_psnr 45 is out of reach of the starting network")]
    assert err[0].startswith("aire: error: target_psnr 45 was not held: psnr ") and str(out) in err[0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["target"]["held"] is False and metrics["params_final"] == metrics["params_initial"]
