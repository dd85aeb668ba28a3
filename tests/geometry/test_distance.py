"""Ground-truth signed distances against shapes whose distances are known exactly."""

import warnings

import numpy as np
import pytest
import trimesh
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from aire.geometry.distance import occupancy, sign_method_for, signed_distance, winding_number
from tests.geometry.shapes import (box_sdf, combine, directions, holed_sphere, reverse_faces, shared_mesh, sphere,
                                   triangle_soup)

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


def test_auto_sign_is_the_winding_number():
    """`auto` signs by the winding number on every mesh (it was the pseudonormal on watertight meshes,
    which is wrong on inside-out, inconsistently oriented and overlapping ones; see the tests below)."""
    assert sign_method_for(BOX) == "winding" and sign_method_for(holed_sphere()) == "winding"
    assert sign_method_for(BOX, "pseudonormal") == "pseudonormal"
    with pytest.raises(ValueError):
        sign_method_for(BOX, "parity")


def sphere_probes(radius=1.0, centre=(0.0, 0.0, 0.0), count=400, seed=0):
    """Points known to lie inside / outside an icosphere of `radius` (subdivision 3: its faces lie
    within 1.3 % of the sphere), including points 2-3 % of the radius from the surface."""
    d = directions(count, seed)
    rng = np.random.default_rng(seed + 1)
    inside = d * np.concatenate([rng.uniform(0.0, 0.9, count // 2), rng.uniform(0.95, 0.97, count - count // 2)])[:, None]
    outside = d * np.concatenate([rng.uniform(1.1, 3.0, count // 2), rng.uniform(1.02, 1.04, count - count // 2)])[:, None]
    return np.asarray(centre) + radius * inside, np.asarray(centre) + radius * outside


def assert_signs(mesh, inside, outside, **kw):
    got_in, got_out = signed_distance(mesh, inside, **kw), signed_distance(mesh, outside, **kw)
    assert (got_in < 0).all(), f"{(got_in >= 0).sum()} of {len(got_in)} inside points signed outside"
    assert (got_out > 0).all(), f"{(got_out <= 0).sum()} of {len(got_out)} outside points signed inside"
    assert np.array_equal(occupancy(mesh, inside, **kw), np.ones(len(inside), bool))
    assert not occupancy(mesh, outside, **kw).any()


def test_auto_sign_is_right_on_an_inside_out_sphere():
    inverted = reverse_faces(sphere())
    inside, outside = sphere_probes()
    # the defect repaired: the mesh as given has winding number -1 inside, so every sign flips
    assert (winding_number(inverted, inside) < -0.5).all()
    assert (signed_distance(inverted, inside, "pseudonormal") > 0).all()
    with pytest.warns(UserWarning, match="inside out"):
        assert_signs(inverted, inside, outside)


@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_auto_sign_is_right_with_faces_reversed_against_their_neighbours(fraction):
    ball = sphere()
    mixed = reverse_faces(ball, fraction, seed=2)
    # probes just inside and outside every reversed face, where the mesh as given signs wrong
    turned = np.flatnonzero(np.einsum("ij,ij->i", mixed.face_normals, ball.face_normals) < 0)
    centres, normals = ball.triangles_center[turned], ball.face_normals[turned]
    near_in, near_out = centres - 0.02 * normals, centres + 0.02 * normals
    # the defect repaired: the old `auto` (pseudonormal on a watertight mesh) signed all of them wrong
    assert (signed_distance(mixed, near_out, "pseudonormal") < 0).all()
    assert (signed_distance(mixed, near_in, "pseudonormal") > 0).all()
    inside, outside = sphere_probes()
    with pytest.warns(UserWarning, match="against their neighbours"):
        assert_signs(mixed, np.concatenate([inside, near_in]), np.concatenate([outside, near_out]))


def test_auto_sign_is_right_on_separate_parts():
    """Two disjoint spheres, one inside out; and two overlapping ones, one inside out: their union is
    inside (the overlap too), everything else outside."""
    for gap in (2.0, 0.5):  # disjoint, overlapping
        parts = combine(sphere(centre=(-gap, 0, 0)), reverse_faces(sphere(centre=(gap, 0, 0))))
        in_left, out_left = sphere_probes(centre=(-gap, 0, 0), seed=4)
        in_right, out_right = sphere_probes(centre=(gap, 0, 0), seed=5)
        outside = np.concatenate([out_left, out_right])
        outside = outside[np.linalg.norm(outside - (gap, 0, 0), axis=1) > 1.02]  # not inside the other ball
        outside = outside[np.linalg.norm(outside + (gap, 0, 0), axis=1) > 1.02]
        with pytest.warns(UserWarning, match="1 of 2 parts inside out"):
            middle = [[0.0, 0.0, 0.0]]  # inside both balls when they overlap, outside both otherwise
            assert_signs(parts, np.concatenate([in_left, in_right] + ([middle] if gap < 1 else [])),
                         np.concatenate([outside] + ([middle] if gap > 1 else [])))


def test_nested_shells_follow_their_orientation():
    """A hollow ball (inner shell facing in, the STL/CAD convention): its cavity is outside, also when
    the whole file is inside out. An inner shell facing out is a second solid: all of it is inside."""
    d, rng = directions(300, 6), np.random.default_rng(7)
    cavity = d * rng.uniform(0.0, 0.45, 300)[:, None]
    wall = d * rng.uniform(0.55, 0.95, 300)[:, None]
    far = d * rng.uniform(1.05, 3.0, 300)[:, None]
    hollow = combine(sphere(1.0), reverse_faces(sphere(0.5)))
    assert_signs(hollow, wall, np.concatenate([cavity, far]))
    with pytest.warns(UserWarning, match="2 of 2 parts inside out"):
        assert_signs(reverse_faces(hollow), wall, np.concatenate([cavity, far]))
    assert_signs(combine(sphere(1.0), sphere(0.5)), np.concatenate([cavity, wall]), far)


def test_a_triangle_soup_inside_out_is_signed_right():
    """An STL-like mesh (no shared vertices) written inside out."""
    inside, outside = sphere_probes()
    with pytest.warns(UserWarning, match="inside out"):
        assert_signs(reverse_faces(triangle_soup(sphere())), inside, outside)


def test_distances_far_from_the_origin_keep_their_precision():
    """A unit sphere at x = 1e6: the winding number (float32 inside libigl) is taken about the mesh's centre."""
    centre = (1e6, 0.0, 0.0)
    inside, outside = sphere_probes(centre=centre)
    assert_signs(sphere(centre=centre), inside, outside)
    here = signed_distance(sphere(), np.concatenate(sphere_probes()))
    there = signed_distance(sphere(centre=centre), np.concatenate([inside, outside]))
    np.testing.assert_allclose(there, here, atol=1e-9)


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


DRAGON = shared_mesh("ChineseDragon-10kv.off")


@pytest.mark.skipif(DRAGON is None, reason="shared meshes not present (../shared/data or $AIRE_DATA)")
@pytest.mark.parametrize("inside_out", [False, True])
def test_real_scan_with_holes_has_outside_positive(inside_out):
    from aire.geometry.mesh_io import load_mesh

    dragon = load_mesh(DRAGON)
    assert not dragon.is_watertight
    lo, hi = dragon.bounds
    far = np.array([lo - (hi - lo), hi + (hi - lo), [lo[0] - 1, hi[1] + 1, 0.5 * (lo[2] + hi[2])]])
    # points pushed a little inward from face centres of large faces are inside for most faces
    big = np.argsort(dragon.area_faces)[-200:]
    step = 0.2 * np.sqrt(dragon.area_faces[big])[:, None]
    inward = dragon.triangles_center[big] - dragon.face_normals[big] * step
    mesh = reverse_faces(dragon) if inside_out else dragon
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert (signed_distance(mesh, far) > 0).all()
        assert (signed_distance(mesh, inward) < 0).mean() > 0.9
    assert any("inside out" in str(w.message) for w in caught) == inside_out
