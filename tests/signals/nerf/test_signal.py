"""NeRF signal: rays and colours, a short fit that learns the held-out views, both dialects, CLI outputs and errors."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import aire
from aire.cli import main
from aire.errors import InputError
from aire.plugins import create
from aire.signals.nerf.signal import NerfSignal


def small_signal(scene, **settings):
    return NerfSignal(scene, samples=24, eval_views=3, eval_size=24, turntable_frames=2, **settings)


def test_registered_as_a_built_in_signal(tiny_scene):
    sig = create("signal", "nerf", str(tiny_scene), samples=8)
    assert isinstance(sig, NerfSignal) and sig.in_features == 3 and sig.out_features == 16


def test_rays_are_clipped_to_the_cube_and_colours_are_the_pixels(tiny_scene):
    sig = small_signal(tiny_scene)
    rays, rgb = sig.sample(None)
    assert rays.shape == (8 * 24 * 24, 8) and rgb.shape == (8 * 24 * 24, 3)
    assert torch.allclose(rays[:, 3:6].norm(dim=-1), torch.ones(rays.shape[0]), atol=1e-5)
    hit = rays[:, 7] > rays[:, 6]
    for t in (rays[hit, 6], rays[hit, 7]):  # entry and exit points lie on the cube's surface
        p = rays[hit, :3] + rays[hit, 3:6] * t[:, None]
        assert torch.allclose(p.abs().amax(dim=-1), torch.full_like(t, sig.bound), atol=1e-4)
    batch, colours = sig.sample(100, torch.Generator().manual_seed(0))
    assert batch.shape == (100, 8) and colours.shape == (100, 3)
    x = sig.network_inputs(500, torch.Generator().manual_seed(1))
    assert x.shape == (500, 3) and x.abs().max() <= 1.0


def test_short_fit_raises_test_psnr_well_above_the_untrained_network(tiny_scene):
    sig = small_signal(tiny_scene)
    net = aire.build_network(sig, [32, 32], omega0=30.0, seed=0)
    before = sig.evaluate(sig.make_model(net))["psnr_test"]
    result = aire.fit(sig, net, steps=150, lr=2e-3, lr_final=2e-4, batch_size=256, eval_every=150, progress=False,
                      schedule=aire.ScheduleConfig(kind="none"))
    after = result.metrics["psnr_test"]
    assert after > before + 6.0, (before, after)
    assert 0.0 < result.metrics["ssim_test"] <= 1.0


def test_importance_sampling_renders_and_trains(tiny_scene):
    sig = small_signal(tiny_scene, importance_samples=16)
    net = aire.build_network(sig, [16, 16], omega0=30.0)
    model = sig.make_model(net)
    rays, rgb = sig.sample(64, torch.Generator().manual_seed(0))
    loss = sig.training_loss(model, rays, rgb)
    loss.backward()
    assert torch.isfinite(loss) and net.weights[0].grad is not None and model.head.hidden.weight.grad is not None
    assert model.render(rays).shape == (64, 3)



def test_cli_fit_writes_metrics_views_turntable_and_the_whole_model(tiny_scene, tmp_path):
    out = tmp_path / "run"
    code = main(["fit", "nerf", str(tiny_scene), "--out", str(out), "--hidden", "24", "24", "24", "--steps", "60",
                 "--batch-size", "128", "--eval-every", "30", "--target-params", "0.8", "--quiet",
                 "--set", "samples=12", "--set", "turntable_frames=3", "--set", "eval_size=12"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    for key in ("psnr_test", "params_initial", "params_final", "architecture_initial", "architecture_final",
                "steps", "seconds"):
        assert key in m
    assert m["params_final"] < m["params_initial"] and m["signal"]["kind"] == "nerf"
    assert m["settings"]["signal_settings"]["size"] == 64  # the CLI default size: a smaller scene is not enlarged
    views = iio.imread(out / "test_views.png")  # labelled panels (rendered, reference, error), 220 pixels each
    assert views.shape[1] >= 3 * 220 and views.shape[0] >= 3 * 220
    gif = iio.imread(out / "turntable.gif", index=None)
    assert gif.shape[0] == 3 and gif.shape[1:3] == (24, 24)
    model = aire.load(out)  # field + colour head, saved whole in model.safetensors / model.json
    assert model.field.widths() == m["architecture_final"]
    assert model.head.num_parameters() == m["colour_head_params"]
    assert not (out / "colour_head.safetensors").exists()
    assert m["ms_ssim_test_scales"] == 2 and 0 < m["ms_ssim_test"] <= 1  # 24-pixel views: 2 scales


class Renders:
    """A stand-in model: renders the signal's true test colours plus `error` (clamped to [0, 1])."""

    head = type("Head", (), {"num_parameters": staticmethod(lambda: 7)})()

    def __init__(self, signal, error):
        self.signal, self.error = signal, error

    def render(self, rays):
        if rays is self.signal.test_rays:
            return (self.signal.test_colours + self.error).clamp(0, 1)
        return self.signal.eval_colours


