"""`aire fit --target-psnr` and `aire compress --target-psnr` end to end: the kept network holds the target; an
unreachable target is one line as soon as it is known, and the run is still written (exit status 2, one line)."""

from __future__ import annotations

import json

import pytest

import aire
from aire.cli import main
from aire.signals.image import ImageSignal
from tests.notices import notice_messages

RUN = ["--hidden", "24", "24", "--steps", "160", "--eval-every", "20", "--lr", "3e-3", "--lr-final", "3e-4", "--quiet",
       "--warmup", "0.2", "--cycles", "3",
       "--twd-length", "0.05", "--cycle-gap", "0.15", "--prune-fraction", "0.3"]


@pytest.mark.parametrize("mode", ["anticipate", "held"])
def test_fit_to_a_reachable_target_ends_with_a_network_that_holds_it(image_path, tmp_path, mode):
    out = tmp_path / "run"
    assert main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--target-psnr", "17",
                 "--schedule-set", f"target_mode={mode}"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    target = metrics["target"]
    assert target["metric"] == "psnr" and target["value"] == 17.0 and target["held"] is True
    assert metrics["psnr"] >= 17.0
    assert ImageSignal(image_path).evaluate(aire.load(out))["psnr"] == pytest.approx(metrics["psnr"], abs=1e-4)
    params = [a["params"] for a in target["accepted"]]
    assert params and params == sorted(params, reverse=True) and metrics["params_final"] <= params[0]
    if mode == "anticipate":  # accepted on the quality projected to the last step (or measured)
        assert all(a["psnr"] >= 17.0 or a["projected_margin"] >= 0 for a in target["accepted"])
        assert metrics["params_final"] < metrics["params_initial"]
        return
    assert all(a["psnr"] >= 17.0 for a in target["accepted"])
    events = json.loads((out / "history.json").read_text())["events"]
    if any(e["event"] == "target_undo" for e in events):  # a broken cut was undone: the last kept network stays
        assert metrics["params_final"] == params[-1]


