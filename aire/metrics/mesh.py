"""Geometric metrics of a reconstruction against the ground-truth mesh (normalised frame).

Chamfer distance: N area-uniform samples on each surface, nearest neighbours both ways with a
k-d tree (scipy's cKDTree built with compact_nodes=False, balanced_tree=False: 14x faster on far
queries); reported as the mean of the two directions' mean L1 distance and mean squared
distance. Normal consistency: mean |cos| between each sample's face normal and its nearest
neighbour's, both ways. Hausdorff: the largest of those sample distances, both ways (the sampled
symmetric Hausdorff distance). F-score at a threshold tau (Tatarchenko et al., "What do single-view 3D
reconstruction networks learn?", CVPR 2019): precision = fraction of reconstruction samples within tau
of the reference, recall = fraction of reference samples within tau of the reconstruction,
F = 2PR / (P + R). IoU: of inside/outside occupancy on the same points.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from aire.geometry.sampling import surface_samples


def _tree(points: np.ndarray) -> cKDTree:
    return cKDTree(points, compact_nodes=False, balanced_tree=False)


#: default F-score threshold, in the units of the meshes (the SDF signal's normalised cube [-1, 1]^3:
#: 0.5 % of its side)
FSCORE_THRESHOLD = 0.01


def chamfer(reconstruction: trimesh.Trimesh, reference: trimesh.Trimesh, samples: int = 100_000,
            seed: int = 0, fscore_threshold: float = FSCORE_THRESHOLD) -> dict[str, float | None]:
    """chamfer_l1, chamfer_l2 (mean squared), each direction, normal_consistency, hausdorff, and fscore
    with its precision and recall (fscore_precision, fscore_recall: named apart from the training's
    numeric precision) at `fscore_threshold` (recorded as fscore_threshold); see the module.

    An empty reconstruction has no distances: every value is None (the threshold stays recorded)."""
    keys = ("chamfer_l1", "chamfer_l2", "chamfer_l1_to_reference", "chamfer_l1_from_reference", "normal_consistency",
            "hausdorff", "fscore", "fscore_precision", "fscore_recall")
    if not fscore_threshold > 0:
        raise ValueError(f"fscore_threshold must be positive, got {fscore_threshold}")
    if len(reconstruction.faces) == 0 or not reconstruction.area > 0:
        return {**dict.fromkeys(keys), "fscore_threshold": fscore_threshold}
    rec_pts, rec_nrm = surface_samples(reconstruction, samples, seed)
    ref_pts, ref_nrm = surface_samples(reference, samples, seed + 1)
    d_to, i_to = _tree(ref_pts).query(rec_pts, workers=-1)
    d_from, i_from = _tree(rec_pts).query(ref_pts, workers=-1)
    cos_to = np.abs(np.einsum("ij,ij->i", rec_nrm, ref_nrm[i_to]))
    cos_from = np.abs(np.einsum("ij,ij->i", ref_nrm, rec_nrm[i_from]))
    precision, recall = float((d_to <= fscore_threshold).mean()), float((d_from <= fscore_threshold).mean())
    return {
        "hausdorff": float(max(d_to.max(), d_from.max())),
        "fscore": 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall),
        "fscore_precision": precision,
        "fscore_recall": recall,
        "fscore_threshold": fscore_threshold,
        "chamfer_l1": float(0.5 * (d_to.mean() + d_from.mean())),
        "chamfer_l2": float(0.5 * ((d_to ** 2).mean() + (d_from ** 2).mean())),
        "chamfer_l1_to_reference": float(d_to.mean()),
        "chamfer_l1_from_reference": float(d_from.mean()),
        "normal_consistency": float(0.5 * (cos_to.mean() + cos_from.mean())),
    }


def iou(predicted: np.ndarray, reference: np.ndarray) -> float:
    """|A and B| / |A or B| of two boolean occupancy arrays (1.0 when both are empty)."""
    predicted, reference = np.asarray(predicted, bool), np.asarray(reference, bool)
    union = np.logical_or(predicted, reference).sum()
    return 1.0 if union == 0 else float(np.logical_and(predicted, reference).sum() / union)


def sampling_spacing(area: float, samples: int) -> float:
    """Typical distance between neighbouring samples of `samples` uniform points on `area`:
    the side of the square each sample owns, sqrt(area / samples)."""
    return math.sqrt(area / samples)
