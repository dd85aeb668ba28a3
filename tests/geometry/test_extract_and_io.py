"""Mesh extraction, the normalisation frame and mesh files."""

import math

import numpy as np
import pytest
import trimesh
from hypothesis import given, strategies as st

from aire.errors import InputError
from aire.geometry.extract import (connected_components, evaluate_grid, extract_mesh, keep_largest_component,
                                   marching_cubes, signed_volume)
from aire.geometry.mesh_io import Frame, load_mesh, write_mesh_atomic
from tests.geometry.shapes import SphereSDF


@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3), st.floats(1e-3, 1e3), st.floats(0.0, 0.5))
def test_frame_round_trips_and_fits_the_cube(centre, size, margin):
    rng = np.random.default_rng(0)
    points = np.asarray(centre) + size * rng.uniform(-1, 1, size=(50, 3))
    frame = Frame.fit(points, margin)
    normalised = frame.to_normalised(points)
    # (x - c) * s in floating point: the subtraction errs by up to eps (|x| + |c|), scaled by s, plus the
    # product's and the bounding box's own rounding (a few eps of the result)
    eps = np.finfo(np.float64).eps
    rounding = 2 * eps * (np.abs(points).max() + np.abs(frame.centre).max()) * frame.scale + 4 * eps
    assert np.abs(normalised).max() <= (1 - margin) + rounding
    np.testing.assert_allclose(frame.to_original(normalised), points, rtol=1e-12, atol=1e-12 * (np.abs(points).max() + size))


def test_sphere_extraction_is_closed_outward_and_the_right_size():
    radius, resolution = 0.6, 64
    mesh = extract_mesh(SphereSDF(radius), resolution)
    spacing = 2.0 / (resolution - 1)
    assert mesh.is_watertight and mesh.volume > 0
    radii = np.linalg.norm(mesh.vertices, axis=1)
    # marching cubes interpolates linearly along grid edges: vertices sit within a spacing of the sphere
    assert np.abs(radii - radius).max() < spacing
    assert math.isclose(mesh.volume, 4 / 3 * math.pi * radius ** 3, rel_tol=3 * spacing / radius)


def test_signed_volume_is_the_enclosed_volume_negative_when_the_faces_wind_inwards():
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0), transform=trimesh.transformations.translation_matrix((5, -2, 1)))
    assert math.isclose(signed_volume(box), 6.0, rel_tol=1e-12)
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.7)
    outward = signed_volume(sphere)
    assert outward > 0 and math.isclose(outward, sphere.volume, rel_tol=1e-12)  # trimesh's mass properties
    sphere.invert()
    assert math.isclose(signed_volume(sphere), -outward, rel_tol=1e-12)


def test_surface_cut_by_the_grid_boundary_is_closed():
    # a sphere larger than the cube: padding closes it on the boundary faces
    mesh = extract_mesh(SphereSDF(1.2), 24)
    assert len(mesh.faces) and mesh.is_watertight


def test_grid_evaluation_in_chunks_equals_one_pass():
    model = SphereSDF(0.5, centre=(0.1, -0.2, 0.05))
    whole = evaluate_grid(model, 20, chunk=1 << 20)
    chunked = evaluate_grid(model, 20, chunk=500)  # chunk smaller than one slab
    assert np.array_equal(whole, chunked)
    axis = np.linspace(-1, 1, 20)
    assert math.isclose(whole[3, 7, 11], np.linalg.norm([axis[3] - 0.1, axis[7] + 0.2, axis[11] - 0.05]) - 0.5, abs_tol=1e-6)


def test_no_level_set_gives_an_empty_mesh():
    assert len(marching_cubes(np.ones((8, 8, 8), np.float32)).faces) == 0


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".off", ".stl"])
def test_mesh_files_round_trip(tmp_path, suffix):
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    path = write_mesh_atomic(box, tmp_path / f"box{suffix}")
    back = load_mesh(path)
    assert math.isclose(back.volume, 6.0, rel_tol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_bad_meshes_are_one_line_errors(tmp_path):
    cases = {"empty.off": "", "garbage.ply": "this is not a mesh\x00\x01",
             "nofaces.off": "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n",
             "nan.off": "OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError) as info:
            load_mesh(tmp_path / name)
        assert "\n" not in str(info.value), name
    with pytest.raises(InputError, match="not found"):
        load_mesh(tmp_path / "missing.obj")


FAR_SPHERE_CENTRE = (1e6, 0.0, 0.0)  # a georeferenced scan's coordinates


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".off"])
def test_mesh_files_keep_float64_vertices_far_from_the_origin(tmp_path, suffix):
    """trimesh writes PLY as float32: a unit sphere at x = 1e6 came back with ~37 distinct x values."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    sphere.apply_translation(FAR_SPHERE_CENTRE)
    back = load_mesh(write_mesh_atomic(sphere, tmp_path / f"far{suffix}"))
    np.testing.assert_allclose(back.vertices, sphere.vertices, rtol=0, atol=2e-16 * 1e6)  # an ulp at 1e6
    assert np.array_equal(back.faces, sphere.faces)
    assert len(np.unique(back.vertices[:, 0])) == len(np.unique(sphere.vertices[:, 0])) > 600


@pytest.mark.parametrize("suffix", [".stl", ".glb"])
def test_float32_formats_are_refused_far_from_the_origin(tmp_path, suffix):
    sphere = trimesh.creation.icosphere(subdivisions=3)
    write_mesh_atomic(sphere, tmp_path / f"near{suffix}")  # at the origin float32 loses nothing visible
    sphere.apply_translation(FAR_SPHERE_CENTRE)
    with pytest.raises(InputError, match="float32") as info:
        write_mesh_atomic(sphere, tmp_path / f"far{suffix}")
    assert "\n" not in str(info.value) and ".ply, .obj or .off" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"near{suffix}"]


def _two_pieces() -> trimesh.Trimesh:
    big = trimesh.creation.icosphere(subdivisions=2)
    blob = trimesh.creation.icosphere(subdivisions=1, radius=0.2)
    blob.apply_translation([3.0, 0.0, 0.0])
    return trimesh.util.concatenate([blob, big])


def test_keep_largest_component_drops_the_small_blob_and_counts_it():
    kept, dropped = keep_largest_component(_two_pieces())
    assert dropped == 1 and len(kept.faces) == 320  # the subdivision-2 icosphere, not the 80-face blob
    np.testing.assert_allclose(kept.vertices.mean(axis=0), 0.0, atol=1e-9)
    assert [len(p.faces) for p in connected_components(_two_pieces())] == [320, 80]


def test_keep_largest_component_of_one_piece_is_the_mesh_itself():
    sphere = trimesh.creation.icosphere(subdivisions=1)
    kept, dropped = keep_largest_component(sphere)
    assert kept is sphere and dropped == 0
    assert connected_components(trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))) == []