def test_final_metrics_have_ms_ssim_of_every_test_view_with_its_scale_count(tiny_scene):
    """3 test views of 24x24: MS-SSIM on 2 scales (the coarsest 12 pixels), the mean over the views of each
    view's own MS-SSIM, 1 for a perfect render; views of 16 pixels hold no 2 scales: None, 0 scales."""
    from aire.metrics.image import ms_ssim

    sig = small_signal(tiny_scene)
    noise = 0.05 * torch.randn(sig.test_colours.shape, generator=torch.Generator().manual_seed(0))
    m = sig.final_metrics(Renders(sig, noise))
    pred = (sig.test_colours + noise).clamp(0, 1).reshape(3, 24, 24, 3)
    target = sig.test_colours.reshape(3, 24, 24, 3)
    per_view = [ms_ssim(p, t, scales=2) for p, t in zip(pred, target)]
    assert m["ms_ssim_test_scales"] == 2
    assert m["ms_ssim_test"] == pytest.approx(sum(per_view) / 3, rel=1e-9) and 0 < m["ms_ssim_test"] < 0.99
    assert m["psnr_test"] < 40 and m["colour_head_params"] == 7
    perfect = sig.final_metrics(Renders(sig, 0.0))
    assert perfect["ms_ssim_test"] == pytest.approx(1.0, abs=1e-9) and perfect["ssim_test"] == pytest.approx(1.0)
    tiny = small_signal(tiny_scene, size=16)
    m = tiny.final_metrics(Renders(tiny, 0.0))
    assert m["ms_ssim_test"] is None and m["ms_ssim_test_scales"] == 0 and m["ssim_test"] == pytest.approx(1.0)


def test_lpips_setting_adds_lpips_test_over_every_test_view(sphere_mesh, tiny_scene, tmp_path, monkeypatch):
    """`lpips=True` on 32-pixel test views: lpips_test is the mean of each view's LPIPS (a seeded random AlexNet
    stands in for the ImageNet weights), 0 for a perfect render; 24-pixel views are refused before any fit."""
    from aire.metrics import lpips as lpips_module
    from aire.scenes.make_scene import make_scene
    from tests.metrics.test_lpips import write_alexnet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    lpips_module._model.cache_clear()
    write_alexnet(tmp_path / "torch")
    with pytest.raises(InputError, match="lpips needs the test views to be at least 31x31 pixels, got 24x24"):
        small_signal(tiny_scene, lpips=True)
    scene = make_scene(sphere_mesh, tmp_path / "scene", views=2, size=32, val_views=1, test_views=2, supersample=1)
    sig = small_signal(scene, lpips=True)
    noise = 0.1 * torch.randn(sig.test_colours.shape, generator=torch.Generator().manual_seed(0))
    m = sig.final_metrics(Renders(sig, noise))
    pred = (sig.test_colours + noise).clamp(0, 1).reshape(2, 32, 32, 3)
    target = sig.test_colours.reshape(2, 32, 32, 3)
    per_view = [lpips_module.lpips(p, t) for p, t in zip(pred, target)]
    assert m["lpips_test"] == pytest.approx(sum(per_view) / 2, rel=1e-6) and m["lpips_test"] > 0
    assert sig.final_metrics(Renders(sig, 0.0))["lpips_test"] == 0.0
    plain = small_signal(scene)  # only when asked
    assert "lpips_test" not in plain.final_metrics(Renders(plain, 0.0))


