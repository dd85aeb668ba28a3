"""Tiny generated scenes shared by the NeRF and scene-maker tests: an icosphere rendered by make_scene, in the
Blender dialect and, as its twin with the same images and cameras, in the nerfstudio dialect."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sphere_mesh(tmp_path_factory):
    """An icosphere of radius 0.8 written as a PLY file."""
    import trimesh

    path = tmp_path_factory.mktemp("mesh") / "sphere.ply"
    trimesh.creation.icosphere(subdivisions=3, radius=0.8).export(path)
    return path


@pytest.fixture(scope="session")
def tiny_scene(sphere_mesh, tmp_path_factory):
    """8 training, 2 val, 3 test views of 24x24 of the textured sphere."""
    from aire.scenes.make_scene import make_scene

    return make_scene(sphere_mesh, tmp_path_factory.mktemp("scenes") / "sphere", views=8, size=24, val_views=2,
                      test_views=3)


@pytest.fixture(scope="session")
def tiny_scene_nerfstudio(sphere_mesh, tmp_path_factory):
    """tiny_scene's twin written as one transforms.json (fl_x, fl_y, cx, cy, w, h and split lists)."""
    from aire.scenes.make_scene import make_scene

    return make_scene(sphere_mesh, tmp_path_factory.mktemp("scenes") / "sphere-ns", views=8, size=24, val_views=2,
                      test_views=3, format="nerfstudio")
