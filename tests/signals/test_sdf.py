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
    # seconds is the fitting loop; seconds_total adds the mesh extraction and the Chamfer/IoU evaluation after it
    assert metrics["seconds"] == metrics["seconds_fit"] and metrics["seconds_total"] > metrics["seconds_fit"]
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


def test_distance_png_measures_a_bounded_seeded_sample_of_the_surface_and_says_so(tmp_path, monkeypatch):
    """distance.png measured every vertex of the extracted mesh (19 s for a poor fit's 1M vertices): it now
    measures `picture_points` face centres drawn at random with the seed, and its title says how many."""
    import aire.geometry.distance as gdist
    import aire.geometry.render as render

    measured, titles = [], []
    distance = gdist.unsigned_distance
    monkeypatch.setattr(gdist, "unsigned_distance", lambda mesh, points: measured.append(np.array(points))
                        or distance(mesh, points))
    monkeypatch.setattr(render, "save_figure", lambda fig, path, dpi: titles.append(fig.get_suptitle()) or path)
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=5.0)
    signal = SDFSignal(mesh=sphere, picture_points=300, **{**SMALL, "mesh_resolution": 48})
    measured.clear()  # the samples' distances; only the export's are counted
    signal.export(SphereSDF(0.9), tmp_path)  # radius 5 -> 0.9 in the normalised frame (margin 0.1)
    faces = len(load_mesh(tmp_path / "mesh.ply").faces)
    assert faces > 300 and len(measured) == 1 and measured[0].shape == (300, 3)
    # face centres of the extracted sphere (inside it by at most the chord sag of a grid-sized triangle)
    assert np.abs(np.linalg.norm(measured[0], axis=1) - 0.9).max() < 2.0 / 47
    assert titles[0].startswith(f"distance to ground truth at 300 of {faces:,} faces' centres, drawn at random (seed 0)")
    (tmp_path / "again").mkdir()
    signal.export(SphereSDF(0.9), tmp_path / "again")
    np.testing.assert_array_equal(measured[1], measured[0])  # the same points: seeded
    with pytest.raises(InputError, match="picture_points must be an integer >= 1"):
        SDFSignal(mesh=sphere, picture_points=0, **SMALL)


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


def test_an_inside_out_mesh_is_sampled_with_the_right_signs():
    """Every face reversed: the samples, the held-out points and the IoU grid are signed as for the
    outward sphere (the old `auto` inverted all of them and the metrics still looked fine)."""
    with pytest.warns(UserWarning, match="inside out"):
        signal = SDFSignal(mesh=reverse_faces(sphere(subdivisions=4)), **SMALL)
    radius = 0.9  # the unit sphere in the normalised frame (margin 0.1)
    for points, values in ((signal.points, signal.sdf[:, 0]), (signal.val_points, signal.val_sdf)):
        want = np.linalg.norm(points.double().numpy(), axis=1) - radius
        clear = np.abs(want) > 0.01  # the icosphere lies within 0.3 % of the sphere
        assert np.array_equal(np.sign(values.double().numpy()[clear]), np.sign(want[clear]))
    grid = grid_points(SMALL["eval_resolution"])
    want = np.linalg.norm(grid, axis=1) - radius
    clear = np.abs(want) > 0.01
    assert np.array_equal(signal.grid_occupancy().reshape(-1)[clear], want[clear] < 0)
    assert signal.describe()["orientation"]["inverted_parts"] == 1 and signal.sign_method == "winding"


def test_an_inside_out_mesh_file_is_fitted_with_one_warning_line(tmp_path, capsys):
    """The repair is announced on stderr as one `aire: warning:` line and recorded in signal.json."""
    path = write_mesh_atomic(reverse_faces(sphere()), tmp_path / "inverted.off")
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in SMALL.items()]

    def to_stderr(message, category, filename, lineno, file=None, line=None):  # Python's default, which pytest replaces
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = to_stderr
        assert main(["fit", "sdf", str(path), "--out", str(out), "--hidden", "16", "16", "--steps", "20",
                     "--eval-every", "20", "--batch-size", "512", "--quiet", *settings]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "inside out" in line]
    assert warned == ["aire: warning: inverted.off: inside out (1280 faces facing in); repaired, so distances are "
                      "negative inside the surface"]
    recorded = json.loads((out / "signal.json").read_text())
    assert recorded["orientation"]["inverted_parts"] == 1 and recorded["sign_method"] == "winding"


