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
    sample = render.surface_sample(mesh, 100)
    render.plot_distance_views(sample, np.zeros(len(sample.points)), 0.01, tmp_path / "d.png", size=8, views=3,
                               title="at 80 of 80 faces")
    *views, bar = figures[0].axes
    assert [ax.get_title().split("\n")[0] for ax in views] == [
        "camera azimuth 30° (+x towards +z)", "camera azimuth 150° (+x towards +z)", "camera azimuth 270° (+x towards +z)"]
    assert all(ax.get_title().endswith("elevation 20°, y up") for ax in views)
    assert bar.get_ylabel() == "distance to ground truth (normalised units)"
    assert figures[0].get_suptitle() == "at 80 of 80 faces"


def test_surface_sample_draws_at_most_count_faces_seeded_with_their_centres_and_normals():
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))  # 12 faces on the planes |x|, |y| or |z| = 1
    sample = render.surface_sample(box, 5, seed=3)
    assert sample.total == 12 and len(sample.points) == 5 == len(set(sample.faces.tolist()))
    assert list(sample.faces) == sorted(sample.faces)
    np.testing.assert_allclose(sample.points, box.triangles_center[sample.faces])
    np.testing.assert_allclose(sample.normals, box.face_normals[sample.faces], atol=1e-12)  # outward unit normals
    assert np.allclose(np.abs(sample.points[np.abs(sample.normals) > 0.5]), 1.0)  # on its face's plane
    assert np.array_equal(render.surface_sample(box, 5, seed=3).faces, sample.faces)  # seeded
    every = render.surface_sample(box, 100)
    assert list(every.faces) == list(range(12)) and every.area == pytest.approx(24.0)  # all drawn: exact area


def test_render_points_lands_each_point_on_its_pixel_and_the_nearest_wins():
    """Camera at (0, 0, 3) looking at the origin, y up, 9 pixels: the origin is the centre pixel, +x is to
    the right and +y up; a point nearer the camera hides one behind it whatever their order."""
    import matplotlib

    eye = np.array([0.0, 0.0, 3.0])
    facing = np.array([[0.0, 0.0, 1.0]])
    image = render.render_points(np.zeros((1, 3)), facing, np.array([0.5]), eye, 9, "jet", 1.0, radius=0)
    assert image[4, 4, 3] == 1.0 and image[..., 3].sum() == 1.0  # one opaque pixel, the rest transparent
    np.testing.assert_allclose(image[4, 4, :3], matplotlib.colormaps["jet"](0.5)[:3])  # face-on: shade 1
    right_up = render.render_points(np.array([[0.5, 0.5, 0.0]]), facing, np.array([0.0]), eye, 9, "jet", 1.0, radius=0)
    (row, col), = np.argwhere(right_up[..., 3] == 1.0)
    assert row < 4 < col
    far_near = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    for order in ([0, 1], [1, 0]):
        image = render.render_points(far_near[order], np.repeat(facing, 2, 0), np.array([0.0, 1.0])[order], eye, 9,
                                     "jet", 1.0, radius=1)
        np.testing.assert_allclose(image[4, 4, :3], matplotlib.colormaps["jet"](1.0)[:3])  # the near point's value
        assert image[..., 3].sum() == 9.0  # a 3 x 3 square


def test_splat_radius_is_three_quarters_of_the_point_spacing_in_pixels():
    sphere = trimesh.creation.icosphere(subdivisions=6, radius=0.9)  # 81,920 faces, area ~ 4 pi 0.81 = 10.18
    # 320 px across 2 tan(20 deg) 3.2 = 2.33 units: 137.4 px per unit. Spacing sqrt(area / n) at 80,000 points:
    # 0.0113 units = 1.55 px -> 0.75 x 1.55 rounds to 1; at 20,000: 3.10 px -> 2; at 2,000: 9.8 px -> 3 (the cap)
    radii = [render.splat_radius(render.surface_sample(sphere, n), 320, 3.2) for n in (80_000, 20_000, 2_000)]
    assert radii == [1, 2, 3]
