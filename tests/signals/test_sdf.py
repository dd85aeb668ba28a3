"""The SDF signal: samples, losses, metrics, and the `aire fit sdf` / `aire export-mesh` path."""

import json
import math
import sys
import warnings

import numpy as np
import pytest
import torch
import trimesh

import aire
from aire.cli import main
from aire.errors import InputError
from aire.geometry.mesh_io import load_mesh, write_mesh_atomic
from aire.geometry.sampling import grid_points
from aire.signals.sdf import SDFSignal
from aire.testing import check_signal
from tests.geometry.shapes import SphereSDF, SphereWithBlobSDF, box_sdf, combine, holed_sphere, reverse_faces, sphere

SMALL = dict(samples=4000, validation_samples=2000, eval_resolution=20, mesh_resolution=24, chamfer_samples=2000)


def box_mesh(centre=(10.0, -20.0, 5.0), extents=(4.0, 2.0, 1.0)) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(centre))


def test_contract():
    check_signal(SDFSignal(mesh=box_mesh(), **SMALL))


def test_samples_are_exact_distances_in_the_normalised_frame():
    extents = np.array([4.0, 2.0, 1.0])
    signal = SDFSignal(mesh=box_mesh(extents=extents), margin=0.1, **SMALL)
    assert signal.frame.scale == pytest.approx(0.9 / 2.0)  # longest half-extent 2 -> 0.9
    half = extents / 2 * signal.frame.scale
    want = box_sdf(signal.points.double().numpy(), half)
    np.testing.assert_allclose(signal.sdf[:, 0].double().numpy(), want, atol=1e-6)  # float32 storage
    near = int(0.8 * 4000)
    assert np.abs(want[:near]).mean() < np.abs(want[near:]).mean()  # near samples hug the surface


def test_samples_are_cached(monkeypatch):
    mesh = box_mesh(extents=(1.0, 1.5, 2.0))
    first = SDFSignal(mesh=mesh, **SMALL)

    def fail(*_a, **_k):
        raise AssertionError("distances recomputed although cached")

    monkeypatch.setattr("aire.geometry.sampling.signed_distance", fail)
    second = SDFSignal(mesh=mesh, **SMALL)
    assert torch.equal(first.points, second.points) and torch.equal(first.sdf, second.sdf)
    with pytest.raises(AssertionError, match="recomputed"):
        SDFSignal(mesh=mesh, **{**SMALL, "samples": 5000})  # a different spec is not served from the cache


def test_eikonal_and_normal_terms_vanish_for_the_exact_sdf():
    radius = 0.9  # the icosphere below becomes radius 0.9 in the normalised frame (margin 0.1)
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    signal = SDFSignal(mesh=sphere, eikonal_weight=1.0, normal_weight=1.0, loss="l1", **SMALL)
    model = SphereSDF(radius)
    x, y = signal.sample(2048, torch.Generator().manual_seed(0))
    # regression error of the exact sphere SDF against the polyhedron: at most the polyhedral gap
    inradius = np.abs(np.einsum("ij,ij->i", sphere.face_normals, sphere.triangles_center)).min() * 0.9
    gap = radius - inradius
    regression = float(signal.loss(model(x), y))
    assert regression <= gap
    # |grad| = 1 exactly; face normals deviate from the radial direction by at most the face's angular size
    max_angle = max(np.arccos(np.clip(np.einsum("ij,ij->i", sphere.face_normals,
                    sphere.vertices[sphere.faces[:, k]] / np.linalg.norm(sphere.vertices[sphere.faces[:, k]], axis=1, keepdims=True)), -1, 1)).max()
                    for k in range(3))
    total = float(signal.training_loss(model, x, y))
    assert regression <= total <= regression + (1 - math.cos(max_angle)) + 1e-6


def test_bad_settings_are_input_errors():
    for bad in ({"loss": "huber"}, {"samples": 10}, {"scales": ()}, {"eval_resolution": 4}, {"sign_method": "x"},
                {"up": "w"}):
        with pytest.raises(InputError):
            SDFSignal(mesh=box_mesh(), **{**SMALL, **bad})


