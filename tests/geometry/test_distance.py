"""Ground-truth signed distances against shapes whose distances are known exactly."""

import numpy as np
import pytest
import trimesh
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from aire.geometry.distance import occupancy, sign_method_for, signed_distance, winding_number
from tests.geometry.shapes import box_sdf, holed_sphere

EPS = np.finfo(np.float64).eps
HALF = np.array([0.7, 0.4, 0.25])
BOX = trimesh.creation.box(extents=2 * HALF)
points_in_cube = arrays(np.float64, (64, 3), elements=st.floats(-1.5, 1.5, allow_nan=False, width=64))


@given(points_in_cube)
def test_box_distances_are_exact(points):
    # a box is represented exactly by its mesh: only float rounding separates the two (a few ulps of the size)
    for method in ("pseudonormal", "winding"):
        got = signed_distance(BOX, points, method)
        want = box_sdf(points, HALF)
        off_surface = np.abs(want) > 1e-9  # on the surface the sign is a matter of rounding
        np.testing.assert_allclose(got, want, atol=256 * EPS)  # O(1) values from a handful of float ops
        assert np.array_equal(np.sign(got[off_surface]), np.sign(want[off_surface]))


@given(points_in_cube)
def test_sphere_distances_within_the_polyhedral_deviation(points):
    radius = 0.8
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    # the icosphere lies between its inradius (closest face plane) and the sphere: that gap bounds the error
    inradius = np.abs(np.einsum("ij,ij->i", sphere.face_normals, sphere.triangles_center)).min()
    gap = radius - inradius
    got = signed_distance(sphere, points)
    want = np.linalg.norm(points, axis=1) - radius
    assert np.abs(got - want).max() <= gap + 1e-12


def test_auto_sign_uses_winding_numbers_for_open_meshes():
    assert sign_method_for(BOX) == "pseudonormal"
    assert sign_method_for(holed_sphere()) == "winding"
    with pytest.raises(ValueError):
        sign_method_for(BOX, "parity")


def test_sign_is_right_away_from_a_hole():
    mesh = holed_sphere(hole_height=0.8)
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(2000, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lower = directions[:, 2] < 0.2  # well away from the hole at z > 0.8
    radii = rng.uniform(0.05, 0.9, size=2000)
    inside = directions[lower] * radii[lower, None]
    outside = directions[lower] * rng.uniform(1.1, 1.6, size=lower.sum())[:, None]
    assert (signed_distance(mesh, inside) < 0).all()
    assert (signed_distance(mesh, outside) > 0).all()
    assert occupancy(mesh, inside).all() and not occupancy(mesh, outside).any()


def test_pseudonormal_sign_fails_where_winding_numbers_do_not():
    """Why `auto` picks winding numbers for open meshes: the pseudonormal sign of points seen
    through the hole is wrong, the winding number's is right (the centre is inside)."""
    mesh = holed_sphere(hole_height=0.5)
    through_hole = np.array([[0.0, 0.0, z] for z in np.linspace(0.0, 0.45, 10)])
    assert (signed_distance(mesh, through_hole, "winding") < 0).all()
    assert 0.4 < winding_number(mesh, np.zeros((1, 3)))[0] <= 1.0 + 1e-6


@pytest.mark.skipif(not __import__("pathlib").Path("../shared/data/meshes/ChineseDragon-10kv.off").exists(),
                    reason="shared meshes not present")
def test_real_scan_with_holes_has_outside_positive():
    from aire.geometry.mesh_io import load_mesh

    dragon = load_mesh("../shared/data/meshes/ChineseDragon-10kv.off")
    assert not dragon.is_watertight
    lo, hi = dragon.bounds
    far = np.array([lo - (hi - lo), hi + (hi - lo), [lo[0] - 1, hi[1] + 1, 0.5 * (lo[2] + hi[2])]])
    assert (signed_distance(dragon, far) > 0).all()
    # points pushed a little inward from face centres of large faces are inside for most faces
    big = np.argsort(dragon.area_faces)[-200:]
    step = 0.2 * np.sqrt(dragon.area_faces[big])[:, None]
    inward = dragon.triangles_center[big] - dragon.face_normals[big] * step
    assert (signed_distance(dragon, inward) < 0).mean() > 0.9
