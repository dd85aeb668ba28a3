"""Chamfer distance, normal consistency and IoU on shapes with known answers."""

import math

import numpy as np
import trimesh

from aire.metrics.mesh import chamfer, iou, sampling_spacing


def square(side: float = 1.0, z: float = 0.0) -> trimesh.Trimesh:
    h = side / 2
    return trimesh.Trimesh([[-h, -h, z], [h, -h, z], [h, h, z], [-h, h, z]], [[0, 1, 2], [0, 2, 3]], process=False)


def test_chamfer_of_a_mesh_with_itself_is_zero():
    mesh = trimesh.creation.icosphere(subdivisions=3)
    # two independent sample sets of one surface: nearest neighbours within the spacing sqrt(area / N),
    # so the distance vanishes like 1/sqrt(N) (16x the samples: a quarter of the distance)
    coarse, fine = (chamfer(mesh, mesh.copy(), samples=n, seed=0) for n in (5_000, 80_000))
    assert fine["chamfer_l1"] <= sampling_spacing(mesh.area, 80_000)
    assert fine["chamfer_l1"] < coarse["chamfer_l1"] / 3
    assert fine["chamfer_l2"] <= sampling_spacing(mesh.area, 80_000) ** 2
    assert fine["normal_consistency"] > 0.99


def test_chamfer_of_a_shifted_copy_is_the_shift():
    shift, n = 0.05, 20_000
    a, b = square(), square(z=shift)
    result = chamfer(a, b, samples=n)
    # every sample of one plane is at least `shift` from the other; in-plane offsets to the nearest
    # sample average half the spacing (2-D Poisson), edges included well within 2 spacings
    assert shift <= result["chamfer_l1"] <= shift + 2 * sampling_spacing(a.area, n)
    assert shift ** 2 <= result["chamfer_l2"] <= (shift + 2 * sampling_spacing(a.area, n)) ** 2
    assert math.isclose(result["normal_consistency"], 1.0, rel_tol=1e-9)


def test_chamfer_of_an_empty_reconstruction_is_undefined():
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    assert all(v is None for v in chamfer(empty, square(), samples=100).values())


def test_iou():
    a = np.zeros((4, 4, 4), bool)
    a[:2] = True
    b = np.zeros_like(a)
    b[1:3] = True
    assert iou(a, a) == 1.0
    assert iou(a, ~a) == 0.0
    assert iou(a, b) == 16 / 48
    assert iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