def _distorted_scene(folder):
    folder.mkdir()
    iio.imwrite(folder / "a.png", np.zeros((4, 4, 3), np.uint8))
    frames = [{"file_path": "a.png", "transform_matrix": np.eye(4).tolist()}] * 2
    (folder / "transforms.json").write_text(json.dumps({"fl_x": 3.0, "k1": -0.05, "frames": frames}))


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "not found"),
    (lambda p: p.mkdir(), "looked for transforms_train.json"),
    (_distorted_scene, "distortion coefficient k1 = -0.05 is not zero"),
])
def test_cli_bad_scene_is_one_line_error_and_writes_nothing(tmp_path, capsys, setup, message):
    scene = tmp_path / "scene"
    setup(scene)
    code = main(["fit", "nerf", str(scene), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("aire: error:") and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_cli_fit_of_a_nerfstudio_scene_matches_its_blender_twin(tiny_scene, tiny_scene_nerfstudio, tmp_path):
    """`aire fit nerf` on the single-file dialect (given as the json file) fits what the Blender dialect
    fits: same rays and colours in the same order (8 views sort alike), so the same seeded fit."""
    settings = ["--hidden", "16", "16", "--steps", "30", "--batch-size", "64", "--eval-every", "30", "--quiet",
                "--schedule", "none", "--set", "samples=8", "--set", "turntable_frames=0", "--set", "eval_size=12"]
    for name, scene in (("blender", tiny_scene), ("nerfstudio", tiny_scene_nerfstudio / "transforms.json")):
        assert main(["fit", "nerf", str(scene), "--out", str(tmp_path / name), *settings]) == 0
    b, n = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("blender", "nerfstudio"))
    assert (b["signal"]["dialect"], n["signal"]["dialect"]) == ("blender", "nerfstudio")
    assert n["signal"]["test_files"] == ["test/r_0.png", "test/r_1.png", "test/r_2.png"]
    assert n["signal"]["train_views"] == 8 and n["signal"]["intrinsics"]["cx"] == 12.0
    assert n["signal"]["intrinsics"]["fx"] == pytest.approx(b["signal"]["intrinsics"]["fx"], rel=1e-12)
    assert n["psnr_test"] == pytest.approx(b["psnr_test"], abs=1e-4)
    views = iio.imread(tmp_path / "nerfstudio" / "test_views.png")
    assert views.shape[0] >= 3 * 220 and views.shape[1] >= 3 * 220


def test_a_transforms_file_reads_its_folder_which_no_output_may_replace(tiny_scene_nerfstudio, tmp_path, capsys):
    sig = NerfSignal(tiny_scene_nerfstudio / "transforms.json", samples=4, turntable_frames=0)
    assert sig.sources() == [tiny_scene_nerfstudio, tiny_scene_nerfstudio / "transforms.json"]
    assert (len(sig.train_split.images), len(sig.test_split.images)) == (8, 3)
    assert sig.bound == pytest.approx(1.05)  # make-scene's aire_scene.bound, read from transforms.json
    before = sorted(p.name for p in tiny_scene_nerfstudio.iterdir())
    code = main(["fit", "nerf", str(tiny_scene_nerfstudio / "transforms.json"), "--out", str(tiny_scene_nerfstudio),
                 "--overwrite", "--quiet", "--steps", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "it contains the input" in err
    assert sorted(p.name for p in tiny_scene_nerfstudio.iterdir()) == before


def test_bad_settings_are_input_errors(tiny_scene):
    with pytest.raises(InputError, match="samples"):
        NerfSignal(tiny_scene, samples=1)
    with pytest.raises(InputError, match="bound"):
        NerfSignal(tiny_scene, bound=float("nan"))


def test_cli_make_scene(tmp_path, sphere_mesh, capsys):
    code = main(["make-scene", str(sphere_mesh), "--out", str(tmp_path / "s"), "--views", "2", "--size", "8",
                 "--val-views", "0", "--test-views", "1"])
    assert code == 0 and (tmp_path / "s" / "transforms_train.json").exists()
    assert not (tmp_path / "s" / "transforms_val.json").exists()
    code = main(["make-scene", str(tmp_path / "none.off"), "--out", str(tmp_path / "t")])
    assert code == 2 and "mesh not found" in capsys.readouterr().err


def test_paper_preset_applies_and_explicit_options_win(tiny_scene, tmp_path):
    out = tmp_path / "run"
    code = main(["fit", "nerf", str(tiny_scene), "--out", str(out), "--preset", "paper", "--hidden", "8", "8",
                 "--steps", "2", "--batch-size", "16", "--quiet", "--schedule", "none",
                 "--set", "samples=4", "--set", "turntable_frames=0", "--set", "eval_size=8"])
    assert code == 0
    s = json.loads((out / "metrics.json").read_text())["settings"]
    assert s["preset"] == "paper" and s["network"]["widths"] == [8, 8]
    assert s["signal_settings"]["samples"] == 4 and s["signal_settings"]["importance_samples"] == 128
    assert s["signal_settings"]["size"] == 200 and s["train"]["batch_size"] == 16


@pytest.mark.filterwarnings("ignore:TWD left")  # 2-step TWD phases of a 40-step fit cannot decay to epsilon
def test_resumed_fit_is_bit_identical_across_cuts_with_jittered_and_importance_samples(tiny_scene, tmp_path):
    from aire.train.state import load_checkpoint

    settings = dict(steps=40, lr=2e-3, lr_final=2e-4, batch_size=64, eval_every=20, progress=False, seed=5,
                    schedule=aire.ScheduleConfig(target_params=0.7))
    sig = small_signal(tiny_scene, importance_samples=8)
    whole = aire.fit(sig, aire.build_network(sig, [16, 16, 16], omega0=30.0, seed=2), checkpoint_dir=tmp_path,
                     checkpoint_every=20, **settings)
    state = load_checkpoint(tmp_path)
    assert state["step"] == 20 and [e["event"] for e in state["events"]].count("prune") >= 1  # mid-run, after a cut
    fresh = small_signal(tiny_scene, importance_samples=8)
    resumed = aire.fit(fresh, aire.build_network(fresh, [16, 16, 16], omega0=30.0, seed=2), resume=state, **settings)
    for a, b in zip(whole.network.parameters(), resumed.network.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(whole.model.head.parameters(), resumed.model.head.parameters()):
        assert torch.equal(a, b)
    assert whole.metrics["psnr_test"] == resumed.metrics["psnr_test"]


@pytest.mark.filterwarnings("ignore:TWD left")  # 2-step TWD phases of a short fit cannot decay to epsilon
def test_cubic_preset_prunes_to_the_budget_without_adding_input_frequencies(tiny_scene, tmp_path):
    out = tmp_path / "run"
    code = main(["fit", "nerf", str(tiny_scene), "--out", str(out), "--preset", "cubic", "--hidden", "12", "12", "12",
                 "--steps", "40", "--batch-size", "32", "--eval-every", "20", "--quiet", "--target-params", "0.6",
                 "--set", "samples=4", "--set", "turntable_frames=0", "--set", "eval_size=8", "--set", "size=24"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    s = metrics["settings"]
    assert s["preset"] == "cubic" and s["schedule"]["kind"] == "aire-cubic" and s["schedule"]["densify_k"] == 0
    assert s["schedule"]["settings"] == {"end": 0.5}
    arch = metrics["architecture_final"]
    assert arch[0] == 12  # the input frequencies: none added, none removed (hidden layers pruned)
    assert metrics["params_final"] <= 0.6 * metrics["params_initial"] and arch[1] < 12


def test_preview_is_the_first_test_view_on_the_evaluation_grid(tiny_scene):
    """24-pixel views with eval_size 8: every third pixel of the first test view, rendered as the full view is."""
    sig = NerfSignal(tiny_scene, samples=8, eval_views=2, eval_size=8, turntable_frames=0)
    model = sig.make_model(aire.build_network(sig, [8, 8], omega0=30.0, seed=3))
    picture = sig.preview(model)
    full = sig.test_images(model)[0].clamp(0, 1).numpy()  # (24, 24, 3)
    assert picture.shape == (8, 8, 3)
    assert np.allclose(picture, full[::3, ::3], atol=1e-5)
    assert picture.std() > 0  # a rendered view, not a constant
