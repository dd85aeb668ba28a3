"""Status lines of long phases: on only inside `reporting`, a start line and (for long phases) an end line."""

from __future__ import annotations

import io

import trimesh

from aire import status
from aire.signals.sdf import SDFSignal
from tests.geometry.shapes import SphereSDF


def test_phase_prints_start_and_duration_only_when_reporting(monkeypatch):
    out = io.StringIO()
    with status.phase("quiet by default"):
        pass
    clock = iter([10.0, 13.5])
    monkeypatch.setattr(status.time, "perf_counter", lambda: next(clock))
    with status.reporting(True, file=out):
        with status.phase("mesh extraction"):
            pass
    assert out.getvalue() == "aire: mesh extraction ...\naire: mesh extraction: 3.5 s\n"


def test_a_short_phase_prints_only_its_start_line_and_reporting_false_prints_nothing():
    out = io.StringIO()
    with status.reporting(True, file=out):
        with status.phase("fast"):
            pass
        with status.reporting(False):
            with status.phase("silent"):
                pass
    assert out.getvalue() == "aire: fast ...\n"


def test_sdf_phases_report_sampling_extraction_and_chamfer(tmp_path):
    out = io.StringIO()
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=2.0)
    with status.reporting(True, file=out):
        signal = SDFSignal(mesh=sphere, samples=4000, validation_samples=2000, eval_resolution=16,
                           mesh_resolution=16, chamfer_samples=1000, cache=False)
        signal.final_metrics(SphereSDF(0.9))
        signal.export(SphereSDF(0.9), tmp_path)
    starts = [line for line in out.getvalue().splitlines() if line.endswith(" ...")]
    assert starts == [
        f"aire: SDF samples: 6,000 points and their ground-truth distances ({signal.sign_method} signs) ...",
        "aire: final metrics: the model on a 16^3 grid, marching cubes ...",
        "aire: final metrics: Chamfer distance on 1,000 samples per surface ...",
        "aire: final metrics: ground-truth occupancy of the 16^3 grid ...",
        "aire: mesh.ply: marching cubes at 16^3 ...",
        # every face's centre: the mesh has fewer faces than picture_points (20,000)
        f"aire: distance.png: distances of {len(trimesh.load(tmp_path / 'mesh.ply').faces):,} surface points to the "
        "ground truth, pictures ...",
    ]


def test_nerf_phases_report_rendering_the_test_views_and_the_turntable(tiny_scene, tmp_path):
    import aire
    from aire.signals.nerf.signal import NerfSignal

    signal = NerfSignal(tiny_scene, samples=4, eval_views=1, eval_size=8, turntable_frames=2, turntable_size=12)
    model = signal.make_model(aire.build_network(signal, [8, 8], omega0=30.0, seed=0))
    out = io.StringIO()
    with status.reporting(True, file=out):
        signal.final_metrics(model)
        signal.export(model, tmp_path)
    starts = [line for line in out.getvalue().splitlines() if line.endswith(" ...")]
    assert starts == [
        "aire: final metrics: rendering 3 test views ...",
        "aire: test_views.png: rendering 3 test views ...",
        "aire: turntable.gif: rendering 2 frames of 12x12 ...",
    ]
    assert (tmp_path / "turntable.gif").is_file() and (tmp_path / "test_views.png").is_file()
