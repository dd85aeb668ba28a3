"""Compact exports: int8 per-row symmetric values, fp16/bf16 copies, aire.load of each, and the report."""

from __future__ import annotations

import json

import pytest
import torch

import aire
from aire.cli import main
from aire.errors import InputError
from aire.quantize import dequantize, quantize, quantize_int8, save_quantized
from aire.signals.image import ImageSignal

FAST = ["--hidden", "12", "12", "--steps", "40", "--eval-every", "20", "--quiet"]


def test_int8_is_per_row_symmetric_with_known_values():
    w = torch.tensor([[1.0, -0.5, 0.25], [0.0, 0.0, 0.0], [-2.0, 1.0, 0.02]])
    q, scale = quantize_int8(w)
    assert q.dtype == torch.int8
    torch.testing.assert_close(scale, torch.tensor([1 / 127, 1.0, 2 / 127]))
    # 0.25 * 127 = 31.75 -> 32; -0.5 * 127 = -63.5 -> -64 (round half to even); 0.02 * 63.5 = 1.27 -> 1
    assert q.tolist() == [[127, -64, 32], [0, 0, 0], [-127, 64, 1]]
    back = dequantize(quantize({"layers.0.weight": w, "layers.0.bias": torch.ones(3)}, "int8"), "int8")
    assert (back["layers.0.weight"] - w).abs().max() <= scale.max() / 2 + 1e-7
    assert back["layers.0.bias"].tolist() == [1.0, 1.0, 1.0]  # biases stay float32


@pytest.mark.parametrize("precision, dtype", [("fp16", torch.float16), ("bf16", torch.bfloat16), ("int8", torch.int8)])
def test_copy_is_written_and_aire_load_dequantises_it(tmp_path, precision, dtype):
    from safetensors.torch import load_file

    signal = ImageSignal(image=torch.rand(8, 8, 3).numpy())
    net = aire.build_network(signal, [10, 10])
    aire.io.save_network(net, tmp_path)
    path = save_quantized(net, tmp_path, precision)
    assert path.name == f"model.{precision}.safetensors"
    assert load_file(str(path))["layers.1.weight"].dtype == dtype
    loaded = aire.load(path)
    for i, w in enumerate(net.weights):
        expected = w.detach().to(dtype).float() if precision != "int8" else \
            quantize_int8(w)[0].float() * quantize_int8(w)[1][:, None]
        torch.testing.assert_close(loaded.weights[i].detach(), expected, rtol=0, atol=0)
    assert aire.load(tmp_path).weights[0].dtype == torch.float32  # the folder still loads the float model
    assert path.stat().st_size < (tmp_path / "model.safetensors").stat().st_size


def test_unknown_precision_is_refused():
    with pytest.raises(InputError, match="fp16, bf16, int8"):
        quantize({"layers.0.weight": torch.zeros(2, 2)}, "int4")


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_fit_reports_the_copy_quality_and_size(image_path, tmp_path, precision):
    out = tmp_path / "run"
    assert main(["fit", "image", str(image_path), "--out", str(out), *FAST, "--export-precision", precision]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    export = metrics["export"]
    copy = out / f"model.{precision}.safetensors"
    assert export["file"] == copy.name and export["bytes"] == copy.stat().st_size
    assert export["bytes_fp32"] == (out / "model.safetensors").stat().st_size
    assert export["bits_per_pixel"] == pytest.approx(8 * copy.stat().st_size / (32 * 32))
    assert export["psnr"] == pytest.approx(ImageSignal(image_path).evaluate(aire.load(copy))["psnr"], abs=1e-4)
    assert abs(export["psnr"] - metrics["psnr"]) < (0.05 if precision == "fp16" else 1.5)


def test_bad_export_precision_is_one_line(image_path, tmp_path, capsys):
    code = main(["fit", "image", str(image_path), "--out", str(tmp_path / "o"), *FAST, "--export-precision", "int4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "int4" in err[0]
    assert not (tmp_path / "o").exists()


def test_sdf_fit_writes_an_int8_copy_with_its_chamfer(tmp_path):
    import trimesh

    from tests.signals.test_sdf import SMALL

    mesh = tmp_path / "box.ply"
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(mesh)
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in SMALL.items()]
    assert main(["fit", "sdf", str(mesh), "--out", str(out), "--hidden", "16", "16", "--steps", "40", "--omega0", "10",
                 "--eval-every", "20", "--batch-size", "1024", "--quiet", "--export-precision", "int8", *settings]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    export, copy = metrics["export"], out / "model.int8.safetensors"
    assert export["file"] == copy.name and export["bytes"] == copy.stat().st_size < export["bytes_fp32"]
    assert export["bits_per_pixel"] is None  # no pixel grid
    fitted, loaded = aire.load(out), aire.load(copy)
    for w, q in zip(fitted.weights, loaded.weights):  # the copy holds the int8 rounding of each weight, row by row
        values, scale = quantize_int8(w)
        torch.testing.assert_close(q.detach(), values.float() * scale[:, None], rtol=0, atol=0)
    assert export["chamfer_l1"] > 0 and abs(export["chamfer_l1"] - metrics["chamfer_l1"]) < 0.25 * metrics["chamfer_l1"]
    assert 0.0 <= export["iou_grid"] <= 1.0
    # three meanings of "precision" kept apart: the training's, the copy's, and the F-score's
    assert metrics["precision"] == "fp32" and export["precision"] == "int8"
    assert 0.0 <= metrics["fscore_precision"] <= 1.0 and 0.0 <= export["fscore_precision"] <= 1.0


def test_nerf_fit_writes_a_fp16_copy_of_the_whole_model_with_its_test_psnr(tiny_scene, tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "nerf", str(tiny_scene), "--out", str(out), "--hidden", "16", "16", "--steps", "20",
                 "--batch-size", "64", "--eval-every", "10", "--quiet", "--export-precision", "fp16",
                 "--set", "samples=8", "--set", "turntable_frames=2", "--set", "eval_size=8"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    export, copy = metrics["export"], out / "model.fp16.safetensors"
    assert export["file"] == copy.name and export["bytes"] == copy.stat().st_size < export["bytes_fp32"]
    fitted, loaded = aire.load(out), aire.load(copy)
    assert type(loaded) is type(fitted) and loaded.field.widths() == fitted.field.widths()
    float_tensors, copy_tensors = fitted.state_dict(), loaded.state_dict()
    assert set(copy_tensors) == set(float_tensors)  # the colour head travels with the field
    for name, value in float_tensors.items():
        if value.is_floating_point():
            torch.testing.assert_close(copy_tensors[name], value.half().float(), rtol=0, atol=0)
    assert abs(export["psnr_test"] - metrics["psnr_test"]) < 0.05
