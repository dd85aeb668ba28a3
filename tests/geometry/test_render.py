"""Pictures of meshes: each view of distance.png says where its camera is."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

import aire.geometry.render as render


@pytest.mark.parametrize("eye, up, label", [
    ((1.0, 0.0, 0.0), "y", "camera azimuth 0° (+x towards +z)\nelevation 0°, y up"),
    ((0.0, 1.0, 1.0), "y", "camera azimuth 90° (+x towards +z)\nelevation 45°, y up"),
    ((0.0, -2.0, 0.0), "z", "camera azimuth 180° (+y towards +x)\nelevation 0°, z up"),
])
def test_view_label_gives_azimuth_and_elevation(eye, up, label):
    assert render.view_label(np.array(eye), up) == label


def test_distance_views_are_titled_by_camera_and_the_colour_bar_has_units(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(render, "save_figure", lambda fig, path, dpi: figures.append(fig) or path)
    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.5)
    render.plot_distance_views(mesh, np.zeros(len(mesh.vertices)), 0.01, tmp_path / "d.png", size=8, views=3)
    *views, bar = figures[0].axes
    assert [ax.get_title().split("\n")[0] for ax in views] == [
        "camera azimuth 30° (+x towards +z)", "camera azimuth 150° (+x towards +z)", "camera azimuth 270° (+x towards +z)"]
    assert all(ax.get_title().endswith("elevation 20°, y up") for ax in views)
    assert bar.get_ylabel() == "distance to ground truth (normalised units)"