def test_pseudonormal_is_refused_where_it_is_not_defined():
    for mesh in (combine(sphere(centre=(-2, 0, 0)), sphere(centre=(2, 0, 0))), holed_sphere()):
        with pytest.raises(InputError, match="pseudonormal needs one closed"):
            SDFSignal(mesh=mesh, sign_method="pseudonormal", **SMALL)
    assert SDFSignal(mesh=sphere(), sign_method="pseudonormal", **SMALL).sign_method == "pseudonormal"


FAR = np.array([1e6, 0.0, 0.0])  # a georeferenced scan's coordinates


def test_export_far_from_the_origin_is_as_smooth_as_at_the_origin(tmp_path):
    """An exact unit-sphere SDF exported through the signal at x = 1e6 and at 0: the same mesh, moved
    (float32 vertices left ~37 distinct x values at 1e6)."""
    exported = {}
    for name, centre in (("origin", np.zeros(3)), ("far", FAR)):
        signal = SDFSignal(mesh=sphere(centre=centre, subdivisions=4), **{**SMALL, "mesh_resolution": 48})
        (tmp_path / name).mkdir()
        signal.export(SphereSDF(0.9), tmp_path / name)
        exported[name] = load_mesh(tmp_path / name / "mesh.ply").vertices - centre
    here, there = exported["origin"], exported["far"]
    assert len(np.unique(there[:, 0])) == len(np.unique(here[:, 0])) > 300
    np.testing.assert_allclose(there, here, atol=1e-9 * 1e6)  # float64 rounding at 1e6
    deviation = {k: np.abs(np.linalg.norm(v, axis=1) - 1.0).max() for k, v in exported.items()}
    assert deviation["far"] <= deviation["origin"] + 1e-6


