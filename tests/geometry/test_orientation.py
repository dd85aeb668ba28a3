"""Orienting meshes as solids: what is repaired, what is left alone, and what the user is told."""

import warnings

import numpy as np
import pytest
import trimesh

from aire.geometry.orientation import orient_solid, oriented
from tests.geometry.shapes import combine, holed_sphere, reverse_faces, sphere, triangle_soup


def faces_out_from(mesh: trimesh.Trimesh, centre) -> np.ndarray:
    """Per face: does its normal point away from `centre` (outward for a sphere about it)?"""
    return np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center - np.asarray(centre)) > 0


def test_an_outward_mesh_is_left_exactly_as_it_is():
    for mesh in (sphere(), trimesh.creation.box(extents=(1.0, 2.0, 3.0)), holed_sphere()):
        out, report = orient_solid(mesh)
        assert np.array_equal(out.faces, mesh.faces) and np.array_equal(out.vertices, mesh.vertices)
        assert not report.changed and report.warning() is None


def test_an_inside_out_sphere_is_reversed_whole():
    ball = sphere()
    out, report = orient_solid(reverse_faces(ball))
    assert faces_out_from(out, (0, 0, 0)).all()
    assert out.volume == pytest.approx(ball.volume, rel=1e-12)
    assert (report.inverted_parts, report.inverted_faces, report.turned_faces) == (1, len(ball.faces), 0)
    assert report.single_body and report.changed


@pytest.mark.parametrize("fraction", [0.1, 0.45])
def test_faces_reversed_against_their_neighbours_are_turned_back(fraction):
    ball = sphere()
    out, report = orient_solid(reverse_faces(ball, fraction, seed=3))
    assert faces_out_from(out, (0, 0, 0)).all()
    assert report.turned_faces == round(fraction * len(ball.faces)) and report.inverted_parts == 0


def test_inside_out_with_some_faces_reversed():
    ball = sphere()
    out, report = orient_solid(reverse_faces(reverse_faces(ball), 0.1, seed=1))  # 90 % facing in
    assert faces_out_from(out, (0, 0, 0)).all()
    assert report.inverted_parts == 1 and report.turned_faces == round(0.1 * len(ball.faces))
    assert report.inverted_faces == len(ball.faces) - report.turned_faces


def test_separate_parts_each_face_out():
    left, right = sphere(centre=(-2, 0, 0)), sphere(centre=(2, 0, 0))
    out, report = orient_solid(combine(left, reverse_faces(right)))
    n = len(left.faces)
    assert faces_out_from(out, (-2, 0, 0))[:n].all() and faces_out_from(out, (2, 0, 0))[n:].all()
    assert (report.parts, report.closed_parts, report.inverted_parts) == (2, 2, 1)
    # overlapping parts too: the reversed one is turned out, so their overlap is inside both
    out, report = orient_solid(combine(sphere(centre=(-0.5, 0, 0)), reverse_faces(sphere(centre=(0.5, 0, 0)))))
    assert faces_out_from(out, (-0.5, 0, 0))[:n].all() and faces_out_from(out, (0.5, 0, 0))[n:].all()
    assert report.overlapping_parts == 2 and report.inverted_parts == 1


def test_nested_shells_follow_the_cavity_convention():
    """An inner shell facing in is a cavity (a hollow ball, as STL/CAD write it) and stays; a hollow ball
    written inside out gets back both its outside and its cavity; an inner shell facing out is a second
    solid and stays (no warning: nothing is impossible about it)."""
    outer, inner = sphere(1.0), sphere(0.5)
    n = len(outer.faces)
    hollow = combine(outer, reverse_faces(inner))
    out, report = orient_solid(hollow)
    assert np.array_equal(out.faces, hollow.faces) and not report.changed
    out, report = orient_solid(reverse_faces(hollow))
    assert faces_out_from(out, (0, 0, 0))[:n].all() and not faces_out_from(out, (0, 0, 0))[n:].any()
    assert report.inverted_parts == 2
    stacked = combine(outer, inner)
    out, report = orient_solid(stacked)
    assert np.array_equal(out.faces, stacked.faces) and report.stacked_parts == 1 and not report.changed


def test_a_hollow_ball_with_faces_reversed_keeps_its_cavity():
    """The faces reversed against their neighbours include the first one, where libigl's bfs_orient
    starts: still only they are turned, and the inner shell stays a cavity."""
    outer = sphere(1.0)
    faces = np.array(outer.faces)
    chosen = np.r_[0, np.random.default_rng(4).choice(np.arange(1, len(faces)), 300, replace=False)]
    faces[chosen] = faces[chosen, ::-1]
    hollow = combine(trimesh.Trimesh(outer.vertices, faces, process=False), reverse_faces(sphere(0.5)))
    out, report = orient_solid(hollow)
    n = len(faces)
    assert faces_out_from(out, (0, 0, 0))[:n].all() and not faces_out_from(out, (0, 0, 0))[n:].any()
    assert report.turned_faces == 301 and report.inverted_parts == 0


def test_a_triangle_soup_is_merged_before_orienting():
    ball = sphere(subdivisions=2)
    out, report = orient_solid(reverse_faces(triangle_soup(ball)))
    assert report.merged_vertices == 3 * len(ball.faces) - len(ball.vertices)
    assert (report.parts, report.closed_parts, report.inverted_parts) == (1, 1, 1)
    assert out.is_watertight and faces_out_from(out, (0, 0, 0)).all()


def test_an_open_scan_facing_in_is_reversed():
    scan = holed_sphere(hole_height=0.8)
    out, report = orient_solid(reverse_faces(scan))
    assert faces_out_from(out, (0, 0, 0)).all()
    assert report.inverted_parts == 1 and report.closed_parts == 0 and report.boundary_edges > 0


def moebius_strip(segments: int = 24) -> trimesh.Trimesh:
    """A triangulated Moebius strip: no orientation of its faces agrees across every edge."""
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    vertices = []
    for w in (-0.3, 0.3):
        vertices.append(np.stack([(1 + w * np.cos(t / 2)) * np.cos(t), (1 + w * np.cos(t / 2)) * np.sin(t),
                                  w * np.sin(t / 2)], axis=1))
    vertices = np.concatenate(vertices)
    faces = []
    for i in range(segments):
        a, b = i, segments + i
        if i + 1 < segments:
            c, d = i + 1, segments + i + 1
        else:  # the half twist: the far edge joins the start with its sides swapped
            c, d = segments, 0
        faces += [[a, c, b], [b, c, d]]
    return trimesh.Trimesh(vertices, np.array(faces), process=False)


def test_a_non_orientable_surface_is_reported():
    _, report = orient_solid(moebius_strip())
    assert report.inconsistent_edges >= 1 and not report.single_body
    assert "cannot be oriented consistently" in report.warning("strip.obj")


def test_the_warning_is_one_line_and_only_when_repaired():
    with pytest.warns(UserWarning) as caught:
        oriented(reverse_faces(sphere(), 0.1), "ball.stl")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message and message.startswith("ball.stl: ") and "128 of 1280 faces" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oriented(sphere(), "ball.stl")