def _missed(capsys, caplog, code, out, option, metric):
    """An unreachable target: one notice when it is found (`aire: warning: ...`; under pytest in caplog), the
    run written with its final network (trained to the end, uncut), metrics.json saying the target was not
    held, and one error line (exit 2)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    [early] = [m for m in notice_messages(caplog) if "out of reach" in m]
    assert early.startswith(f"{option} is out of reach of the starting network: {metric} ")
    assert early.endswith("training on without cuts, the run is written and reports the target as not held")
    assert err[0].startswith(f"aire: error: {option} was not held: {metric} ")
    assert err[0].endswith(f"at the end (out of reach of the starting network); the run is written to {out} with its "
                           "final network (metrics.json: target.held false)")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["target"]["held"] is False and metrics["target"]["missed"] in early
    assert metrics["params_final"] == metrics["params_initial"] and metrics["target"]["accepted"] == []
    assert f"{metrics[metric]:.4g}" in err[0].split(" at the end")[0]
    return early, metrics


def test_an_unreachable_target_is_one_line_early_and_the_run_is_kept(image_path, tmp_path, capsys, caplog):
    # (this replaces "one line and no run folder": the user lost the whole fit)
    out = tmp_path / "run"
    code = main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--target-psnr", "60"])
    early, metrics = _missed(capsys, caplog, code, out, "target_psnr 60", "psnr")
    assert int(early.split(" at step ")[1].split(",")[0]) < 160
    assert ImageSignal(image_path).evaluate(aire.load(out))["psnr"] == pytest.approx(metrics["psnr"], abs=1e-4)


def _one_line_error(capsys, code, out):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert not out.exists()
    return err[0]


@pytest.mark.parametrize("schedule", ["none", "magnitude-oneshot"])
def test_a_target_under_a_schedule_that_cannot_honour_it_is_one_line(image_path, tmp_path, capsys, schedule):
    out = tmp_path / "run"
    code = main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--schedule", schedule,
                 "--target-params", "0.5", "--target-psnr", "17"])
    assert _one_line_error(capsys, code, out) == (
        f"aire: error: target_psnr 17 needs a schedule that cuts to a quality target (aire); schedule {schedule!r} "
        "cannot honour it")


def test_a_target_the_signal_does_not_declare_is_one_line(image_path, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--target-chamfer", "0.01"])
    assert _one_line_error(capsys, code, out) == (
        "aire: error: target_chamfer: ImageSignal declares no chamfer quality (its targets: target_psnr)")


def test_two_targets_at_once_are_one_line(image_path, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["fit", "image", str(image_path), "--out", str(out), *RUN, "--target-psnr", "17",
                 "--target-chamfer", "0.01"])
    assert _one_line_error(capsys, code, out).endswith(
        "one quality target at a time: target_psnr and target_chamfer were both given")


# ------------------------------------------------------------------ SDF: --target-chamfer (lower is better)
def _box_mesh(tmp_path):
    import trimesh

    mesh = tmp_path / "box.ply"
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(mesh)
    return mesh


SDF_RUN = ["--hidden", "24", "24", "--steps", "160", "--omega0", "10", "--eval-every", "20", "--batch-size", "1024",
           "--quiet", "--warmup", "0.2", "--cycles", "3", "--twd-length", "0.05", "--cycle-gap", "0.15",
           *[f"--set={k}={v}" for k, v in dict(samples=4000, validation_samples=2000, eval_resolution=20,
                                               mesh_resolution=24, chamfer_samples=2000).items()]]


def test_sdf_fit_to_a_chamfer_target_ends_at_or_below_it(tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "sdf", str(_box_mesh(tmp_path)), "--out", str(out), *SDF_RUN, "--target-chamfer", "0.3"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    target = metrics["target"]
    assert (target["metric"], target["value"], target["higher_is_better"], target["held"]) == ("chamfer_l1", 0.3, False, True)
    assert metrics["chamfer_l1"] <= 0.3
    accepted = target["accepted"]
    assert accepted and all(a["chamfer_l1"] <= 0.3 for a in accepted)
    assert [a["params"] for a in accepted] == sorted((a["params"] for a in accepted), reverse=True)
    assert metrics["params_final"] == accepted[-1]["params"] < metrics["params_initial"]
    # every cut judged at a check is recorded with its margins (0.3 - Chamfer; None: no surface left)
    for cut in target["cuts"]:
        assert 0 < cut["fraction"] < 1 and cut["margin_before"] >= 0


def test_sdf_unreachable_chamfer_target_is_one_line_early_and_the_run_is_kept(tmp_path, capsys, caplog):
    out = tmp_path / "run"
    code = main(["fit", "sdf", str(_box_mesh(tmp_path)), "--out", str(out), *SDF_RUN, "--target-chamfer", "0.0001"])
    early, _ = _missed(capsys, caplog, code, out, "target_chamfer 0.0001", "chamfer_l1")
    assert int(early.split(" at step ")[1].split(",")[0]) < 160 and "at least" in early


def test_sdf_refuses_a_psnr_target_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["fit", "sdf", str(_box_mesh(tmp_path)), "--out", str(out), *SDF_RUN, "--target-psnr", "30"])
    assert _one_line_error(capsys, code, out) == (
        "aire: error: target_psnr: SDFSignal declares no psnr quality (its targets: target_chamfer)")


# ------------------------------------------------------------------ NeRF: --target-psnr is the test-view PSNR
NERF_RUN = ["--hidden", "16", "16", "--steps", "80", "--batch-size", "64", "--eval-every", "10", "--quiet",
            "--warmup", "0.2", "--cycles", "2", "--twd-length", "0.05", "--cycle-gap", "0.2",
            "--set", "samples=8", "--set", "turntable_frames=2", "--set", "eval_size=8"]


def test_nerf_fit_to_a_test_view_psnr_target(tiny_scene, tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "nerf", str(tiny_scene), "--out", str(out), *NERF_RUN, "--target-psnr", "8"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    target = metrics["target"]
    assert (target["metric"], target["value"], target["higher_is_better"], target["held"]) == ("psnr_test", 8.0, True, True)
    assert metrics["psnr_test"] >= 8.0 and all(a["psnr_test"] >= 8.0 for a in target["accepted"])
    assert metrics["params_final"] <= target["accepted"][0]["params"]


def test_nerf_unreachable_target_is_one_line_early_and_the_run_is_kept(tiny_scene, tmp_path, capsys, caplog):
    out = tmp_path / "run"
    code = main(["fit", "nerf", str(tiny_scene), "--out", str(out), *NERF_RUN, "--target-psnr", "60"])
    _missed(capsys, caplog, code, out, "target_psnr 60", "psnr_test")