def test_export_mesh_far_from_the_origin_keeps_float64_vertices(tmp_path, capsys):
    """`aire export-mesh` (and the fit's mesh.ply) write the float64 vertices of x_norm / scale + centre;
    STL, which holds float32 only, is refused in one line and nothing is written."""
    from aire.geometry.extract import extract_mesh
    from aire.signals.sdf import read_frame

    path = write_mesh_atomic(sphere(centre=FAR), tmp_path / "far.ply")
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in SMALL.items()]
    assert main(["fit", "sdf", str(path), "--out", str(out), "--hidden", "16", "16", "--omega0", "5", "--steps",
                 "30", "--eval-every", "30", "--batch-size", "512", "--quiet", *settings]) == 0
    frame = read_frame(out)
    assert frame.centre[0] == pytest.approx(1e6, abs=1e-9)
    net = aire.load(out)
    for name, resolution in (("mesh.ply", SMALL["mesh_resolution"]), ("again.ply", 32), ("again.obj", 32),
                             ("again.off", 32)):
        if name != "mesh.ply":
            assert main(["export-mesh", str(out), "--resolution", str(resolution), "--out", str(tmp_path / name),
                         "--quiet"]) == 0
        want = frame.to_original(extract_mesh(net, resolution).vertices)
        got = load_mesh(out / name if name == "mesh.ply" else tmp_path / name).vertices
        assert len(want) > 100
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * 1e6)  # float32 would be off by up to 0.03
        assert len(np.unique(got[:, 0])) == len(np.unique(want[:, 0]))
    capsys.readouterr()
    assert main(["export-mesh", str(out), "--resolution", "32", "--out", str(tmp_path / "far.stl"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aire: error:") and "float32" in err and "\n" not in err
    assert not (tmp_path / "far.stl").exists() and not list(tmp_path.glob(".far*"))


def test_keep_largest_component_drops_a_blob_from_the_metrics_and_the_exported_mesh(tmp_path):
    """A sphere model with a blob in free space: two components; with the setting, Chamfer and mesh.ply cover
    the sphere alone (the IoU is of the whole grid either way)."""
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=5.0)
    settings = {**SMALL, "eval_resolution": 32, "mesh_resolution": 32, "chamfer_samples": 20_000}
    model = SphereWithBlobSDF(0.9)  # radius 5 -> 0.9 in the normalised frame
    plain = SDFSignal(mesh=sphere, **settings).final_metrics(model)
    kept_signal = SDFSignal(mesh=sphere, keep_largest_component=True, **settings)
    kept = kept_signal.final_metrics(model)
    assert plain["mesh_components"] == 2 and plain["mesh_components_kept"] == 2
    assert kept["mesh_components"] == 2 and kept["mesh_components_kept"] == 1
    # the blob (about 2 % of the surface, 0.37 to 0.61 from the sphere) adds about 0.01 to the distance
    # from the reconstruction to the reference; the sphere alone is at the sampling spacing
    blob = plain["chamfer_l1_to_reference"] - kept["chamfer_l1_to_reference"]
    assert 0.005 < blob < 0.02, (plain, kept)
    assert kept["chamfer_l1_to_reference"] < 0.015 and kept["iou_grid"] == plain["iou_grid"]
    kept_signal.export(model, tmp_path)
    mesh = load_mesh(tmp_path / "mesh.ply")
    assert len(mesh.split(only_watertight=False)) == 1
    assert np.abs(np.linalg.norm(mesh.vertices, axis=1) - 5.0).max() < 2.0 / 31 / kept_signal.frame.scale
    assert json.loads((tmp_path / "signal.json").read_text())["keep_largest_component"] is True


def test_keep_largest_component_must_be_a_boolean():
    with pytest.raises(InputError, match="keep_largest_component must be true or false"):
        SDFSignal(mesh=box_mesh(), keep_largest_component="yes", **SMALL)


def test_export_mesh_keep_largest_component_writes_one_piece(tmp_path, capsys, monkeypatch):
    from aire.geometry import extract
    from aire.io import save_network

    save_network(aire.testing.small_network(in_features=3, out_features=1, dtype=torch.float32), tmp_path)
    big = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    blob = trimesh.creation.icosphere(subdivisions=1, radius=0.1)
    blob.apply_translation([0.8, 0.0, 0.0])
    monkeypatch.setattr(extract, "extract_mesh", lambda *a, **k: trimesh.util.concatenate([blob, big]))
    out = tmp_path / "m.ply"
    assert main(["export-mesh", str(tmp_path), "--normalised", "--keep-largest-component", "--out", str(out),
                 "--quiet"]) == 0
    assert "dropped 1 smaller one" in capsys.readouterr().err
    mesh = load_mesh(out)
    assert len(mesh.faces) == 320 and np.abs(np.linalg.norm(mesh.vertices, axis=1) - 0.5).max() < 1e-6


def test_final_metrics_report_fscore_and_hausdorff_at_the_chosen_threshold():
    """An exact sphere model against the sphere it came from: every sample within a grid spacing, so the
    F-score is 1 at a threshold of two spacings, and the Hausdorff distance is below that."""
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=5.0)
    spacing = 2.0 / 31
    signal = SDFSignal(mesh=sphere, fscore_threshold=2 * spacing, **{**SMALL, "eval_resolution": 32})
    metrics = signal.final_metrics(SphereSDF(0.9))
    assert metrics["fscore"] == metrics["fscore_precision"] == metrics["fscore_recall"] == 1.0
    assert metrics["fscore_threshold"] == 2 * spacing and 0 < metrics["hausdorff"] < 2 * spacing
    with pytest.raises(InputError, match="fscore_threshold must be a positive distance"):
        SDFSignal(mesh=box_mesh(), fscore_threshold=0, **SMALL)


def test_preview_shows_the_three_centre_slices_blue_inside():
    from aire.geometry.slices import sdf_slices, slices_picture

    signal = SDFSignal(mesh=trimesh.creation.icosphere(subdivisions=2, radius=2.0), samples=2000,
                       validation_samples=1000, cache=False)
    model = SphereSDF(0.5)
    picture = signal.preview(model)
    r = SDFSignal.PREVIEW_RESOLUTION
    assert picture.shape == (r, 3 * r + 4, 3)
    assert np.array_equal(picture, slices_picture(sdf_slices(model, r)))
    for first in (0, r + 2, 2 * r + 4):  # each slice: its centre inside (blue), its corner outside (red)
        centre, corner = picture[r // 2, first + r // 2], picture[0, first]
        assert centre[2] > centre[0] and corner[0] > corner[2]
