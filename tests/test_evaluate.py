"""`aire eval RUN --on DATA`: a run on its own input gives its recorded metrics; a model that does not fit the
data is one line."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from aire.cli import main
from aire.evaluate import data_kind, format_table


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_a_run_on_its_own_input_reproduces_its_metrics(image_fit, tmp_path, capsys):
    run, image = image_fit
    out = tmp_path / "eval.json"
    code, stdout, err = _run(capsys, "eval", run, "--on", image, "--json", out, "--quiet")
    assert code == 0, err
    recorded = json.loads((run / "metrics.json").read_text())
    written = json.loads(out.read_text())
    assert written["signal"] == "image" and written["data"] == str(image)
    assert written["metrics"]["psnr"] == pytest.approx(recorded["psnr"], abs=1e-6)
    assert written["metrics"]["ssim"] == pytest.approx(recorded["ssim"], abs=1e-6)
    # 32 pixels: MS-SSIM on its two finest scales, the count recorded beside it
    assert written["metrics"]["ms_ssim"] == pytest.approx(recorded["ms_ssim"], abs=1e-6)
    assert written["metrics"]["ms_ssim_scales"] == recorded["ms_ssim_scales"] == 2
    table = stdout.splitlines()
    assert table[1].split() == ["METRIC", "VALUE", "RECORDED"]
    psnr_row = next(line.split() for line in table if line.startswith("psnr"))
    assert float(psnr_row[1]) == pytest.approx(recorded["psnr"], rel=1e-5) and psnr_row[1] == psnr_row[2]


def test_another_image_is_scored_against_the_model(image_fit, tmp_path, capsys):
    run, image = image_fit
    other = tmp_path / "flat.png"
    iio.imwrite(other, np.full((32, 32, 3), 128, np.uint8))
    code, stdout, err = _run(capsys, "eval", run, "--on", other, "--quiet")
    assert code == 0, err
    import aire
    from aire.signals.image import ImageSignal

    expected = ImageSignal(other).evaluate(aire.load(run))["psnr"]
    row = next(line.split() for line in stdout.splitlines() if line.startswith("psnr"))
    assert float(row[1]) == pytest.approx(expected, rel=1e-5) and len(row) == 2  # not its input: no recorded column


def test_a_run_saved_from_python_is_scored_at_its_fitted_size(tmp_path, capsys):
    """aire.save_run without a config records no signal settings: DATA is read at the fitted size that
    metrics.json records (here 16 px of a 40 px file), not at the signal's default size."""
    import aire
    from aire.config import ScheduleConfig
    from aire.signals.image import ImageSignal, synthetic_image

    image = tmp_path / "photo.png"
    iio.imwrite(image, (synthetic_image(40) * 255).round().astype(np.uint8))
    signal = ImageSignal(image, size=16)
    net = aire.build_network(signal, [16, 16], seed=0)
    result = aire.fit(signal, net, steps=30, schedule=ScheduleConfig(kind="none"), progress=False, eval_every=30)
    run = aire.save_run(result, signal, tmp_path / "run")
    assert not (run / "config.json").exists()
    code, stdout, err = _run(capsys, "eval", run, "--on", image, "--quiet")
    assert code == 0, err
    recorded = json.loads((run / "metrics.json").read_text())["psnr"]
    row = next(line.split() for line in stdout.splitlines() if line.startswith("psnr"))
    assert float(row[1]) == pytest.approx(recorded, rel=1e-5) and row[1] == row[2]


def test_data_of_another_aspect_ratio_is_refused_not_scored(image_fit, tmp_path, capsys):
    run, _ = image_fit  # fitted square, 32 x 32
    wide = tmp_path / "wide.png"
    iio.imwrite(wide, np.full((16, 32, 3), 128, np.uint8))
    code, stdout, err = _run(capsys, "eval", run, "--on", wide, "--quiet")
    assert code == 2 and stdout == ""
    assert err == (f"aire: error: {wide} read as {run}'s image signal has height 16 (the fit's: 32): its metrics "
                   "would not compare with the fit's")


def test_a_model_that_does_not_fit_the_data_is_one_line(image_fit, sphere_mesh, tiny_scene, tmp_path, capsys):
    run, _ = image_fit
    grey = tmp_path / "grey.png"
    iio.imwrite(grey, np.full((16, 16), 100, np.uint8))
    for data, message in ((grey, "maps 2 inputs to 3 outputs, but " + str(grey) + " read as the image signal needs 2 -> 1"),
                          (sphere_mesh, "is fitted to an image (its model maps 2 -> 3), but " + str(sphere_mesh) + " is a mesh (SDF signal), "
                           "whose model maps 3 -> 1"),
                          (tiny_scene, "is a NeRF scene")):
        out = tmp_path / "m.json"
        code, stdout, err = _run(capsys, "eval", run, "--on", data, "--json", out)
        assert code == 2 and err.startswith("aire: error: ") and message in err and "\n" not in err, err
        assert not out.exists()


def test_missing_data_and_existing_json_are_refused(image_fit, tmp_path, capsys):
    run, image = image_fit
    code, _, err = _run(capsys, "eval", run, "--on", tmp_path / "none.png")
    assert code == 2 and "data not found" in err
    taken = tmp_path / "taken.json"
    taken.write_text("{}")
    code, _, err = _run(capsys, "eval", run, "--on", image, "--json", taken)
    assert code == 2 and "already exists; pass --overwrite" in err and taken.read_text() == "{}"
    code, _, err = _run(capsys, "eval", run, "--on", image, "--json", run / "metrics.json", "--overwrite")
    assert code == 2 and "it is the input" in err


def test_nerf_and_sdf_runs_on_their_own_data(nerf_fit, tiny_scene, sdf_fit, sphere_mesh, capsys):
    for run, data, keys in ((nerf_fit, tiny_scene, ("psnr_test", "ssim_test")),
                            (sdf_fit, sphere_mesh, ("chamfer_l1", "iou_grid", "fscore", "hausdorff"))):
        code, stdout, err = _run(capsys, "eval", run, "--on", data, "--quiet")
        assert code == 0, err
        recorded = json.loads((run / "metrics.json").read_text())
        rows = {line.split()[0]: line.split()[1:] for line in stdout.splitlines()[2:]}
        for key in keys:
            if recorded[key] is None:
                assert rows[key][0] == "-"
            else:
                assert float(rows[key][0]) == pytest.approx(recorded[key], rel=1e-4, abs=1e-6), key


def test_data_kinds_and_table(tmp_path):
    (tmp_path / "scene").mkdir()
    assert [data_kind(tmp_path / n) for n in ("scene", "a.json", "m.PLY", "b.obj", "c.png", "d.exr")] == [
        "nerf", "nerf", "sdf", "sdf", "image", "image"]
    assert format_table({"psnr": 30.123456789, "ssim": None, "name": "x"}).splitlines() == [
        "METRIC  VALUE", "psnr    30.1235", "ssim    -"]