def test_short_fit_improves_and_writes_everything(tmp_path):
    mesh_path = tmp_path / "box.ply"
    box_mesh().export(mesh_path)
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in {**SMALL, "samples": 20_000}.items()]
    code = main(["fit", "sdf", str(mesh_path), "--out", str(out), "--hidden", "32", "32", "32", "--steps", "300",
                 "--omega0", "10",
                 "--eval-every", "100", "--batch-size", "2048", "--target-params", "0.7", "--quiet", *settings])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("chamfer_l1", "chamfer_l2", "normal_consistency", "iou_grid", "iou", "params_initial", "params_final",
                "architecture_initial", "architecture_final", "steps", "seconds", "seconds_fit", "seconds_total"):
        assert key in metrics, key
    assert metrics["params_final"] <= 0.7 * metrics["params_initial"]
    history = json.loads((out / "history.json").read_text())["history"]
    assert history[-1]["sdf_mae"] < 0.5 * history[0]["sdf_mae"]
    assert metrics["iou_grid"] > 0.5 and metrics["chamfer_l1"] < 0.1
    for name in ("mesh.ply", "distance.png", "signal.json", "model.safetensors", "training.png"):
        assert (out / name).is_file(), name
    # the exported mesh is back in the original frame: around the box at (10, -20, 5), extents (4, 2, 1)
    # (a 300-step fit leaves small floaters, so the bulk of the surface is compared, not the extremes)
    fitted = load_mesh(out / "mesh.ply")
    bulk = np.quantile(fitted.vertices, [0.05, 0.95], axis=0)
    assert np.all(bulk[0] > box_mesh().bounds[0] - 0.3) and np.all(bulk[1] < box_mesh().bounds[1] + 0.3)
    np.testing.assert_allclose(np.median(fitted.vertices, axis=0), [10.0, -20.0, 5.0], atol=0.5)
    # export-mesh at the same resolution reproduces the fit's mesh
    assert main(["export-mesh", str(out), "--resolution", "24", "--out", str(tmp_path / "again.obj"), "--quiet"]) == 0
    again = load_mesh(tmp_path / "again.obj")
    np.testing.assert_allclose(again.bounds, fitted.bounds, atol=1e-5)
    assert main(["export-mesh", str(out), "--resolution", "24", "--out", str(tmp_path / "again.obj")]) == 2  # exists


@pytest.mark.parametrize("content", ["", "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n"])
def test_bad_mesh_on_the_command_line(tmp_path, capsys, content):
    bad = tmp_path / "bad.off"
    bad.write_text(content)
    out = tmp_path / "run"
    assert main(["fit", "sdf", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aire: error:") and "\n" not in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.off"]


def test_export_mesh_refuses_a_non_sdf_model(tmp_path, capsys):
    from aire.io import save_network

    net = aire.testing.small_network(in_features=2, out_features=3, dtype=torch.float32)
    save_network(net, tmp_path)
    assert main(["export-mesh", str(tmp_path), "--out", str(tmp_path / "m.ply")]) == 2
    assert "not an SDF model" in capsys.readouterr().err


def test_export_returns_to_the_original_frame(tmp_path):
    """An exact sphere SDF exported through the signal lands on the original sphere (centre, radius)."""
    centre, radius = np.array([3.0, -7.0, 11.0]), 5.0
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    sphere.apply_translation(centre)
    signal = SDFSignal(mesh=sphere, **{**SMALL, "mesh_resolution": 48})
    files = signal.export(SphereSDF(0.9), tmp_path)  # radius 5 -> 0.9 in the normalised frame (margin 0.1)
    assert {f.name for f in files} == {"signal.json", "mesh.ply", "distance.png"}
    mesh = load_mesh(tmp_path / "mesh.ply")
    spacing = 2.0 / (48 - 1) / signal.frame.scale  # one grid step in original units
    np.testing.assert_allclose(mesh.vertices.mean(axis=0), centre, atol=spacing)
    assert np.abs(np.linalg.norm(mesh.vertices - centre, axis=1) - radius).max() < spacing


def test_a_model_without_surface_has_undefined_chamfer_and_zero_iou(tmp_path):
    signal = SDFSignal(mesh=box_mesh(), **SMALL)

    class Outside(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.offset = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            return self.offset.expand(x.shape[0], 1)

    metrics = signal.final_metrics(Outside())
    assert metrics["chamfer_l1"] is None and metrics["iou_grid"] == 0.0
    with pytest.warns(UserWarning, match="no zero level set"):
        files = signal.export(Outside(), tmp_path)
    assert [f.name for f in files] == ["signal.json"]


@pytest.mark.filterwarnings("ignore")  # 3-step TWD phases cannot decay their targets to epsilon
def test_paper_preset_ends_at_the_papers_small_network(tmp_path):
    """--preset paper: omega_0 60, [256]*4 start, hidden layers 1-2 pruned to [64, 64, 256] (short run here)."""
    mesh_path = tmp_path / "box.ply"
    box_mesh().export(mesh_path)
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in SMALL.items()]
    code = main(["fit", "sdf", str(mesh_path), "--out", str(out), "--preset", "paper", "--steps", "60",
                 "--batch-size", "256", "--eval-every", "60", "--quiet", *settings])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["architecture_initial"] == [256, 256, 256, 256, 1]
    assert metrics["architecture_final"] == [400, 64, 64, 256, 1]
    assert metrics["params_final"] <= 0.245 * metrics["params_initial"]
    assert metrics["settings"]["network"]["omega0"] == 60.0 and metrics["settings"]["train"]["steps"] == 60
    assert metrics["settings"]["schedule"]["prune_layers"] == [1, 2]


from tests.geometry.shapes import SphereSDF, SphereWithBlobSDF, box_sdf, combine, holed_sphere, reverse_faces, sphere
