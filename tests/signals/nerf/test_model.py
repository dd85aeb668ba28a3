"""NeRF model: field + colour head + rendering settings, trained whole, saved whole, reloaded by aire.load."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import aire
from aire.cli import main
from aire.errors import InputError
from aire.interfaces import Callback
from aire.io import save_model
from aire.metrics import psnr
from aire.signals.nerf.cameras import Intrinsics, box_intersection, camera_rays, look_at
from aire.signals.nerf.model import NerfModel
from aire.signals.nerf.scene_format import read_split
from aire.signals.nerf.signal import NerfSignal
from aire.testing import check_signal
from aire.train.trainer import Trainer


def small_signal(scene, **settings):
    return NerfSignal(scene, samples=12, eval_views=3, eval_size=24, turntable_frames=0, **settings)


@pytest.fixture(scope="module")
def nerf_run(tiny_scene, tmp_path_factory):
    """A tiny adaptive NeRF fit written by `aire fit` (pruned, so the field is not its initial shape)."""
    out = tmp_path_factory.mktemp("nerf-model") / "run"
    code = main(["fit", "nerf", str(tiny_scene), "--out", str(out), "--hidden", "16", "16", "--steps", "40",
                 "--batch-size", "128", "--eval-every", "40", "--target-params", "0.8", "--quiet",
                 "--set", "samples=12", "--set", "importance_samples=4", "--set", "turntable_frames=2"])
    assert code == 0
    return out


def test_reloaded_run_renders_its_test_views_at_the_recorded_psnr_test(nerf_run, tiny_scene):
    """aire.load gives the whole model; rendering each test view with its test camera reproduces the
    run's psnr_test. Tolerance 1e-4 dB, not equality: the fit rendered all test rays in one stream of
    render_chunk-ray chunks, a view here is its own chunk, and BLAS may sum a matmul in another order
    for another batch size (float32 rounding, ~1e-7 relative per colour)."""
    m = json.loads((nerf_run / "metrics.json").read_text())
    model = aire.load(nerf_run)
    assert isinstance(model, NerfModel) and not model.training
    assert model.field.widths() == m["architecture_final"] and m["params_final"] < m["params_initial"]
    assert model.samples == 12 and model.importance_samples == 4 and model.bound == m["signal"]["bound"]
    split = read_split(tiny_scene, "test", m["settings"]["signal_settings"]["size"])
    views = torch.stack([model.render_view(pose, k) for pose, k in zip(split.poses, split.intrinsics)])
    assert views.shape == (3, 24, 24, 3) and views.dtype == torch.float32
    assert 0.0 <= float(views.min()) and float(views.max()) <= 1.0
    assert psnr(views, torch.as_tensor(split.images, dtype=torch.float32)) == pytest.approx(m["psnr_test"], abs=1e-4)


def test_the_signal_holds_no_trainable_module_and_builds_the_model_around_the_network(tiny_scene):
    sig = small_signal(tiny_scene, head_width=8, importance_samples=2)
    assert not hasattr(sig, "head") and not hasattr(sig, "extra_modules")
    net = aire.build_network(sig, [8, 8])
    model = sig.make_model(net)
    assert model.field is net and model.head.width == 8 and model.bound == sig.bound
    assert model.settings() == {"features": 15, "bound": sig.bound, "samples": 12, "importance_samples": 2,
                                "head_width": 8, "render_chunk": 4096}
    # the network's parameters first, in their order, then the head's: the optimizer's order of before
    assert list(model.parameters())[:len(list(net.parameters()))] == list(net.parameters())
    assert model.head.num_parameters() == (15 + 15) * 8 + 8 + 8 * 3 + 3  # 15 features + 15 direction codes


def test_empty_field_renders_white_and_opaque_field_renders_the_head_colour_where_rays_cross_the_cube(tiny_scene):
    """Volume rendering on white: density 0 leaves the background; a huge density and a head that
    says 0.25 everywhere give 0.25 on every ray that crosses the cube and 1 elsewhere."""
    sig = small_signal(tiny_scene)
    model = sig.make_model(aire.build_network(sig, [8, 8]))
    camera, pose = Intrinsics.pinhole(10.0, 16, 12), look_at(np.array([0.0, -1.0, 3.5]))
    with torch.no_grad():
        model.field.weights[-1].zero_()
        model.field.biases[-1].zero_()
        model.field.biases[-1][0] = -50.0  # softplus(-51) ~ 7e-23
        assert torch.allclose(model.render_view(pose, camera), torch.ones(12, 16, 3), atol=1e-6)
        model.field.biases[-1][0] = 1e4
        model.head.out.weight.zero_()
        model.head.out.bias.fill_(math.log(0.25 / 0.75))  # sigmoid -> 0.25
        image = model.render_view(pose, camera)
    near, far = box_intersection(*camera_rays(camera, torch.as_tensor(pose)), model.bound)
    hit = (far > near).reshape(12, 16)
    assert hit.any() and (~hit).any()
    assert torch.allclose(image[hit], torch.full_like(image[hit], 0.25), atol=1e-5)
    assert torch.allclose(image[~hit], torch.ones_like(image[~hit]))


def test_saved_and_loaded_whole_bit_for_bit(tiny_scene, tmp_path):
    sig = small_signal(tiny_scene, importance_samples=3)
    model = sig.make_model(aire.build_network(sig, [8, 8], seed=1))
    with torch.no_grad():
        model.head.out.bias.add_(0.5)  # not the freshly initialised head that loading starts from
    save_model(model, tmp_path)
    config = json.loads((tmp_path / "model.json").read_text())
    head = ["head.hidden.bias", "head.hidden.weight", "head.out.bias", "head.out.weight"]
    assert config["model"] == {"kind": "nerf", "settings": model.settings(), "tensors": head}
    loaded = aire.load(tmp_path)
    for (name, a), (name_b, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert name == name_b and torch.equal(a, b), name
    rays = sig.sample(50, torch.Generator().manual_seed(0))[0]
    assert torch.equal(loaded.render(rays), model.render(rays))


def _write_tensors(run, change):
    tensors = load_file(str(run / "model.safetensors"))
    change(tensors)
    save_file(tensors, str(run / "model.safetensors"))


def _edit_config(run, change):
    config = json.loads((run / "model.json").read_text())
    change(config)
    (run / "model.json").write_text(json.dumps(config))


@pytest.mark.parametrize("tamper, file, message", [
    (lambda r: _write_tensors(r, lambda t: t.pop("head.out.weight")), "model.safetensors",
     "tensor head.out.weight is missing"),
    (lambda r: _write_tensors(r, lambda t: t["head.hidden.bias"].fill_(float("nan"))), "model.safetensors",
     "head.hidden.bias contains NaN"),
    (lambda r: _write_tensors(r, lambda t: t.update({"head.extra": torch.zeros(2)})), "model.safetensors",
     "tensor head.extra is not part of the model"),
    (lambda r: _edit_config(r, lambda c: c["model"]["settings"].update(head_width=7)), "model.safetensors",
     "head.hidden.weight has shape"),
    (lambda r: _edit_config(r, lambda c: c["model"]["settings"].update(samples=1)), "model.json",
     "samples must be an integer >= 2"),
    (lambda r: _edit_config(r, lambda c: c["model"]["settings"].pop("bound")), "model.json",
     "setting 'bound' is missing"),
    (lambda r: _edit_config(r, lambda c: c["model"].update(kind="gaussians")), "model.json",
     "model kind 'gaussians' is not provided"),
])
def test_tampered_model_files_are_one_line_errors_naming_the_file(nerf_run, tmp_path, tamper, file, message):
    run = tmp_path / "run"
    shutil.copytree(nerf_run, run)
    tamper(run)
    with pytest.raises(InputError) as info:
        aire.load(run)
    text = str(info.value)
    assert "\n" not in text and str(run / file) in text and message in text


def test_training_optimises_the_head_and_a_resume_continues_it_bit_for_bit(tiny_scene):
    """The optimizer covers the head (it changes during the fit); a state taken mid-fit carries the
    head and its Adam moments, so a fresh trainer resumed from it ends exactly where the straight fit ends."""
    def trainer(stop_at=None):
        sig = small_signal(tiny_scene)
        net = aire.build_network(sig, [8, 8], seed=0)
        train = aire.TrainConfig(steps=6, lr=1e-3, batch_size=64, eval_every=6, progress=False)
        stop = [_StopAt(stop_at)] if stop_at else []
        return Trainer(sig, net, train, aire.ScheduleConfig(kind="none"), callbacks=stop)

    straight = trainer()
    head0 = {k: v.clone() for k, v in straight.model.head.state_dict().items()}
    assert len(straight.optimizer.param_groups[0]["params"]) == len(list(straight.model.parameters()))
    straight.fit()
    assert not torch.equal(straight.model.head.out.weight, head0["out.weight"])
    first = trainer(stop_at=3)
    first.fit()
    state = first.state_dict()
    assert state["step"] == 3 and sorted(state["model_extras"]) == sorted(f"head.{k}" for k in head0)
    resumed = trainer()
    resumed.fit(resume=state)
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


class _StopAt(Callback):
    def __init__(self, step):
        self.at = step

    def on_step_end(self, trainer, step):
        trainer.should_stop = step >= self.at


def test_the_nerf_signal_passes_the_signal_contract_with_its_model(tiny_scene):
    check_signal(NerfSignal(tiny_scene, samples=6, eval_views=1, eval_size=6, turntable_frames=1))


def test_a_signal_with_the_removed_extra_modules_hook_is_refused(tiny_scene):
    class OldSignal(NerfSignal):
        def extra_modules(self):
            return [torch.nn.Linear(2, 2)]

    sig = OldSignal(tiny_scene, samples=4, turntable_frames=0)
    net = aire.build_network(sig, [4])
    with pytest.raises(TypeError, match="OldSignal defines extra_modules"):
        Trainer(sig, net, aire.TrainConfig(steps=1, progress=False), aire.ScheduleConfig(kind="none"))


def test_verify_and_spectrum_act_on_the_field_and_export_mesh_refuses(nerf_run, tmp_path, capsys):
    assert main(["verify", str(nerf_run)]) == 0
    assert main(["spectrum", str(nerf_run), "--resolution", "8", "--top", "2", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    capsys.readouterr()
    assert main(["export-mesh", str(nerf_run), "--out", str(tmp_path / "m.ply"), "--resolution", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is a nerf model, not an SDF" in err and not (tmp_path / "m.ply").exists()
