"""Cameras: intrinsics, rays of known cameras (centred and off-centre, anisotropic) hit the expected points;
ray-cube clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from aire.errors import InputError
from aire.signals.nerf.cameras import (Intrinsics, angle_from_focal, box_intersection, camera_rays, focal_from_angle,
                                       look_at, orbit_positions, sphere_positions)


def test_identity_camera_rays_pass_through_pixel_centres_on_the_z_minus_one_plane():
    h, w, f = 4, 6, 5.0
    origins, dirs = camera_rays(Intrinsics.pinhole(f, w, h), torch.eye(4))
    hits = dirs / -dirs[:, 2:3]  # scale each unit direction to reach z = -1
    for i in range(h):
        for j in range(w):
            expected = torch.tensor([(j + 0.5 - w / 2) / f, -(i + 0.5 - h / 2) / f, -1.0])
            assert torch.allclose(hits[i * w + j], expected, atol=1e-6)
    assert torch.equal(origins, torch.zeros_like(origins))
    assert torch.allclose(dirs.norm(dim=-1), torch.ones(h * w), atol=1e-6)


def test_camera_on_the_x_axis_sees_the_origin_in_the_image_centre_with_world_z_up():
    c2w = torch.as_tensor(look_at(np.array([4.0, 0.0, 0.0])))
    origins, dirs = camera_rays(Intrinsics.pinhole(10.0, 3, 3), c2w)
    assert torch.allclose(origins[4], torch.tensor([4.0, 0.0, 0.0]))
    assert torch.allclose(dirs[4], torch.tensor([-1.0, 0.0, 0.0]), atol=1e-6)  # centre pixel: straight at the origin
    # the top row looks up (+z world), the left column to the camera's left
    assert dirs[1, 2] > 0 and dirs[7, 2] < 0
    right = c2w[:3, 0].float()
    assert (dirs[3] @ right) < 0 < (dirs[5] @ right)


@given(st.floats(-math.pi, math.pi), st.floats(-1.4, 1.4), st.floats(2.0, 6.0),
       st.integers(0, 7), st.integers(0, 9))
def test_rays_hit_the_world_points_that_project_to_their_pixels(azimuth, elevation, radius, i, j):
    """A world point at depth t along pixel (i, j)'s ray projects back (pinhole model) to that pixel's centre."""
    h, w, f = 8, 10, 7.5
    pos = radius * np.array([math.cos(azimuth) * math.cos(elevation), math.sin(azimuth) * math.cos(elevation),
                             math.sin(elevation)])
    c2w = look_at(pos)
    origins, dirs = camera_rays(Intrinsics.pinhole(f, w, h), torch.as_tensor(c2w))
    point = (origins[i * w + j] + 1.7 * dirs[i * w + j]).double().numpy()
    cam = np.linalg.inv(c2w) @ np.append(point, 1.0)
    assert cam[2] < 0  # in front of the camera
    u, v = f * cam[0] / -cam[2] + w / 2, -f * cam[1] / -cam[2] + h / 2
    assert abs(u - (j + 0.5)) < 1e-3 and abs(v - (i + 0.5)) < 1e-3


def test_look_at_is_a_rigid_motion_facing_the_target():
    for pos in [*sphere_positions(20, 4.0), np.array([0.0, 0.0, 3.0]), np.array([0.0, 0.0, -3.0])]:
        c2w = look_at(pos)
        rot = c2w[:3, :3]
        assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(rot), 1.0)
        assert np.allclose(-rot[:, 2], -pos / np.linalg.norm(pos))  # looks down -z at the origin
        assert np.allclose(c2w[3], [0, 0, 0, 1])


def test_camera_spheres_and_orbits_have_the_requested_radius():
    assert np.allclose(np.linalg.norm(sphere_positions(13, 4.0, seed=3), axis=1), 4.0)
    orbit = orbit_positions(6, 2.0, elevation_deg=30.0)
    assert np.allclose(np.linalg.norm(orbit, axis=1), 2.0) and np.allclose(orbit[:, 2], 1.0)


def test_focal_and_angle_are_inverse():
    assert math.isclose(angle_from_focal(focal_from_angle(0.69, 200), 200), 0.69)
    assert math.isclose(focal_from_angle(math.pi / 2, 100), 50.0)


@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3), st.lists(st.floats(-1, 1), min_size=3, max_size=3),
       st.floats(0.5, 2.0))
@example([0.0, 0.0, -0.5], [0.0, 1.0, 0.0], 0.5)  # along the lower face
@example([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], 1.0)  # along the upper face: the same answer
def test_box_intersection_enters_and_leaves_on_the_cube_surface(origin, direction, bound):
    d = torch.tensor([direction], dtype=torch.float64)
    if d.norm() < 1e-3:
        return
    d = d / d.norm()
    o = torch.tensor([origin], dtype=torch.float64)
    near, far = box_intersection(o, d, bound)
    ts = torch.linspace(0, 10, 20001, dtype=torch.float64)
    # the closed cube [-bound, bound]^3 of the docstring: a ray that slides along a face (origin on the face, no
    # normal component) is inside it, as the slab method says (hypothesis found origin (0, 0, -0.5), direction
    # (0, 1, 0), bound 0.5: segment [0, 0.5]; the open cube would give none, a difference of measure zero)
    inside = ((o + ts[:, None] * d).abs() <= bound).all(dim=-1)
    if not inside.any():
        assert far.item() - near.item() < 1e-3
        return
    step = 10 / 20000
    assert abs(ts[inside].min().item() - near.item()) <= step + 1e-9
    assert abs(ts[inside].max().item() - far.item()) <= step + 1e-9


def test_off_centre_anisotropic_rays_match_hand_computed_directions():
    """Pixel (i, j) looks along ((j + 0.5 - cx) / fx, -(i + 0.5 - cy) / fy, -1), rotated by c2w."""
    k = Intrinsics(fx=4.0, fy=8.0, cx=1.0, cy=3.5, width=5, height=4)
    _, dirs = camera_rays(k, torch.eye(4))
    # pixel (2, 3): ((3.5 - 1) / 4, -(2.5 - 3.5) / 8, -1) = (0.625, 0.125, -1)
    expected = torch.tensor([0.625, 0.125, -1.0]) / math.sqrt(0.625 ** 2 + 0.125 ** 2 + 1.0)
    assert torch.allclose(dirs[2 * 5 + 3], expected, atol=1e-7)
    # pixel (0, 0): ((0.5 - 1) / 4, -(0.5 - 3.5) / 8, -1) = (-0.125, 0.375, -1)
    expected = torch.tensor([-0.125, 0.375, -1.0]) / math.sqrt(0.125 ** 2 + 0.375 ** 2 + 1.0)
    assert torch.allclose(dirs[0], expected, atol=1e-7)
    # a camera at (0, 0, 3) turned 90 degrees about world z: camera x -> world y, camera y -> world -x
    c2w = torch.tensor([[0.0, -1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 3.0], [0.0, 0.0, 0.0, 1.0]])
    origins, dirs = camera_rays(k, c2w)
    expected = torch.tensor([-0.125, 0.625, -1.0]) / math.sqrt(0.625 ** 2 + 0.125 ** 2 + 1.0)
    assert torch.allclose(dirs[2 * 5 + 3], expected, atol=1e-7)
    assert torch.equal(origins[7], torch.tensor([0.0, 0.0, 3.0]))


def test_a_centred_pinhole_gives_exactly_the_single_focal_rays():
    """Blender's camera (fx = fy = focal, cx = W/2, cy = H/2) is computed exactly as before intrinsics."""
    h, w, f = 5, 7, 6.25
    i, j = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    old = torch.stack([(j + 0.5 - 0.5 * w) / f, -(i + 0.5 - 0.5 * h) / f, -torch.ones_like(i)], dim=-1).reshape(-1, 3)
    c2w = torch.as_tensor(look_at(np.array([1.0, -2.0, 3.0])), dtype=torch.float32)
    old = old @ c2w[:3, :3].T
    old = old / old.norm(dim=-1, keepdim=True)
    assert torch.equal(camera_rays(Intrinsics.pinhole(f, w, h), c2w)[1], old)


