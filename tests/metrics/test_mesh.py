"""Chamfer distance, normal consistency, Hausdorff, F-score and IoU on shapes with known answers."""

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
    result = chamfer(empty, square(), samples=100)
    assert result.pop("fscore_threshold") == 0.01  # the setting stays recorded; every measured value is None
    assert all(v is None for v in result.values()) and "fscore" in result and "hausdorff" in result


def test_iou():
    a = np.zeros((4, 4, 4), bool)
    a[:2] = True
    b = np.zeros_like(a)
    b[1:3] = True
    assert iou(a, a) == 1.0
    assert iou(a, ~a) == 0.0
    assert iou(a, b) == 16 / 48
    assert iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_hausdorff_and_fscore_of_a_shifted_copy():
    """Every sample of one plane is `shift` off the other, plus at most a couple of in-plane spacings:
    Hausdorff is about the shift; the F-score is 1 with a threshold above that and 0 below the shift."""
    shift, n = 0.05, 20_000
    a, b = square(), square(z=shift)
    spacing = sampling_spacing(a.area, n)
    wide = chamfer(a, b, samples=n, fscore_threshold=shift + 4 * spacing)
    assert shift <= wide["hausdorff"] <= shift + 4 * spacing
    assert wide["fscore"] == wide["fscore_precision"] == wide["fscore_recall"] == 1.0
    assert wide["fscore_threshold"] == shift + 4 * spacing
    narrow = chamfer(a, b, samples=n, fscore_threshold=0.9 * shift)
    assert narrow["fscore"] == narrow["fscore_precision"] == narrow["fscore_recall"] == 0.0


def test_fscore_is_the_harmonic_mean_of_precision_and_recall_with_an_extra_piece():
    """A reconstruction with a far extra square of the same area: half its samples are far (precision about
    1/2), every reference sample is near (recall 1), F about 2/3; Hausdorff is the gap to the extra piece."""
    extra = square()
    extra.apply_translation([3.0, 0.0, 0.0])
    result = chamfer(trimesh.util.concatenate([square(), extra]), square(), samples=20_000, fscore_threshold=0.05)
    assert result["fscore_recall"] == 1.0 and abs(result["fscore_precision"] - 0.5) < 0.02
    p, r = result["fscore_precision"], result["fscore_recall"]
    assert math.isclose(result["fscore"], 2 * p * r / (p + r))
    # the extra square's far edge (x = 3.5) is 3 from the reference's nearest edge (x = 0.5)
    assert abs(result["hausdorff"] - 3.0) <= 2 * sampling_spacing(1.0, 10_000)


def test_an_open_scans_chamfer_is_dominated_by_the_cap_a_closed_reconstruction_adds():
    """The documented caveat for open scans, measured: a perfect closed reconstruction (the whole unit
    sphere) of a scan with its top cap missing (z above ~0.8 removed). Every scan sample lies on the sphere,
    so chamfer_l1_from_reference is the sampling floor; chamfer_l1_to_reference adds the cap: its area
    fraction (1 - z_rim) / 2 times the mean great-circle chord from a cap point down to the rim,
    mean over theta < theta0 of 2 sin((theta0 - theta) / 2), weighted by the area element sin(theta)."""
    from tests.geometry.shapes import holed_sphere

    scan, closed, n = holed_sphere(subdivisions=4), trimesh.creation.icosphere(subdivisions=4), 50_000
    result = chamfer(closed, scan, samples=n)
    assert not scan.is_watertight and closed.is_watertight
    assert result["chamfer_l1_from_reference"] <= sampling_spacing(closed.area, n)  # nothing of the scan is missed
    boundary = np.unique(scan.edges_sorted[trimesh.grouping.group_rows(scan.edges_sorted, require_count=1)])
    theta0 = math.acos(scan.vertices[boundary, 2].mean())
    theta = np.linspace(0.0, theta0, 20_001)
    chord = np.trapezoid(2 * np.sin((theta0 - theta) / 2) * np.sin(theta), theta) / np.trapezoid(np.sin(theta), theta)
    cap = (1 - math.cos(theta0)) / 2 * chord  # 0.10 of the area, 0.22 from the rim on average: 0.022
    excess = result["chamfer_l1_to_reference"] - result["chamfer_l1_from_reference"]
    assert math.isclose(excess, cap, rel_tol=0.2)
    assert result["chamfer_l1_to_reference"] > 3 * result["chamfer_l1_from_reference"]
    assert result["chamfer_l1"] > 2 * result["chamfer_l1_from_reference"]  # the cap dominates the symmetric mean