@given(st.floats(2.0, 20.0), st.floats(2.0, 20.0), st.floats(0.0, 10.0), st.floats(0.0, 8.0),
       st.integers(0, 7), st.integers(0, 9))
def test_anisotropic_off_centre_rays_project_back_to_their_pixel_centres(fx, fy, cx, cy, i, j):
    k = Intrinsics(fx, fy, cx, cy, 10, 8)
    c2w = look_at(np.array([2.0, -3.0, 1.5]))
    origins, dirs = camera_rays(k, torch.as_tensor(c2w))
    point = (origins[i * 10 + j] + 2.5 * dirs[i * 10 + j]).double().numpy()
    cam = np.linalg.inv(c2w) @ np.append(point, 1.0)
    u, v = fx * cam[0] / -cam[2] + cx, -fy * cam[1] / -cam[2] + cy
    assert cam[2] < 0 and abs(u - (j + 0.5)) < 2e-3 and abs(v - (i + 0.5)) < 2e-3


def test_intrinsics_validate_their_fields_and_resize_each_axis():
    with pytest.raises(InputError, match="fx must be a positive number"):
        Intrinsics(0.0, 1.0, 1.0, 1.0, 4, 4)
    with pytest.raises(InputError, match="fy must be a positive number"):
        Intrinsics(1.0, float("nan"), 1.0, 1.0, 4, 4)
    with pytest.raises(InputError, match="width must be an integer >= 1"):
        Intrinsics(1.0, 1.0, 1.0, 1.0, 0, 4)
    with pytest.raises(InputError, match=r"cy = 4.5 lies outside the image \[0, 4\]"):
        Intrinsics(1.0, 1.0, 1.0, 4.5, 4, 4)
    k = Intrinsics(10.0, 12.0, 3.0, 2.5, 8, 6).resized(4, 3)
    assert k == Intrinsics(5.0, 6.0, 1.5, 1.25, 4, 3)
    assert Intrinsics(9.0, 9.0, 8.0, 6.0, 8, 6).resized(3, 2) == Intrinsics(3.375, 3.0, 3.0, 2.0, 3, 2)
    assert Intrinsics.pinhole(5.0, 8, 6) == Intrinsics(5.0, 5.0, 4.0, 3.0, 8, 6)
